"""A verdict cache in Redis, for training runs whose processes and nodes share one cache.

Entries use the same keys as :class:`~speciarl.judges.cache.SqliteVerdictCache` (the
:func:`~speciarl.judges.cache.cache_key` digests), each one a small JSON object under
``prefix + key``. Claims, which let concurrent processes judge a missing pair only once, live
under ``prefix + "claim:" + key``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from urllib.parse import urlsplit, urlunsplit

import redis
from redis import exceptions as redis_errors

from speciarl.judges.cache import (
    CachedVerdict,
    CacheEntry,
    CacheUnavailableError,
    ClosedOnExit,
)
from speciarl.verdict import Verdict

log = logging.getLogger(__name__)

DEFAULT_URL = "redis://127.0.0.1:6379/0"
PASSWORD_ENV_VARS = ("SPECIARL_REDIS_PASSWORD", "REDIS_PASSWORD")
"""Where the password comes from when none is given, first set one first."""

_CHUNK = 1_000
"""Keys per MGET or script call: few round trips, yet no single command that stalls Redis."""

_UNAVAILABLE = (
    redis_errors.ConnectionError,  # authentication failures included
    redis_errors.TimeoutError,
    redis_errors.NoPermissionError,
    redis_errors.OutOfMemoryError,
    redis_errors.ReadOnlyError,
)
"""Errors that mean this server cannot serve as the cache at all, as opposed to a bug here."""

_DELETE_IF_VALUE = """
local deleted = 0
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        deleted = deleted + redis.call('DEL', key)
    end
end
return deleted
"""

# Compare-and-extend: a claim is extended only while it still holds this instance's token.
_EXPIRE_IF_VALUE = """
local renewed = 0
for _, key in ipairs(KEYS) do
    if redis.call('GET', key) == ARGV[1] then
        renewed = renewed + redis.call('PEXPIRE', key, ARGV[2])
    end
end
return renewed
"""
"""Compare-and-delete, atomic on the server: a claim that lapsed and was taken by another
process is never released by its former owner, and a repaired entry is never deleted."""

_VERDICT_BY_VALUE = {verdict.value: verdict for verdict in Verdict}


class RedisVerdictCache(ClosedOnExit):
    """A :class:`~speciarl.judges.cache.CoalescingCache` in one Redis database.

    Writes never overwrite (``SET NX``), so the first verdict stored under a key wins on every
    node. Entries never expire unless ``ttl_s`` is given. The server must not evict keys
    (``maxmemory-policy noeviction``): an evicted claim lets a second process judge the same pair,
    an evicted verdict is judged again; construction warns when the policy evicts.

    The password is ``password``, else the first of ``SPECIARL_REDIS_PASSWORD`` and
    ``REDIS_PASSWORD`` that is set; a password inside ``url`` takes precedence over both. Claims
    carry a token drawn per instance, so threads sharing an instance must release only the keys
    they claimed themselves (as :class:`~speciarl.judges.cached.CachedJudge` does).
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        password: str | None = None,
        ttl_s: float | None = None,
        prefix: str = "speciarl:verdict:",
        timeout_s: float = 30.0,
    ) -> None:
        self.url = redact(url)
        self.prefix = prefix
        self._ttl_ms = None if ttl_s is None else _milliseconds(ttl_s)
        self._claim_prefix = f"{prefix}claim:"
        self._token = secrets.token_hex(16).encode()
        self._client: redis.Redis | None = redis.Redis.from_url(
            url,
            password=password if password is not None else _password_from_env(),
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
        )
        self._delete_if_value = self._client.register_script(_DELETE_IF_VALUE)
        self._expire_if_value = self._client.register_script(_EXPIRE_IF_VALUE)
        try:
            with self._connection() as client:
                client.ping()
            self._warn_if_evicting()
        except BaseException:
            self.close()
            raise

    @contextmanager
    def _connection(self) -> Iterator[redis.Redis]:
        """The client, with every "no usable server" error turned into one that names the URL."""
        if self._client is None:
            raise CacheUnavailableError(f"verdict cache {self.url} is closed")
        try:
            yield self._client
        except _UNAVAILABLE as error:
            hint = ""
            if isinstance(error, redis_errors.AuthenticationError):
                hint = f" (check the password argument or {' / '.join(PASSWORD_ENV_VARS)})"
            raise CacheUnavailableError(
                f"verdict cache {self.url} is unavailable: {error}{hint}"
            ) from error

    def _warn_if_evicting(self) -> None:
        with self._connection() as client:
            try:
                # One entry; its key is str or bytes depending on the client's protocol.
                found = list(client.config_get("maxmemory-policy").values())
            except redis_errors.ResponseError as error:  # CONFIG is often forbidden or renamed
                log.debug("cannot read maxmemory-policy of %s: %s", self.url, error)
                return
        if not found:
            log.debug("%s does not report a maxmemory-policy", self.url)
            return
        policy = found[0].decode() if isinstance(found[0], bytes) else found[0]
        if policy != "noeviction":
            log.warning(
                "Redis at %s has maxmemory-policy %s: it may evict verdicts and claims silently, "
                "so pairs get judged again and concurrent processes may judge the same pair; "
                "set maxmemory-policy noeviction",
                self.url,
                policy,
            )

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedVerdict]:
        """Look the keys up with one MGET per chunk, all chunks in one round trip."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        with self._connection() as client:
            pipe = client.pipeline(transaction=False)
            for start in range(0, len(unique), _CHUNK):
                pipe.mget([self.prefix + key for key in unique[start : start + _CHUNK]])
            values = chain.from_iterable(pipe.execute())
        found: dict[str, CachedVerdict] = {}
        # Entries repeat a handful of (verdict, judge) values; sharing the frozen objects is cheap.
        shared: dict[tuple[Verdict, str], CachedVerdict] = {}
        unreadable: dict[str, bytes] = {}
        for key, raw in zip(unique, values, strict=True):
            if raw is None:
                continue
            decoded = _decode(raw)
            if decoded is None:
                unreadable[key] = raw
                continue
            found[key] = shared.setdefault(decoded, CachedVerdict(*decoded))
        if unreadable:
            self._drop_unreadable(unreadable)
        return found

    def _drop_unreadable(self, unreadable: dict[str, bytes]) -> None:
        """Delete entries that are not verdicts, so that the pair's next verdict can be stored.

        Left in place, such an entry would block every later write (first writer wins) and
        have its pair judged again on every lookup.
        """
        with self._connection():
            for key, raw in unreadable.items():
                self._delete_if_value(keys=[self.prefix + key], args=[raw])
        log.warning(
            "removed %d unreadable entries from verdict cache %s (first: %s%s); "
            "they count as misses and will be judged again",
            len(unreadable),
            self.url,
            self.prefix,
            next(iter(unreadable)),
        )

    def put_many(self, entries: Sequence[CacheEntry]) -> None:
        """Store the entries in one round trip; keys already stored keep their verdict."""
        if not entries:
            return
        with self._connection() as client:
            pipe = client.pipeline(transaction=False)
            for entry in entries:
                pipe.set(self.prefix + entry.key, _encode(entry), nx=True, px=self._ttl_ms)
            pipe.execute()

    def claim_many(self, keys: Sequence[str], ttl_s: float) -> set[str]:
        """Claim the keys nobody holds, each for ``ttl_s`` seconds; return those now owned."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return set()
        ttl_ms = _milliseconds(ttl_s)
        with self._connection() as client:
            pipe = client.pipeline(transaction=False)
            for key in unique:
                pipe.set(self._claim_prefix + key, self._token, nx=True, px=ttl_ms)
            won = pipe.execute()
        return {key for key, claimed in zip(unique, won, strict=True) if claimed}

    def release_many(self, keys: Sequence[str]) -> None:
        """Release the claims on ``keys`` this instance still holds; others' stay untouched."""
        unique = list(dict.fromkeys(keys))
        with self._connection():
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                self._delete_if_value(
                    keys=[self._claim_prefix + key for key in chunk], args=[self._token]
                )

    def renew_many(self, keys: Sequence[str], ttl_s: float) -> None:
        """Extend the claims on ``keys`` this instance still holds to ``ttl_s`` from now."""
        unique = list(dict.fromkeys(keys))
        ttl_ms = _milliseconds(ttl_s)
        with self._connection():
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                self._expire_if_value(
                    keys=[self._claim_prefix + key for key in chunk], args=[self._token, ttl_ms]
                )

    def close(self) -> None:
        """Close the connections; closing twice is harmless."""
        if self._client is not None:
            self._client.close()
            self._client = None


def redact(url: str) -> str:
    """``url`` with its password, in the user part or the query, replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    query = "&".join(
        "password=***" if item.partition("=")[0] == "password" else item
        for item in parts.query.split("&")
    )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _password_from_env() -> str | None:
    return next((os.environ[name] for name in PASSWORD_ENV_VARS if os.environ.get(name)), None)


def _milliseconds(seconds: float) -> int:
    """Redis expiries are whole milliseconds, at least one."""
    if seconds <= 0:
        raise ValueError(f"an expiry must be positive, not {seconds} s")
    return max(1, round(seconds * 1000))


def _encode(entry: CacheEntry) -> str:
    return json.dumps(
        {
            "verdict": entry.verdict.value,
            "decided_by": entry.decided_by,
            "judge_identity": entry.judge_identity,
            "ground_truth": entry.ground_truth,
            "prediction": entry.prediction,
        },
        separators=(",", ":"),
    )


def _decode(raw: bytes) -> tuple[Verdict, str] | None:
    """The verdict and deciding judge of a stored entry, or ``None`` if it is not one."""
    try:
        fields = json.loads(raw)
        verdict = _VERDICT_BY_VALUE[fields["verdict"]]
        decided_by = fields["decided_by"]
    except (ValueError, TypeError, KeyError):
        return None
    return (verdict, decided_by) if isinstance(decided_by, str) else None
