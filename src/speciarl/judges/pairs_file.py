"""Reading (ground truth, prediction) pairs from JSONL or CSV, and writing judgements as JSONL."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speciarl.answer import ParsedAnswer, has_answer_tags
from speciarl.atomic import atomic_write
from speciarl.judges.base import Judgement, Pair

REQUIRED_FIELDS = ("ground_truth", "prediction")


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


def write_judgements(
    path: str | Path,
    records: Sequence[dict[str, Any]],
    judgements: Sequence[Judgement],
    answers: Sequence[ParsedAnswer] | None = None,
) -> None:
    """One JSON line per record, in order: its fields plus ``verdict``, ``judge`` and ``cached``;
    with ``answers`` (the predictions were raw completions) also the extracted ``answer`` and
    its ``answer_status`` (``ok`` or the format failure)."""
    if len(records) != len(judgements):
        raise ValueError(f"{len(records)} records but {len(judgements)} judgements")
    if answers is not None and len(answers) != len(records):
        raise ValueError(f"{len(records)} records but {len(answers)} extracted answers")
    with atomic_write(path) as stream:
        for index, (record, judgement) in enumerate(zip(records, judgements, strict=True)):
            row = {**record}
            if answers is not None:
                row["answer"] = answers[index].text
                row["answer_status"] = answers[index].status.value
            row["verdict"] = None if judgement.verdict is None else judgement.verdict.value
            row["judge"] = judgement.judge
            row["cached"] = judgement.cached
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
