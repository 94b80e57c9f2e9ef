"""Labelled answers: (ground truth, prediction) pairs with the verdict a careful person gives.

``speciarl judge-eval`` measures judges against them, so a wrong row makes a right judge look
wrong: reading is strict, and every error names the file and the line. The shipped set is one
JSONL file per dataset in ``speciarl/data/labelled_answers/``, named by the dataset (the file's
stem is the dataset); each line holds exactly the keys of :data:`LABELLED_KEYS`. The format and
the rules for writing rows are in ``docs/judge-eval.md``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from speciarl.judges.base import Pair
from speciarl.verdict import VERDICTS, Verdict

LABELLED_KEYS = ("ground_truth", "prediction", "verdict", "reason")
"""The keys of every line, exactly these."""

_CANONICAL = {verdict.value: verdict for verdict in VERDICTS}


class LabelledAnswersError(ValueError):
    """A labelled-answers file that breaks the format; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class LabelledAnswer:
    """One labelled pair and why its verdict is right."""

    ground_truth: str
    prediction: str
    verdict: Verdict
    reason: str
    line: int
    """Line number in its file, for messages that point a person at the row."""

    @property
    def pair(self) -> Pair:
        return Pair(self.ground_truth, self.prediction)


@dataclass(frozen=True)
class LabelledSet:
    """The labelled answers of one file: one dataset's."""

    dataset: str
    """The file's stem: a shipped dataset's name, or any name for a file of one's own."""
    source: str
    """Where the rows were read from, for messages and reports."""
    answers: tuple[LabelledAnswer, ...]


def read_labelled(path: str | os.PathLike[str]) -> LabelledSet:
    """The labelled answers of a ``.jsonl`` file, validated (see :func:`parse_labelled`)."""
    path = Path(path)
    if not path.is_file():
        raise LabelledAnswersError(f"{path}: no such file")
    if path.suffix.lower() != ".jsonl":
        raise LabelledAnswersError(f"{path}: labelled answers are a .jsonl file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise LabelledAnswersError(f"{path}: not UTF-8 text ({error.reason})") from None
    return parse_labelled(text, source=str(path), dataset=path.stem)


def parse_labelled(text: str, *, source: str, dataset: str) -> LabelledSet:
    """Validate and read the lines of a labelled file of ``dataset``.

    Each non-blank line is a JSON object with exactly the four keys; ``ground_truth`` and
    ``prediction`` are non-empty strings, ``verdict`` a canonical verdict string, ``reason`` one
    non-empty line; no (ground truth, prediction) pair appears twice. When ``dataset`` is a shipped
    dataset, every ground truth must be one of its labels as speciarl cleans them.
    """
    labels = dataset_labels(dataset)
    answers: list[LabelledAnswer] = []
    first_line: dict[tuple[str, str], int] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        answer = _answer(_object(line, where), where, number)
        if labels is not None and answer.ground_truth not in labels:
            raise LabelledAnswersError(
                f"{where}: ground_truth {answer.ground_truth!r} is not a label of {dataset} "
                "(labels as speciarl cleans them: lower case, as in data/classnames)"
            )
        key = (answer.ground_truth, answer.prediction)
        if key in first_line:
            raise LabelledAnswersError(
                f"{where}: the pair ({answer.ground_truth!r}, {answer.prediction!r}) is already "
                f"on line {first_line[key]}"
            )
        first_line[key] = number
        answers.append(answer)
    if not answers:
        raise LabelledAnswersError(f"{source}: no labelled answers")
    return LabelledSet(dataset=dataset, source=source, answers=tuple(answers))


def _object(line: str, where: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise LabelledAnswersError(f"{where}: not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise LabelledAnswersError(f"{where}: expected a JSON object")
    missing = [key for key in LABELLED_KEYS if key not in record]
    extra = sorted(key for key in record if key not in LABELLED_KEYS)
    if missing or extra:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"unknown {', '.join(extra)}"] if extra else []
        raise LabelledAnswersError(
            f"{where}: keys must be exactly {', '.join(LABELLED_KEYS)} ({'; '.join(problems)})"
        )
    for key in LABELLED_KEYS:
        value = record[key]
        if not isinstance(value, str):
            kind = type(value).__name__
            raise LabelledAnswersError(f"{where}: {key} must be a string, got {kind}")
        if not value.strip():
            raise LabelledAnswersError(f"{where}: {key} is empty")
    return record


def _answer(record: dict[str, Any], where: str, number: int) -> LabelledAnswer:
    verdict = _CANONICAL.get(record["verdict"])
    if verdict is None:
        allowed = ", ".join(repr(value) for value in _CANONICAL)
        raise LabelledAnswersError(
            f"{where}: verdict {record['verdict']!r} is not one of {allowed} (written exactly)"
        )
    reason = record["reason"]
    if len(reason.splitlines()) != 1:
        raise LabelledAnswersError(f"{where}: reason must be one line")
    return LabelledAnswer(
        ground_truth=record["ground_truth"],
        prediction=record["prediction"],
        verdict=verdict,
        reason=reason,
        line=number,
    )


def dataset_labels(dataset: str) -> frozenset[str] | None:
    """The labels of a shipped dataset as speciarl cleans them; ``None`` for any other name."""
    from speciarl.data.registry import REGISTRY

    spec = REGISTRY.get(dataset)
    if spec is None:
        return None
    return frozenset(spec.clean_label(class_id) for class_id in spec.class_ids())


def shipped_labelled_datasets() -> list[str]:
    """The datasets whose labelled answers ship with speciarl, in name order."""
    return [name for name, _ in _shipped_files()]


def read_shipped_labelled() -> list[LabelledSet]:
    """Every shipped labelled file, validated, in dataset name order."""
    return [
        parse_labelled(item.read_text(encoding="utf-8"), source=str(item), dataset=name)
        for name, item in _shipped_files()
    ]


def _shipped_files() -> list[tuple[str, Any]]:
    folder = files("speciarl") / "data" / "labelled_answers"
    if not folder.is_dir():
        return []
    found = [
        (item.name.removesuffix(".jsonl"), item)
        for item in folder.iterdir()
        if item.name.endswith(".jsonl") and item.is_file()
    ]
    return sorted(found, key=lambda entry: entry[0])
