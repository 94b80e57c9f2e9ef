"""A manifest table (CSV, JSON Lines, or a JSON list of objects): one row per image, naming its
file and its label, and optionally its split.

Every problem in the table itself (a missing column, an empty label, a malformed line) is an
error naming the file, the line and the column, found before any image is read. A listed image
that is not there is not such a problem: it becomes a sample whose read fails, so that a build
lists it by sample id with the other unreadable images instead of refusing the whole table.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from speciarl.data.errors import DatasetError
from speciarl.data.own.labels import checked_label, checked_split_name, clean_text_label
from speciarl.data.own.reference import Reference
from speciarl.data.own.source import Item, OwnDataset, make_dataset, split_items
from speciarl.data.sample import file_reader

IMAGE_COLUMNS = ("image", "path", "file", "filename", "image_path", "filepath")
LABEL_COLUMNS = ("label", "class", "class_name", "category", "species")
SPLIT_COLUMN = "split"
TABLE_SUFFIXES = (".csv", ".jsonl", ".json")

Row = tuple[str, dict[str, object]]
"""Where a row is (``line 7``, ``item 3``) and its values by column."""


def pick_column(
    columns: Sequence[str],
    named: str | None,
    candidates: Sequence[str],
    what: str,
    option: str,
    where: str,
) -> str:
    """The column ``named`` by an option, else the first candidate the table has."""
    if named is not None:
        if named not in columns:
            raise DatasetError(
                f"{where}: no column {named!r} (option {option}={named}); columns: "
                f"{', '.join(columns) or 'none'}"
            )
        return named
    for candidate in candidates:
        if candidate in columns:
            return candidate
    raise DatasetError(
        f"{where}: no {what} column; expected one of {', '.join(candidates)}, or name it with "
        f"?{option}=COLUMN (columns: {', '.join(columns) or 'none'})"
    )


def load_table(path: Path, reference: Reference, name: str) -> OwnDataset:
    """The manifest's rows as items; relative image paths are taken from the file's folder."""
    options = reference.options
    columns, rows = _read(path)
    where = str(path)
    image_column = pick_column(columns, options.image, IMAGE_COLUMNS, "image", "image", where)
    label_column = pick_column(columns, options.label, LABEL_COLUMNS, "label", "label", where)
    split_column = None
    if options.split is not None or SPLIT_COLUMN in columns:
        split_column = pick_column(columns, options.split, (SPLIT_COLUMN,), "split", "split", where)
    items = []
    for at, row in rows:
        here = f"{path} {at}"
        file = _text(row, image_column, here)
        raw = _text(row, label_column, here)
        label = checked_label(clean_text_label(raw), raw, f"{here}, column {label_column!r}")
        split = None
        if split_column is not None:
            split = checked_split_name(
                _text(row, split_column, here), f"{here}, column {split_column!r}"
            )
        image = Path(file).expanduser()
        if not image.is_absolute():
            image = path.parent / image
        items.append(Item(raw, label, file_reader(image), str(image), split))
    samples, note = split_items(name, items, options, reference.text)
    columns_used = f"image column {image_column!r}, label column {label_column!r}"
    if split_column is not None:
        columns_used += f", split column {split_column!r}"
    return make_dataset(
        name,
        reference.text,
        f"manifest table {path} ({columns_used}), {note}",
        samples,
        fallback_clean=clean_text_label,
    )


def _text(row: dict[str, object], column: str, where: str) -> str:
    """A cell as text: a string or a whole number; missing, empty or other values are errors."""
    value = row.get(column)
    if isinstance(value, bool) or not isinstance(value, str | int):
        if value is None:
            raise DatasetError(f"{where}: no value in column {column!r}")
        raise DatasetError(
            f"{where}: column {column!r} holds {type(value).__name__} {value!r}, not text"
        )
    text = str(value).strip()
    if not text:
        raise DatasetError(f"{where}: empty value in column {column!r}")
    return text


def _read(path: Path) -> tuple[list[str], list[Row]]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path)
        rows = list(_read_jsonl(path) if suffix == ".jsonl" else _read_json(path))
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not UTF-8 text ({error})") from None
    columns = list(dict.fromkeys(column for _, row in rows for column in row))
    return columns, rows


def _read_csv(path: Path) -> tuple[list[str], list[Row]]:
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        try:
            header = next(reader)
        except StopIteration:
            raise DatasetError(f"{path}: empty file (expected a header line)") from None
        except csv.Error as error:
            raise DatasetError(f"{path} line 1: malformed CSV ({error})") from None
        header = [column.strip() for column in header]
        rows: list[Row] = []
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                raise DatasetError(
                    f"{path} line {reader.line_num}: malformed CSV ({error})"
                ) from None
            if not any(value.strip() for value in values):
                continue  # a blank line
            if len(values) != len(header):
                raise DatasetError(
                    f"{path} line {reader.line_num}: {len(values)} fields, but the header has "
                    f"{len(header)} ({', '.join(header)})"
                )
            rows.append((f"line {reader.line_num}", dict(zip(header, values, strict=True))))
    return header, rows


def _read_jsonl(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8-sig") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DatasetError(f"{path} line {number}: not JSON ({error.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{path} line {number}: expected a JSON object")
            yield f"line {number}", row


def _read_json(path: Path) -> Iterator[Row]:
    try:
        rows = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path} line {error.lineno}: not JSON ({error.msg})") from None
    if not isinstance(rows, list):
        raise DatasetError(f"{path}: expected a JSON list of objects, one per image")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise DatasetError(f"{path} item {number}: expected a JSON object")
        yield f"item {number}", row
