"""From a reference to a loaded user dataset: which kind of source it is, and its name.

The grammar is in the package docstring (:mod:`speciarl.data.own`).
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from speciarl.data.build import DATA_FILE, MANIFEST_FILE
from speciarl.data.errors import DatasetError
from speciarl.data.own.hub_any import is_saved_folder, load_hub_reference, load_saved_folder
from speciarl.data.own.imagefolder import load_image_folder
from speciarl.data.own.parquet import load_parquet
from speciarl.data.own.reference import Reference, dataset_name, looks_like_path, parse_reference
from speciarl.data.own.source import OwnDataset
from speciarl.data.own.table import TABLE_SUFFIXES, load_table


def resolve_reference(text: str, shipped: Collection[str]) -> OwnDataset:
    """The user dataset ``text`` refers to; ``shipped`` are the names it must not take."""
    reference = parse_reference(text)
    if reference.is_hub:
        hub_id = reference.hub_id.rstrip("/\\")
        if not hub_id:
            raise DatasetError(f"{text}: give a Hub dataset id or folder after 'hub:'")
        local = Path(hub_id).expanduser()
        last = Path(os.path.abspath(local)).name if local.is_dir() else Path(hub_id).name
        name = _name(reference, last)
        own = load_hub_reference(reference, name)
    else:
        path = reference.path
        if not path.exists():
            raise unknown_reference(text, shipped, path if looks_like_path(text) else None)
        own = _load_path(path, reference, shipped)
    if own.name in shipped and own.shipped != own.name:
        raise DatasetError(
            f"{text}: its dataset name {own.name!r} is the name of a shipped dataset; give your "
            f"data another with ?name=NAME (so it is never mistaken for the shipped {own.name}, "
            "nor judged by its hierarchy)"
        )
    return own


def unknown_reference(text: str, shipped: Collection[str], path: Path | None) -> DatasetError:
    """What a string that is no dataset, no existing path and no ``hub:`` reference gets."""
    missing = f"; no such file or folder: {path.absolute()}" if path is not None else ""
    return DatasetError(
        f"unknown dataset {text!r}; choose one of {', '.join(shipped)}, or give a path that "
        "exists (an image folder, a CSV/JSONL/Parquet file, a built folder) or hub:ID"
        f"{missing}"
    )


def _load_path(path: Path, reference: Reference, shipped: Collection[str]) -> OwnDataset:
    absolute = Path(os.path.abspath(path))  # "." and ".." named, symlinks left as given
    if path.is_dir():
        name = _name(reference, absolute.name)
        if (path / DATA_FILE).is_file() and (path / MANIFEST_FILE).is_file():
            return load_parquet(path / DATA_FILE, reference, name, shipped)
        if is_saved_folder(path):
            return load_saved_folder(path, reference, name)
        return load_image_folder(path, reference, name)
    suffix = path.suffix.lower()
    name = _name(reference, absolute.stem)
    if suffix in TABLE_SUFFIXES:
        return load_table(path, reference, name)
    if suffix == ".parquet":
        return load_parquet(path, reference, name, shipped)
    raise DatasetError(
        f"{reference.text}: {path} is a {suffix or 'suffix-less'} file; give a folder or a "
        f"{', '.join((*TABLE_SUFFIXES, '.parquet'))} file"
    )


def _name(reference: Reference, default: str) -> str:
    """``?name=`` if given, else the folder name or file stem (a built file may override it
    with its data source)."""
    if reference.options.name is not None:
        return reference.options.name
    return dataset_name(default, reference.text)
