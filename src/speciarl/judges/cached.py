"""A judge that remembers: verdicts come from a :class:`VerdictCache` when they can.

The cache key describes *normalised* text, so the inner judge is given the normalised pair, never
the raw strings: a verdict stored under a key must be the verdict of exactly the text the key
names. "Samoyed!" and "samoyed" therefore share one entry and one judge call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from speciarl.answer import normalize
from speciarl.judges.base import Judge, Judgement, Pair, count_judgements
from speciarl.judges.cache import CacheEntry, VerdictCache, cache_key


class CachedJudge:
    """Wraps ``judge`` so that each distinct normalised pair is judged at most once, ever.

    Per batch: pairs are normalised and keyed with the inner judge's identity, identical pairs are
    merged, the cache is asked once, only the misses go to the inner judge, and its decided
    verdicts are stored (undecided ones never are, so they are retried next time). A cache hit is
    reported with ``cached=True`` and the name of the judge that originally decided it.
    """

    def __init__(self, judge: Judge, cache: VerdictCache) -> None:
        self.inner = judge
        self.cache = cache
        self.name = judge.name
        self.counters: Counter[str] = Counter()

    @property
    def identity(self) -> str:
        return self.inner.identity

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
            by_key.update(self._judge_and_store(identity, misses, distinct))

        judgements = [by_key[key] for key in keys]
        hits = sum(1 for key in keys if key in stored)
        self.counters["cache_hits"] += hits
        self.counters["cache_misses"] += len(keys) - hits
        self.counters["batch_duplicates"] += len(keys) - len(distinct)
        count_judgements(self.counters, judgements)
        return judgements

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
