"""Small readers for the plain-text annotation files of the official archives."""

from __future__ import annotations

from pathlib import Path

from speciarl.data.errors import DatasetError


def require_file(path: Path, dataset: str) -> Path:
    if not path.is_file():
        raise DatasetError(f"{dataset}: missing file {path}")
    return path


def read_id_value_lines(path: Path, dataset: str) -> list[tuple[str, str]]:
    """Lines of ``<id> <value with spaces>``, as CUB's and Aircraft's text files have."""
    pairs = []
    text = require_file(path, dataset).read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        if len(parts) != 2:
            raise DatasetError(f"{dataset}: {path}:{number}: expected '<id> <value>', got {line!r}")
        pairs.append((parts[0], parts[1]))
    return pairs


def find_root(root: Path, marker: str, candidates: tuple[str, ...], dataset: str) -> Path:
    """The folder under ``root`` (itself or one of ``candidates``) that holds ``marker``.

    Lets users point at the folder they extracted into or at the dataset folder itself.
    """
    if not root.is_dir():
        raise DatasetError(f"{dataset}: dataset root {root} does not exist")
    for folder in (root, *(root / candidate for candidate in candidates)):
        if (folder / marker).exists():
            return folder
    places = ", ".join(str(root / c) for c in ("", *candidates))
    raise DatasetError(f"{dataset}: cannot find {marker} in {places}")
