"""Official dataset archives: download, checksum verification and safe extraction.

Downloads resume nothing and trust nothing: a file is written under a temporary name, verified
against its published MD5 where one exists, and only then moved into place.
"""

from __future__ import annotations

import hashlib
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from speciarl.atomic import atomic_path

CHUNK_BYTES = 1 << 20


class ArchiveError(RuntimeError):
    """A download or archive that failed: unreachable, truncated, wrong checksum, unsafe."""


@dataclass(frozen=True, slots=True)
class Download:
    """One official file of a dataset.

    ``md5`` is the checksum its publishers (or the reference loaders everyone uses) give; ``None``
    where none is published, in which case the file is used unverified. ``extract`` says whether
    it is an archive to unpack into the root.
    """

    url: str
    filename: str
    md5: str | None = None
    extract: bool = True


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def verify_md5(path: Path, expected: str | None) -> None:
    """Raise if ``path`` does not have the expected MD5 (no-op when none is published)."""
    if expected is None:
        return
    actual = file_md5(path)
    if actual != expected:
        raise ArchiveError(
            f"{path}: checksum mismatch (md5 {actual}, expected {expected}); the file is "
            "corrupt or incomplete: delete it and download it again"
        )


def download(
    url: str,
    target: Path,
    *,
    md5: str | None = None,
    timeout_s: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Fetch ``url`` into ``target`` atomically and verify it; an existing verified file is kept."""
    if target.exists():
        verify_md5(target, md5)
        return target
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout_s) as response,
            atomic_path(target) as partial,
        ):
            total = response.headers.get("Content-Length")
            expected_bytes = int(total) if total and total.isdigit() else None
            received = 0
            with partial.open("wb") as stream:
                while chunk := response.read(CHUNK_BYTES):
                    stream.write(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(received, expected_bytes)
            if expected_bytes is not None and received != expected_bytes:
                raise ArchiveError(f"{url}: got {received} of {expected_bytes} bytes")
            verify_md5(partial, md5)
    except OSError as error:
        raise ArchiveError(f"cannot download {url}: {error}") from None
    return target


def extract(archive: Path, destination: Path) -> None:
    """Unpack a tar or zip archive; members that would escape ``destination`` are refused."""
    destination.mkdir(parents=True, exist_ok=True)
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            try:
                bundle.extractall(destination, filter="data")
            except tarfile.FilterError as error:
                raise ArchiveError(f"{archive}: unsafe member refused: {error}") from None
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            root = destination.resolve()
            for member in bundle.namelist():
                if not (destination / member).resolve().is_relative_to(root):
                    raise ArchiveError(f"{archive}: unsafe member refused: {member}")
            bundle.extractall(destination)
    else:
        raise ArchiveError(f"{archive}: not a tar or zip archive")


def fetch_all(
    downloads: tuple[Download, ...],
    root: Path,
    *,
    keep_archives: bool = True,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> None:
    """Download, verify and unpack every file of a dataset into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for item in downloads:
        target = root / item.filename
        report = None if progress is None else _named(progress, item.filename)
        download(item.url, target, md5=item.md5, progress=report)
        if item.extract:
            extract(target, root)
            if not keep_archives:
                target.unlink()


def _named(
    progress: Callable[[str, int, int | None], None], name: str
) -> Callable[[int, int | None], None]:
    return lambda done, total: progress(name, done, total)
