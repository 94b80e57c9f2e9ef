"""A judge that remembers: verdicts come from a :class:`VerdictCache` when they can.

The cache key describes *normalised* text, so the inner judge is given the normalised pair, never
the raw strings: a verdict stored under a key must be the verdict of exactly the text the key
names. "Samoyed!" and "samoyed" therefore share one entry and one judge call.

Behind a :class:`CoalescingCache` (Redis), processes that miss the same pair at the same moment
also share one judge call: each claims the misses it can, judges only those, and waits for the
verdicts of the rest.

The cache is wrapped in a :class:`~speciarl.judges.resilient_cache.ResilientCache`: if it fails
during a run, judging goes on without it (one warning, ``cache_errors`` and related counters in
:attr:`CachedJudge.counters`, reconnection with backoff, verdicts judged meanwhile written back
once it answers again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from speciarl.answer import normalize
from speciarl.judges.base import Judge, Judgement, Pair, count_judgements
from speciarl.judges.cache import CacheEntry, CoalescingCache, VerdictCache, cache_key
from speciarl.judges.resilient_cache import ResilientCache, resilient

log = logging.getLogger(__name__)


class CachedJudge:
    """Wraps ``judge`` so that each distinct normalised pair is judged at most once, ever.

    Per batch: pairs are normalised and keyed with the inner judge's identity, identical pairs are
    merged, the cache is asked once, only the misses go to the inner judge, and its decided
    verdicts are stored (undecided ones never are, so they are retried next time). A cache hit is
    reported with ``cached=True`` and the name of the judge that originally decided it.

    With a :class:`CoalescingCache`, misses are first claimed for ``claim_ttl_s`` seconds; only
    the claimed ones are judged here. The others are looked up every ``poll_s`` seconds until
    their verdicts appear (counted as ``coalesced``, reported with ``cached=True``). A claim that
    ends without a verdict (the pair stayed undecided, or its owner died and the claim lapsed) is
    claimed again by a waiter; whatever is still missing after ``wait_s`` is judged here anyway
    (``coalesce_timeouts``). Both counters count distinct pairs. ``claim_ttl_s`` and ``wait_s``
    should exceed the longest time the inner judge takes for one batch, or pairs get judged twice.

    A cache failure during a run never fails a call: see :mod:`speciarl.judges.resilient_cache`
    for what happens instead and for the counters it adds here. :meth:`close` writes back what
    an outage left unwritten, if it can, and closes the cache.
    """

    def __init__(
        self,
        judge: Judge,
        cache: VerdictCache,
        *,
        claim_ttl_s: float = 60.0,
        wait_s: float = 60.0,
        poll_s: float = 0.05,
    ) -> None:
        if claim_ttl_s <= 0 or wait_s < 0 or poll_s <= 0:
            raise ValueError(
                "need claim_ttl_s > 0, wait_s >= 0 and poll_s > 0, "
                f"not {claim_ttl_s}, {wait_s} and {poll_s}"
            )
        self.inner = judge
        self.name = judge.name
        self.counters: Counter[str] = Counter()
        self.cache: ResilientCache = resilient(cache, counters=self.counters)
        self.claim_ttl_s = claim_ttl_s
        self.wait_s = wait_s
        self.poll_s = poll_s

    @property
    def identity(self) -> str:
        return self.inner.identity

    def close(self) -> None:
        """Write back what a cache outage left unwritten (one try) and close the cache."""
        self.cache.close()

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """One judgement per pair, in order; only pairs missing from the cache reach the judge."""
        identity = self.inner.identity
        keys, distinct = _key_pairs(identity, pairs)
        stored = self.cache.get_many(list(distinct)) if distinct else {}
        # Hits share a handful of (verdict, judge) values; one frozen Judgement each is enough.
        shared = {
            hit: Judgement(hit.verdict, hit.decided_by, cached=True) for hit in set(stored.values())
        }
        by_key = {key: shared[hit] for key, hit in stored.items()}
        misses = [key for key in distinct if key not in stored]
        if misses:
            if isinstance(self.cache, CoalescingCache):
                by_key.update(self._coalesce(self.cache, identity, misses, distinct))
            else:
                by_key.update(self._judge_and_store(identity, misses, distinct))

        judgements = [by_key[key] for key in keys]
        hits = sum(1 for key in keys if key in stored)
        self.counters["cache_hits"] += hits
        self.counters["cache_misses"] += len(keys) - hits
        self.counters["batch_duplicates"] += len(keys) - len(distinct)
        count_judgements(self.counters, judgements)
        return judgements

    def _coalesce(
        self, cache: CoalescingCache, identity: str, misses: list[str], pairs: dict[str, Pair]
    ) -> dict[str, Judgement]:
        """Judge the misses this process can claim, and collect the others' verdicts."""
        answers: dict[str, Judgement] = {}
        waiting = self._judge_claimed(cache, identity, misses, pairs, answers)
        deadline = time.monotonic() + self.wait_s
        while waiting:
            waiting = self._collect(cache, waiting, answers)
            # Free again without a verdict: the owner could not decide, or its claim lapsed.
            waiting = self._judge_claimed(cache, identity, waiting, pairs, answers)
            if not waiting:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                self.counters["coalesce_timeouts"] += len(waiting)
                answers.update(self._judge_and_store(identity, waiting, pairs))
                break
            time.sleep(min(self.poll_s, left))
        return answers

    def _judge_claimed(
        self,
        cache: CoalescingCache,
        identity: str,
        keys: list[str],
        pairs: dict[str, Pair],
        answers: dict[str, Judgement],
    ) -> list[str]:
        """Claim what nobody holds, judge it, store, release; return the keys held by others."""
        if not keys:
            return keys
        owned = cache.claim_many(keys, self.claim_ttl_s)
        if not owned:
            return keys
        try:
            # Another process may have stored a verdict between our lookup and our claim.
            mine = self._collect(cache, [key for key in keys if key in owned], answers)
            if mine:
                with _kept_claimed(cache, mine, self.claim_ttl_s):
                    answers.update(self._judge_and_store(identity, mine, pairs))
        finally:
            cache.release_many(list(owned))
        return [key for key in keys if key not in owned]

    def _collect(
        self, cache: VerdictCache, keys: list[str], answers: dict[str, Judgement]
    ) -> list[str]:
        """Take the verdicts other processes stored meanwhile; return the keys still missing."""
        found = cache.get_many(keys)
        for key, hit in found.items():
            answers[key] = Judgement(hit.verdict, hit.decided_by, cached=True)
        self.counters["coalesced"] += len(found)
        return [key for key in keys if key not in found]

    def _judge_and_store(
        self, identity: str, misses: list[str], pairs: dict[str, Pair]
    ) -> dict[str, Judgement]:
        """Judge the missed pairs, store what was decided and return the judgements by key."""
        asked = [pairs[key] for key in misses]
        answers = self.inner.judge(asked)
        if len(answers) != len(asked):
            raise RuntimeError(
                f"judge {self.inner.name!r} returned {len(answers)} judgements "
                f"for {len(asked)} pairs; a judge must return exactly one per pair"
            )
        fresh: dict[str, Judgement] = {}
        entries: list[CacheEntry] = []
        for key, pair, answer in zip(misses, asked, answers, strict=True):
            if answer.verdict is not None:
                # Credit a nameless decision to the inner judge, now and on every later hit.
                decided_by = answer.judge or self.name
                answer = replace(answer, judge=decided_by)
                entries.append(
                    CacheEntry(
                        key=key,
                        judge_identity=identity,
                        ground_truth=pair.ground_truth,
                        prediction=pair.prediction,
                        verdict=answer.verdict,
                        decided_by=decided_by,
                    )
                )
            fresh[key] = answer
        self.cache.put_many(entries)
        return fresh


@contextmanager
def _kept_claimed(cache: CoalescingCache, keys: list[str], ttl_s: float) -> Iterator[None]:
    """Renew ``keys``' claims every third of their lifetime while the block runs.

    A judge call can outlast a claim (thousands of LLM requests); without renewal other
    processes would take the pairs over and judge them a second time.
    """
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(ttl_s / 3):
            try:
                cache.renew_many(keys, ttl_s)
            except Exception:  # a failed renewal only risks a duplicate judge call
                log.warning("could not renew %d claim(s)", len(keys), exc_info=True)
                return

    renewer = threading.Thread(target=renew, daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def _key_pairs(identity: str, pairs: Sequence[Pair]) -> tuple[list[str], dict[str, Pair]]:
    """The cache key of every pair, and each distinct key's normalised pair, first seen first."""
    keys: list[str] = []
    key_of_raw: dict[tuple[str, str], str] = {}
    distinct: dict[str, Pair] = {}
    for pair in pairs:
        raw = (pair.ground_truth, pair.prediction)
        key = key_of_raw.get(raw)
        if key is None:
            truth, prediction = normalize(raw[0]), normalize(raw[1])
            key = key_of_raw[raw] = cache_key(identity, truth, prediction)
            distinct.setdefault(key, Pair(truth, prediction))
        keys.append(key)
    return keys, distinct
