"""Any ``datasets`` table as user data: a Hub dataset, its local copy, a ``save_to_disk`` folder
or a Parquet file that is not in our built layout.

Columns are found as for the shipped Hub copies (:mod:`speciarl.data.hub`): the image column is
the one ``Image`` column, the label column the one ``ClassLabel`` column; where a table has
neither, the usual column names are tried, and options name them outright. Images are read with
``decode=False``, one row at a time when a sample asks, so the original bytes are kept and a
large dataset is not held in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from speciarl.data.errors import DatasetError
from speciarl.data.hub import feature_columns, image_reader
from speciarl.data.own.labels import checked_label, checked_split_name, clean_text_label
from speciarl.data.own.reference import Reference
from speciarl.data.own.source import Item, OwnDataset, make_dataset, split_items
from speciarl.data.own.table import IMAGE_COLUMNS, LABEL_COLUMNS, SPLIT_COLUMN, pick_column

SAVED_MARKERS = ("dataset_dict.json", "state.json")
"""What ``datasets``' ``save_to_disk`` leaves in a folder (a DatasetDict, a Dataset)."""


def is_saved_folder(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in SAVED_MARKERS)


def load_hub_reference(reference: Reference, name: str) -> OwnDataset:
    """``hub:ID``: a Hub id, a local copy's folder, or a ``save_to_disk`` folder."""
    import datasets

    hub_id = reference.hub_id
    local = Path(hub_id).expanduser()
    if local.is_dir() and is_saved_folder(local):
        return load_saved_folder(local, reference, name)
    try:
        loaded = datasets.load_dataset(str(local) if local.is_dir() else hub_id)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as error:
        raise DatasetError(f"{reference.text}: cannot load {hub_id}: {error}") from None
    base = local if local.is_dir() else None
    return load_tables(loaded, reference, name, source=hub_id, base=base)


def load_saved_folder(folder: Path, reference: Reference, name: str) -> OwnDataset:
    import datasets

    try:
        loaded = datasets.load_from_disk(str(folder))
    except (FileNotFoundError, ValueError, OSError) as error:
        raise DatasetError(
            f"{reference.text}: cannot load the saved dataset {folder}: {error}"
        ) from None
    return load_tables(loaded, reference, name, source=str(folder), base=folder)


def load_tables(
    loaded: Any, reference: Reference, name: str, *, source: str, base: Path | None
) -> OwnDataset:
    """A ``DatasetDict`` keeps its own splits; a single ``Dataset`` uses its split column if it
    has one (or ``?split=``), else the seeded split."""
    import datasets

    options = reference.options
    items: list[Item] = []
    if isinstance(loaded, Mapping):  # DatasetDict (or IterableDatasetDict: refused below)
        options.refuse(("split",), "the dataset has its own splits", reference.text)
        for split, table in loaded.items():
            where = f"{reference.text} split {split!r}"
            checked_split_name(split, where)
            items += _items(table, reference, source, base, where, split=split)
        kind = f"dataset {source} with splits {', '.join(loaded)}"
    elif isinstance(loaded, datasets.Dataset):
        items = _items(loaded, reference, source, base, reference.text, split=None)
        kind = f"dataset table {source}"
    else:
        raise DatasetError(f"{reference.text}: {source} is not a dataset table")
    samples, note = split_items(name, items, options, reference.text)
    return make_dataset(
        name, reference.text, f"{kind}, {note}", samples, fallback_clean=clean_text_label
    )


def _items(
    table: Any,
    reference: Reference,
    source: str,
    base: Path | None,
    where: str,
    *,
    split: str | None,
) -> list[Item]:
    import datasets

    if not isinstance(table, datasets.Dataset):
        raise DatasetError(f"{where}: a streaming dataset cannot be read as user data")
    options = reference.options
    features = table.features
    columns = list(features)
    image_column = _image_column(features, options.image, where)
    label_column = _label_column(features, options.label, where)
    split_column = None
    if split is None and (options.split is not None or SPLIT_COLUMN in columns):
        split_column = pick_column(columns, options.split, (SPLIT_COLUMN,), "split", "split", where)
    names = getattr(features[label_column], "names", None)
    labels = list(table[label_column])
    splits = list(table[split_column]) if split_column is not None else None
    images = table.select_columns([image_column])
    if isinstance(features[image_column], datasets.Image):
        images = images.cast_column(image_column, datasets.Image(decode=False))
    origin = f"{source}[{split}]" if split is not None else source
    items = []
    for index, value in enumerate(labels):
        here = f"{where} row {index}"
        raw = _class_id(value, names, here, label_column)
        label = checked_label(clean_text_label(raw), raw, f"{here}, column {label_column!r}")
        own_split = split
        if splits is not None:
            if not isinstance(splits[index], str) or not splits[index].strip():
                raise DatasetError(f"{here}: empty value in column {split_column!r}")
            own_split = checked_split_name(
                splits[index].strip(), f"{here}, column {split_column!r}"
            )
        reader = RowImage(images, image_column, index, base)
        items.append(Item(raw, label, reader, f"{origin}[{index}]", own_split))
    return items


def _column(
    features: Mapping[str, Any],
    named: str | None,
    kind: type,
    candidates: Sequence[str],
    what: str,
    option: str,
    where: str,
) -> str:
    """The column ``named`` by ``?option=``, else the one column with the ``kind`` feature,
    else the first of the usual names (``candidates``) the table has."""
    if named is None:
        found = feature_columns(features, kind)
        if len(found) > 1:
            raise DatasetError(
                f"{where}: several {what} columns ({', '.join(found)}); name one with ?{option}=COL"
            )
        if found:
            return found[0]
    return pick_column(list(features), named, candidates, option, option, where)


def _image_column(features: Mapping[str, Any], named: str | None, where: str) -> str:
    import datasets

    column = _column(features, named, datasets.Image, IMAGE_COLUMNS, "image", "image", where)
    feature = features[column]
    is_path = isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")
    is_struct = isinstance(feature, Mapping) and ("bytes" in feature or "path" in feature)
    if not (isinstance(feature, datasets.Image) or is_path or is_struct):
        raise DatasetError(
            f"{where}: column {column!r} holds {feature}, not images (an Image feature, "
            "image bytes or file paths)"
        )
    return column


def _label_column(features: Mapping[str, Any], named: str | None, where: str) -> str:
    import datasets

    column = _column(
        features, named, datasets.ClassLabel, LABEL_COLUMNS, "class label", "label", where
    )
    feature = features[column]
    is_text = isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")
    if not (isinstance(feature, datasets.ClassLabel) or is_text):
        raise DatasetError(
            f"{where}: label column {column!r} holds {feature}; it must be a ClassLabel or text"
        )
    return column


def _class_id(value: Any, names: list[str] | None, where: str, column: str) -> str:
    """The raw class id of a label cell: a ClassLabel's name, or the text itself."""
    if names is not None:
        if not isinstance(value, int) or not 0 <= value < len(names):
            raise DatasetError(f"{where}: no class in column {column!r} (value {value!r})")
        return names[value]
    if not isinstance(value, str) or not value.strip():
        raise DatasetError(f"{where}: empty label in column {column!r}")
    return value.strip()


class RowImage:
    """Reads one row's image when a sample asks for it, not before."""

    __slots__ = ("_base", "_column", "_index", "_table")

    def __init__(self, table: Any, column: str, index: int, base: Path | None = None) -> None:
        self._table, self._column, self._index, self._base = table, column, index, base

    def __call__(self) -> bytes:
        return image_reader(self._table[self._index][self._column], self._base)()
