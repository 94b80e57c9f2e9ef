"""Append-only JSONL stores keyed by (sample_id, prediction_index): crash-safe and resumable.

Every append is one ``write`` of whole lines followed by fsync, so a killed run leaves complete
lines only; a restart reads what is there and does the rest. A line that is not a valid record
(a torn write after a power cut, a hand edit) is never skipped silently: loading stops with its
file and line number, and ``repair`` moves such lines to ``<file>.corrupt`` before going on.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from speciarl.atomic import append_json_lines, atomic_write, exclusive_lock

Key = tuple[str, int]


class CorruptRecordError(ValueError):
    """A store holds a line that is not a valid record; the message names file and line."""


class RecordStore:
    """Records with at least ``sample_id`` (str), ``prediction_index`` (int) and ``required``."""

    def __init__(self, path: Path, required: Sequence[str] = ()) -> None:
        self.path = path
        self.required = ("sample_id", "prediction_index", *required)

    def load(self, *, repair: bool = False) -> dict[Key, dict[str, Any]]:
        """Every record by key, in file order; the first record of a key wins."""
        if not self.path.is_file():
            return {}
        records: dict[Key, dict[str, Any]] = {}
        corrupt: list[tuple[int, str, str]] = []
        raw = self.path.read_bytes().decode("utf-8", errors="replace")
        lines = raw.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        elif lines:
            corrupt.append((len(lines), lines[-1], "the last line is cut off"))
            lines.pop()
        for number, line in enumerate(lines, start=1):
            problem = self._problem(line)
            if problem is not None:
                corrupt.append((number, line, problem))
                continue
            record = json.loads(line)
            records.setdefault((record["sample_id"], record["prediction_index"]), record)
        if corrupt and not repair:
            number, _, problem = corrupt[0]
            raise CorruptRecordError(
                f"{self.path}:{number}: {problem} ({len(corrupt)} bad line(s) in all); "
                "rerun with --repair to move bad lines aside and redo those items"
            )
        if corrupt:
            self._quarantine(corrupt, records)
        return records

    def _problem(self, line: str) -> str | None:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            return f"not JSON ({error.msg})"
        if not isinstance(record, dict):
            return "not a JSON object"
        missing = [field for field in self.required if field not in record]
        if missing:
            return f"missing {', '.join(missing)}"
        if not isinstance(record["sample_id"], str) or type(record["prediction_index"]) is not int:
            return "sample_id must be a string and prediction_index an integer"
        return None

    def _quarantine(
        self, corrupt: list[tuple[int, str, str]], records: dict[Key, dict[str, Any]]
    ) -> None:
        """Keep the bad lines in ``<file>.corrupt`` and rewrite the store without them."""
        with Path(f"{self.path}.corrupt").open("a", encoding="utf-8") as stream:
            for number, line, problem in corrupt:
                stream.write(json.dumps({"line": number, "problem": problem, "text": line}) + "\n")
        with atomic_write(self.path) as stream:
            for record in records.values():
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")

    def append(self, records: Sequence[dict[str, Any]]) -> None:
        """Add whole records durably: one write of complete lines, then fsync."""
        append_json_lines(self.path, records)


def exclusive(folder: Path) -> AbstractContextManager[None]:
    """Only one process works in an evaluation folder at a time (two would duplicate work)."""
    return exclusive_lock(folder / ".lock", str(folder))
