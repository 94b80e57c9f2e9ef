"""A verdict cache whose outage during a run costs speed, never the run or a paid verdict.

:class:`ResilientCache` wraps any :class:`~speciarl.judges.cache.VerdictCache` (the SQLite file,
Redis). When an operation on it fails (the server died, the file became unreadable or read-only,
the disk is full), judging goes on without it:

* one warning per outage, not one per call; ``cache_errors`` counts the failed operations;
* lookups find nothing (every pair is judged) except the verdicts judged during the outage,
  which are kept in memory and so are not judged twice;
* a reconnection is tried at most after 1 s, then 2 s, 4 s ... up to ``max_retry_s`` (60 s),
  never on every call, so a dead server is not hammered; each try is one lookup of a key nobody
  stores, then the write-back;
* once the cache answers again, the verdicts kept in memory are written back to it;
* claims (Redis coalescing) are granted locally while the cache is down, so every pair is
  judged here rather than waited for, and a release or renewal that fails is only counted:
  the claims lapse on the server by themselves.

The verdicts kept for write-back are bounded by ``pending_limit`` (100,000 by default, some
50 MB): beyond it the oldest are dropped (counted as ``cache_write_back_dropped``) and get judged
again once needed. :meth:`ResilientCache.close` makes one last write-back attempt; what still
cannot be written is counted as ``cache_write_back_lost`` and warned about.

Opening a cache is not covered: a cache that is down at start is an error, raised by its
constructor before it is wrapped.

Counters, in the ``counters`` given (a :class:`~speciarl.judges.cached.CachedJudge` passes its
own, so that summaries and training logs see them), each added only when non-zero:
``cache_errors``, ``cache_outages``, ``cache_reconnects``, ``cache_lookups_skipped`` (keys looked
up while the cache was down), ``cache_written_back``, ``cache_write_back_dropped`` and
``cache_write_back_lost``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from speciarl.judges.cache import (
    CachedVerdict,
    CacheEntry,
    CacheUnavailableError,
    ClosedOnExit,
    CoalescingCache,
    VerdictCache,
)

log = logging.getLogger(__name__)

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 60.0
PENDING_LIMIT = 100_000
"""Verdicts kept in memory for write-back, at most: about 500 bytes each."""

_WRITE_BACK_CHUNK = 1_000
_PROBE_KEY = "0" * 32
"""Looked up to learn whether the cache answers again; a real key is a digest, never this."""

FAILURES: tuple[type[BaseException], ...] = (CacheUnavailableError, sqlite3.Error, OSError)
"""What a cache raises when it cannot serve: Redis gone, SQLite file unusable, disk errors."""


def _is_failure(error: BaseException) -> bool:
    # Using a closed SQLite cache is a bug here, not an outage.
    return isinstance(error, FAILURES) and not isinstance(error, sqlite3.ProgrammingError)


def _describe(cache: VerdictCache) -> str:
    for attribute in ("url", "path"):
        value = getattr(cache, attribute, None)
        if value is not None:
            return str(value)
    return type(cache).__name__


class ResilientCache(ClosedOnExit):
    """``cache`` kept out of the way while it fails; see the module's description."""

    def __init__(
        self,
        cache: VerdictCache,
        *,
        counters: Counter[str] | None = None,
        first_retry_s: float = FIRST_RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
        pending_limit: int = PENDING_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if first_retry_s <= 0 or max_retry_s < first_retry_s or pending_limit < 0:
            raise ValueError(
                "need 0 < first_retry_s <= max_retry_s and pending_limit >= 0, not "
                f"{first_retry_s}, {max_retry_s} and {pending_limit}"
            )
        self.inner = cache
        self.name = _describe(cache)
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self.first_retry_s = first_retry_s
        self.max_retry_s = max_retry_s
        self.pending_limit = pending_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_s = first_retry_s
        self._retry_at = 0.0
        self._pending: dict[str, CacheEntry] = {}  # oldest first
        self._dropped_warned = False

    @property
    def available(self) -> bool:
        """Whether the cache answered the last time it was asked."""
        return self._down_since is None

    @property
    def pending(self) -> int:
        """Verdicts judged during an outage and not written back yet."""
        return len(self._pending)

    def _count(self, name: str, amount: int = 1) -> None:
        if amount:
            self.counters[name] += amount

    # --- state ----------------------------------------------------------------------------------

    def _failed(self, operation: str, error: BaseException) -> None:
        """Note a failure: start an outage (and warn, once), or back off further."""
        with self._lock:
            self._count("cache_errors")
            now = self._clock()
            if self._down_since is None:
                self._down_since = now
                self._retry_s = self.first_retry_s
                self._count("cache_outages")
                log.warning(
                    "verdict cache %s failed (%s: %s); judging goes on without it: verdicts "
                    "judged meanwhile are kept in memory (up to %d) and written back when it "
                    "answers again; retrying after %g s, then less and less often (at most "
                    "every %g s)",
                    self.name,
                    operation,
                    error,
                    self.pending_limit,
                    self._retry_s,
                    self.max_retry_s,
                )
            else:
                self._retry_s = min(self._retry_s * 2, self.max_retry_s)
                log.debug("verdict cache %s still failing (%s: %s)", self.name, operation, error)
            self._retry_at = now + self._retry_s

    def _usable(self) -> bool:
        """Whether to use the cache now: it is up, or it was down and a retry now succeeds."""
        with self._lock:
            if self._down_since is None:
                return True
            now = self._clock()
            if now < self._retry_at:
                return False
            # Other threads skip the cache while this one tries.
            self._retry_at = now + self._retry_s
        return self._reconnect()

    def _reconnect(self) -> bool:
        """Probe the cache, write the kept verdicts back and, if all went well, end the outage."""
        written = 0
        try:
            self.inner.get_many([_PROBE_KEY])
            while True:
                with self._lock:
                    batch = list(self._pending.values())[:_WRITE_BACK_CHUNK]
                    if not batch:
                        # Nothing kept any more: the outage is over (under the lock, so no
                        # writer can still be adding to the kept verdicts).
                        down_since = self._down_since
                        self._down_since = None
                        self._retry_s = self.first_retry_s
                        self._count("cache_reconnects")
                        break
                self.inner.put_many(batch)
                with self._lock:
                    for entry in batch:
                        self._pending.pop(entry.key, None)
                    written += len(batch)
                    self._count("cache_written_back", len(batch))
        except BaseException as error:
            if not _is_failure(error):
                raise
            self._failed("reconnect", error)
            return False
        seconds = self._clock() - down_since if down_since is not None else 0.0
        log.info(
            "verdict cache %s answers again after %.1f s; "
            "wrote back %d verdict(s) judged meanwhile",
            self.name,
            seconds,
            written,
        )
        return True

    def _keep(self, entries: Sequence[CacheEntry]) -> None:
        """Hold ``entries`` for write-back (the lock is held), dropping the oldest beyond bound."""
        for entry in entries:
            self._pending.setdefault(entry.key, entry)
        excess = len(self._pending) - self.pending_limit
        if excess > 0:
            for key in list(self._pending)[:excess]:
                del self._pending[key]
            self._count("cache_write_back_dropped", excess)
            if not self._dropped_warned:
                self._dropped_warned = True
                log.warning(
                    "verdict cache %s is still down and %d verdicts are kept for it: dropping "
                    "the oldest (they will be judged again if needed)",
                    self.name,
                    self.pending_limit,
                )

    # --- the cache ------------------------------------------------------------------------------

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedVerdict]:
        if self._usable():
            try:
                return self.inner.get_many(keys)
            except BaseException as error:
                if not _is_failure(error):
                    raise
                self._failed("lookup", error)
        with self._lock:
            found = {
                key: CachedVerdict(entry.verdict, entry.decided_by)
                for key in keys
                if (entry := self._pending.get(key)) is not None
            }
            self._count("cache_lookups_skipped", len(set(keys)) - len(found))
        return found

    def put_many(self, entries: Sequence[CacheEntry]) -> None:
        if not entries:
            return
        if self._usable():
            try:
                self.inner.put_many(entries)
                return
            except BaseException as error:
                if not _is_failure(error):
                    raise
                self._failed("store", error)
        with self._lock:
            if self._down_since is None:  # back meanwhile: another thread wrote back
                retry = True
            else:
                retry = False
                self._keep(entries)
        if retry:
            self.put_many(entries)

    def close(self) -> None:
        """One last write-back attempt, then close the cache; what stays unwritten is counted."""
        if self._pending:
            with self._lock:
                self._retry_at = 0.0
            self._usable()
        lost = len(self._pending)
        if lost:
            self._count("cache_write_back_lost", lost)
            log.warning(
                "verdict cache %s is still down: %d verdict(s) judged during the outage "
                "were not written back and will be judged again next time",
                self.name,
                lost,
            )
            self._pending.clear()
        try:
            self.inner.close()
        except BaseException as error:
            if not _is_failure(error):
                raise
            log.debug("closing verdict cache %s: %s", self.name, error)


class ResilientCoalescingCache(ResilientCache):
    """A :class:`ResilientCache` around a :class:`CoalescingCache`, whose claims degrade too.

    While the cache is down every claim is granted (there is nobody to coordinate with, so each
    process judges its own misses), and releases and renewals are skipped.
    """

    inner: CoalescingCache

    def claim_many(self, keys: Sequence[str], ttl_s: float) -> set[str]:
        if self._usable():
            try:
                return self.inner.claim_many(keys, ttl_s)
            except BaseException as error:
                if not _is_failure(error):
                    raise
                self._failed("claim", error)
        return set(keys)

    def release_many(self, keys: Sequence[str]) -> None:
        self._quietly("release", lambda: self.inner.release_many(keys))

    def renew_many(self, keys: Sequence[str], ttl_s: float) -> None:
        self._quietly("renew", lambda: self.inner.renew_many(keys, ttl_s))

    def _quietly(self, operation: str, call: Callable[[], None]) -> None:
        """Do ``call`` if the cache is usable; a failure only starts or extends the outage."""
        if not self._usable():
            return
        try:
            call()
        except BaseException as error:
            if not _is_failure(error):
                raise
            self._failed(operation, error)


def resilient(cache: VerdictCache, **options: object) -> ResilientCache:
    """``cache`` wrapped to survive outages (once: a wrapped cache is returned as it is)."""
    if isinstance(cache, ResilientCache):
        return cache
    if isinstance(cache, CoalescingCache):
        return ResilientCoalescingCache(cache, **options)  # type: ignore[arg-type]
    return ResilientCache(cache, **options)  # type: ignore[arg-type]
