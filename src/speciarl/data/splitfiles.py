"""The CoOp split files (``split_zhou_*.json``) that fix train/val/test for four datasets.

They are not part of the official archives. A split file found in the dataset root is used as
is; otherwise it is fetched once from its public source into a local cache and reused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from speciarl.data.archives import ArchiveError, download

COOP_SPLITS = ("train", "val", "test")
_DRIVE_URL = "https://drive.google.com/uc?export=download&id={}"


class SplitFileError(ValueError):
    """A split file that is missing, unreachable or malformed; the message names it."""


@dataclass(frozen=True, slots=True)
class SplitEntry:
    """One image of a CoOp split: its path under the image folder, class index and class name."""

    image: str
    class_index: int
    class_name: str


@dataclass(frozen=True, slots=True)
class SplitFile:
    """Where a CoOp split file lives publicly (a Google Drive file id) and its file name."""

    filename: str
    drive_id: str

    @property
    def url(self) -> str:
        return _DRIVE_URL.format(self.drive_id)


def cache_dir() -> Path:
    """Where fetched split files are kept: ``$SPECIARL_CACHE`` or ``~/.cache/speciarl``."""
    base = os.environ.get("SPECIARL_CACHE") or Path.home() / ".cache" / "speciarl"
    return Path(base) / "splits"


def locate_split_file(split_file: SplitFile, root: Path, *, fetch: bool = True) -> Path:
    """The split file in ``root``, else in the cache, else fetched into the cache."""
    for candidate in (root / split_file.filename, cache_dir() / split_file.filename):
        if candidate.is_file():
            return candidate
    if not fetch:
        raise SplitFileError(f"{root / split_file.filename}: split file not found")
    target = cache_dir() / split_file.filename
    try:
        return download(split_file.url, target)
    except ArchiveError as error:
        raise SplitFileError(
            f"split file {split_file.filename} is neither in {root} nor cached, and fetching it "
            f"failed ({error}); download it from {split_file.url} into {root}"
        ) from None


def read_split(path: Path, split: str) -> list[SplitEntry]:
    """The entries of one split, in file order, validated."""
    if split not in COOP_SPLITS:
        raise SplitFileError(f"unknown split {split!r}; choose one of {', '.join(COOP_SPLITS)}")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SplitFileError(f"{path}: cannot read split file: {error}") from None
    if not isinstance(content, dict) or split not in content:
        raise SplitFileError(f"{path}: no {split!r} split in the file")
    rows = content[split]
    if not isinstance(rows, list):
        raise SplitFileError(f"{path}: split {split!r} is not a list")
    entries = []
    for position, row in enumerate(rows):
        if not (
            isinstance(row, list)
            and len(row) == 3
            and isinstance(row[0], str)
            and isinstance(row[1], int)
            and isinstance(row[2], str)
        ):
            raise SplitFileError(
                f"{path}: {split}[{position}] should be [image path, class index, class name]"
            )
        entries.append(SplitEntry(row[0], row[1], row[2]))
    return entries
