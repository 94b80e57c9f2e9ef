"""A persistent verdict cache, so no pair is ever judged twice across steps, runs or processes.

Entries are keyed by :func:`cache_key`, a digest of everything that can change a verdict: the
judge's identity, the normalisation version and both normalised texts. Only decided verdicts are
stored; an undecided pair must stay free to be judged again.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from speciarl.answer import NORMALIZATION_VERSION
from speciarl.verdict import Verdict

_KEY_DOMAIN = b"speciarl-verdict"
"""Personalises the digest, so a key can never collide with another use of blake2b."""


def cache_key(
    judge_identity: str,
    ground_truth_normalized: str,
    prediction_normalized: str,
    normalization_version: int = NORMALIZATION_VERSION,
) -> str:
    """The 32-hex-digit key of one judged pair, the same for every cache backend.

    Each text is length-prefixed before hashing, so ``("a b", "c")`` and ``("a", "b c")`` give
    different keys.
    """
    data = (
        f"v{normalization_version}|{len(judge_identity)}:{judge_identity}"
        f"|{len(ground_truth_normalized)}:{ground_truth_normalized}"
        f"|{len(prediction_normalized)}:{prediction_normalized}"
    ).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=16, person=_KEY_DOMAIN).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedVerdict:
    """What a lookup returns: the verdict and the name of the judge that gave it."""

    verdict: Verdict
    decided_by: str


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """One decided pair to store; the readable fields let a person inspect the cache."""

    key: str
    judge_identity: str
    ground_truth: str
    prediction: str
    verdict: Verdict
    decided_by: str


class VerdictCache(Protocol):
    """A store of verdicts by :func:`cache_key`, shared by every backend.

    Writes never overwrite: the first verdict stored under a key wins.
    """

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedVerdict]:
        """The stored verdicts of those ``keys`` that are present; absent keys are left out."""
        ...

    def put_many(self, entries: Sequence[CacheEntry]) -> None:
        """Store the entries whose keys are not stored yet."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class CoalescingCache(VerdictCache, Protocol):
    """A cache shared by many processes that also lends short-lived claims on keys.

    Whoever claims a missing key judges it while the others wait for its verdict, so processes
    that miss the same pair at the same moment pay for one judge call, not one each. A claim
    lapses after ``ttl_s``, so a process that dies while holding one blocks nobody for long.
    """

    def claim_many(self, keys: Sequence[str], ttl_s: float) -> set[str]:
        """Claim the keys nobody holds yet; return those this caller now owns."""
        ...

    def release_many(self, keys: Sequence[str]) -> None:
        """Give up the claims on ``keys`` that this caller still owns; others' stay untouched."""
        ...

    def renew_many(self, keys: Sequence[str], ttl_s: float) -> None:
        """Extend to ``ttl_s`` the claims on ``keys`` this caller still owns (a long judge call)."""
        ...


class CacheUnavailableError(RuntimeError):
    """The cache's server cannot be reached or refuses to serve; the message says which one."""


class ClosedOnExit:
    """``with cache:`` closes the cache on leaving the block, whatever the backend."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class CacheSchemaError(RuntimeError):
    """The cache file was written with a layout this version of speciarl cannot read."""


SCHEMA_VERSION = 1
"""Kept in ``PRAGMA user_version``; bump it whenever the table layout changes."""

_CREATE_TABLE = """
CREATE TABLE verdicts (
    key TEXT PRIMARY KEY NOT NULL,
    verdict TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    judge_identity TEXT NOT NULL,
    ground_truth TEXT NOT NULL,
    prediction TEXT NOT NULL
) WITHOUT ROWID
"""
_INSERT = (
    "INSERT OR IGNORE INTO verdicts"
    " (key, verdict, decided_by, judge_identity, ground_truth, prediction)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_LOOKUP_CHUNK = 500
"""Keys per ``IN (...)`` query: well under SQLite's smallest limit on bound variables (999)."""

_MMAP_BYTES = 256 * 1024 * 1024
"""Room to memory-map a cache of about 1.8 million entries (some 140 bytes each)."""

_VERDICT_BY_VALUE = {verdict.value: verdict for verdict in Verdict}


@contextmanager
def _immediate_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """Take the write lock up front, so a writer waits for it instead of failing midway."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _enable_wal(connection: sqlite3.Connection, timeout_s: float) -> None:
    """Switch the file to WAL, retrying while another process holds it.

    SQLite does not apply the busy timeout to this switch, so processes that open a new cache
    at the same moment would otherwise fail with "database is locked".
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            connection.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY  # any extended BUSY code
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class SqliteVerdictCache(ClosedOnExit):
    """A verdict cache in one SQLite file, shared safely by threads and processes.

    WAL mode lets readers proceed while one process writes; every write takes the write lock
    up front (``BEGIN IMMEDIATE``) and waits up to ``busy_timeout_s`` for it, so concurrent
    writers queue rather than fail. ``synchronous=NORMAL`` may lose the last writes on power
    loss, which a cache can afford. WAL needs shared memory, so keep the file on a local disk,
    not a network file system.
    """

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # ``timeout`` is SQLite's busy timeout: how long to wait for another writer's lock.
        self._connection: sqlite3.Connection | None = sqlite3.connect(
            self.path,
            timeout=busy_timeout_s,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            self._configure(busy_timeout_s)
        except BaseException:
            self.close()
            raise

    def _configure(self, busy_timeout_s: float) -> None:
        connection = self._open()
        _enable_wal(connection, busy_timeout_s)
        connection.execute("PRAGMA synchronous = NORMAL")
        # Reading pages in place instead of copying them cuts a step's lookup by about a fifth.
        connection.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            with _immediate_transaction(connection):
                self._create_schema(connection)
        else:
            self._check_version(version)

    def _create_schema(self, connection: sqlite3.Connection) -> None:
        # Re-read inside the write lock: another process may have created the schema meanwhile.
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != 0:
            self._check_version(version)
            return
        if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise CacheSchemaError(
                f"{self.path} is an SQLite database but not a speciarl verdict cache"
            )
        connection.execute(_CREATE_TABLE)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_version(self, version: int) -> None:
        if version == SCHEMA_VERSION:
            return
        age = "a newer" if version > SCHEMA_VERSION else "an older"
        raise CacheSchemaError(
            f"verdict cache {self.path} has schema version {version}, written by {age} speciarl; "
            f"this version reads only schema version {SCHEMA_VERSION}. "
            "Use a matching speciarl or point the cache at a new file."
        )

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError(f"verdict cache {self.path} is closed")
        return self._connection

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedVerdict]:
        """Look the keys up in batches of ``IN (...)`` queries."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, CachedVerdict] = {}
        # Rows repeat a handful of (verdict, judge) values; sharing the frozen objects saves time.
        shared: dict[tuple[str, str], CachedVerdict] = {}
        with self._lock:
            connection = self._open()
            for start in range(0, len(unique), _LOOKUP_CHUNK):
                chunk = unique[start : start + _LOOKUP_CHUNK]
                query = (
                    "SELECT key, verdict, decided_by FROM verdicts WHERE key IN"
                    f" ({','.join('?' * len(chunk))})"
                )
                for key, verdict, decided_by in connection.execute(query, chunk):
                    value = shared.get((verdict, decided_by))
                    if value is None:
                        value = CachedVerdict(_VERDICT_BY_VALUE[verdict], decided_by)
                        shared[verdict, decided_by] = value
                    found[key] = value
        return found

    def put_many(self, entries: Sequence[CacheEntry]) -> None:
        """Store the entries in one transaction; keys already stored keep their verdict."""
        if not entries:
            return
        rows = [
            (e.key, e.verdict.value, e.decided_by, e.judge_identity, e.ground_truth, e.prediction)
            for e in entries
        ]
        with self._lock:
            connection = self._open()
            with _immediate_transaction(connection):
                connection.executemany(_INSERT, rows)

    def __len__(self) -> int:
        with self._lock:
            return self._open().execute("SELECT count(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
