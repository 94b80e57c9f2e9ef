"""Reading (ground truth, prediction) pairs from JSONL or CSV, and writing judgements as JSONL.

Judgements are written chunk by chunk as they arrive (:func:`append_rows`, each chunk one write
then fsync), which makes a run resumable: :func:`finished_rows` reads back the rows a killed run
left, after checking they belong to the same pairs.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from speciarl.answer import AnswerStatus, ParsedAnswer, has_answer_tags
from speciarl.atomic import append_json_lines, exclusive_lock
from speciarl.judges.base import Judgement, Pair
from speciarl.verdict import Verdict

REQUIRED_FIELDS = ("ground_truth", "prediction")
JUDGEMENT_FIELDS = ("verdict", "judge", "cached")
CHUNK_SIZE = 256
"""Pairs per judge call when writing as results arrive: what a crash can cost at most."""
_VERDICT_VALUES = frozenset(verdict.value for verdict in Verdict)
_STATUS_VALUES = frozenset(status.value for status in AnswerStatus)


class PairsFileError(ValueError):
    """Raised when a pairs file cannot be read; the message names the file and line."""


def read_pair_records(path: str | Path) -> list[dict[str, Any]]:
    """All records of a ``.jsonl`` or ``.csv`` file, each with string ``ground_truth`` and
    ``prediction`` fields; other fields are kept so they can travel to the output."""
    path = Path(path)
    if not path.is_file():
        raise PairsFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = _read_jsonl(path)
    elif suffix == ".csv":
        records = _read_csv(path)
    else:
        raise PairsFileError(f"{path}: unknown pairs format {suffix!r}; use .jsonl or .csv")
    for line, record in records:
        for field in REQUIRED_FIELDS:
            if field not in record:
                raise PairsFileError(f"{path}:{line}: missing field {field!r}")
            if not isinstance(record[field], str):
                kind = type(record[field]).__name__
                raise PairsFileError(f"{path}:{line}: field {field!r} must be a string, got {kind}")
    return [record for _, record in records]


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    records = []
    with path.open(encoding="utf-8") as stream:
        for line_number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise PairsFileError(
                    f"{path}:{line_number}: not valid JSON ({error.msg})"
                ) from None
            if not isinstance(record, dict):
                raise PairsFileError(f"{path}:{line_number}: expected a JSON object")
            records.append((line_number, record))
    return records


def _read_csv(path: Path) -> list[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.DictReader(stream)
        missing = [field for field in REQUIRED_FIELDS if field not in (reader.fieldnames or [])]
        if missing:
            raise PairsFileError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
        records = []
        for record in reader:
            if None in record:
                raise PairsFileError(f"{path}:{reader.line_num}: more values than header columns")
            records.append((reader.line_num, dict(record)))
    return records


def pairs_of(records: Sequence[dict[str, Any]]) -> list[Pair]:
    return [Pair(record["ground_truth"], record["prediction"]) for record in records]


def holds_raw_completions(records: Sequence[dict[str, Any]]) -> bool:
    """Whether any prediction carries ``<think>``/``<answer>`` tags: the file holds a policy's
    raw completions, whose answers must be extracted before a judge sees them."""
    return any(has_answer_tags(record["prediction"]) for record in records)


def judgement_rows(
    records: Sequence[dict[str, Any]],
    judgements: Sequence[Judgement],
    answers: Sequence[ParsedAnswer] | None = None,
) -> list[dict[str, Any]]:
    """One output row per record, in order: its fields plus ``verdict``, ``judge`` and ``cached``;
    with ``answers`` (the predictions were raw completions) also the extracted ``answer`` and
    its ``answer_status`` (``ok`` or the format failure)."""
    if len(records) != len(judgements):
        raise ValueError(f"{len(records)} records but {len(judgements)} judgements")
    if answers is not None and len(answers) != len(records):
        raise ValueError(f"{len(records)} records but {len(answers)} extracted answers")
    rows = []
    for index, (record, judgement) in enumerate(zip(records, judgements, strict=True)):
        row = {**record}
        if answers is not None:
            row["answer"] = answers[index].text
            row["answer_status"] = answers[index].status.value
        row["verdict"] = None if judgement.verdict is None else judgement.verdict.value
        row["judge"] = judgement.judge
        row["cached"] = judgement.cached
        rows.append(row)
    return rows


def append_rows(path: str | Path, rows: Sequence[dict[str, Any]]) -> None:
    """Add whole rows durably, so a killed process leaves every chunk it finished."""
    append_json_lines(Path(path), rows)


def exclusive_output(path: str | Path) -> AbstractContextManager[None]:
    """Only one process appends to ``path`` at a time (two would write rows twice). Creates it."""
    return exclusive_lock(Path(path), str(path))


def finished_rows(
    path: str | Path, records: Sequence[dict[str, Any]], *, extracting: bool
) -> tuple[list[dict[str, Any]], bool]:
    """The rows an earlier run already wrote to ``path`` for ``records``, and whether a cut-off
    last line (a write interrupted by a power cut) was removed from the file.

    Row ``i`` must carry the ground truth and prediction of record ``i`` and have been judged
    the same way (with or without answer extraction); otherwise the file belongs to another
    input and :class:`PairsFileError` says to pass another output or delete it.
    """
    path = Path(path)
    if not path.is_file():
        return [], False
    data = path.read_bytes()
    torn = bool(data) and not data.endswith(b"\n")
    if torn:
        data = data[: data.rfind(b"\n") + 1]
        os.truncate(path, len(data))
    advice = "pass another --out or delete it"
    rows: list[dict[str, Any]] = []
    for index, line in enumerate(data.decode("utf-8", errors="replace").splitlines()):
        where = f"{path}:{index + 1}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        fields = (*REQUIRED_FIELDS, *JUDGEMENT_FIELDS)
        if not (
            isinstance(row, dict)
            and all(field in row for field in fields)
            and (row["verdict"] is None or row["verdict"] in _VERDICT_VALUES)
            and row.get("answer_status", AnswerStatus.OK.value) in _STATUS_VALUES
        ):
            raise PairsFileError(f"{where} is not a judgement row of speciarl judge; {advice}")
        if index >= len(records):
            raise PairsFileError(
                f"{path} holds more rows than the {len(records)} pairs given: "
                f"it was written for other pairs; {advice}"
            )
        record = records[index]
        if any(row[field] != record[field] for field in REQUIRED_FIELDS):
            raise PairsFileError(
                f"{where} judged ({row['ground_truth']!r}, {row['prediction']!r}), not pair "
                f"{index + 1} ({record['ground_truth']!r}, {record['prediction']!r}): "
                f"it was written for other pairs; {advice}"
            )
        if ("answer_status" in row) != extracting:
            done = "with" if "answer_status" in row else "without"
            raise PairsFileError(
                f"{path} was judged {done} answer extraction and this run is not; give the same "
                f"--extract-answer/--no-extract-answer as before, or {advice}"
            )
        rows.append(row)
    return rows, torn


def judgements_of(
    rows: Sequence[dict[str, Any]],
) -> tuple[list[Judgement], list[ParsedAnswer] | None]:
    """The judgements written in ``rows``, and the extracted answers when they hold some."""
    judgements = [
        Judgement(
            None if row["verdict"] is None else Verdict(row["verdict"]),
            row["judge"],
            bool(row["cached"]),
        )
        for row in rows
    ]
    if not rows or "answer_status" not in rows[0]:
        return judgements, None
    answers = [ParsedAnswer(AnswerStatus(row["answer_status"]), row["answer"]) for row in rows]
    return judgements, answers
