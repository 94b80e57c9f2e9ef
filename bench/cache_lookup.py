"""Time warm verdict-cache lookups at the size of one RL step (256 images x 10 rollouts).

A whole reward step must fit in 25 ms, so the lookup must take only a few milliseconds. Prints
the median and p90 of ``SqliteVerdictCache.get_many`` of 2,560 distinct stored keys, and of a
``CachedJudge`` batch of 2,560 raw pairs, some repeated, that all hit the cache (normalising,
keying and building judgements included).

    .venv/bin/python bench/cache_lookup.py [--entries 50000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from speciarl.answer import normalize
from speciarl.judges import CachedJudge, Judgement, Pair, SqliteVerdictCache, cache_key
from speciarl.judges.cache import CacheEntry
from speciarl.verdict import Verdict

IDENTITY = "bench-judge:v1"
LABELS = 200
ROLLOUTS = 10
STEP_PAIRS = 2_560


class _NeverCalled:
    """An inner judge for an all-hit batch: being called means the cache missed."""

    name = "bench"
    identity = IDENTITY

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        raise AssertionError(f"{len(pairs)} pairs missed the cache")


def _pair(index: int) -> Pair:
    return Pair(f"Label_{index % LABELS} Bird", f"Predicted bird no. {index}!")


def _entry(index: int) -> CacheEntry:
    pair = _pair(index)
    truth, prediction = normalize(pair.ground_truth), normalize(pair.prediction)
    return CacheEntry(
        key=cache_key(IDENTITY, truth, prediction),
        judge_identity=IDENTITY,
        ground_truth=truth,
        prediction=prediction,
        verdict=list(Verdict)[index % len(Verdict)],
        decided_by="lexical",
    )


def _time_ms(action: Callable[[], object], repeats: int) -> list[float]:
    action()  # warm the page cache and the statement cache
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1e3)
    return timings


def _report(label: str, timings: list[float]) -> None:
    p90 = statistics.quantiles(timings, n=10)[-1]
    print(f"{label:<52} median {statistics.median(timings):6.2f} ms   p90 {p90:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    chosen = rng.sample(range(args.entries), STEP_PAIRS // ROLLOUTS)
    # Ten rollouts per image, as in an RL step; about a third repeat another rollout's answer.
    step = [
        rng.choice(chosen) if rng.random() < 0.3 else rng.randrange(args.entries)
        for _ in range(STEP_PAIRS)
    ]
    with (
        tempfile.TemporaryDirectory() as folder,
        SqliteVerdictCache(Path(folder) / "verdicts.sqlite") as cache,
    ):
        entries = [_entry(index) for index in range(args.entries)]
        start = time.perf_counter()
        for first in range(0, len(entries), 1_000):
            cache.put_many(entries[first : first + 1_000])
        fill_s = time.perf_counter() - start
        print(f"filled {len(cache):,} entries in {fill_s:.2f} s (1,000 per transaction)")

        keys = [entries[index].key for index in rng.sample(range(args.entries), STEP_PAIRS)]
        assert len(cache.get_many(keys)) == len(keys), "every key must hit"
        _report(
            f"get_many of {len(keys):,} distinct keys",
            _time_ms(lambda: cache.get_many(keys), args.repeats),
        )

        judge = CachedJudge(_NeverCalled(), cache)
        pairs = [_pair(index) for index in step]
        _report(
            f"CachedJudge.judge of {len(pairs):,} pairs ({len(set(step)):,} distinct)",
            _time_ms(lambda: judge.judge(pairs), args.repeats),
        )


if __name__ == "__main__":
    main()
