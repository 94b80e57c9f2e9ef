"""Several judges in a row, cheapest first: each sees only what the ones before left undecided."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from speciarl.judges.base import (
    UNDECIDED,
    Judge,
    Judgement,
    Pair,
    count_judgements,
    distinct,
)


class Cascade:
    """Runs ``judges`` in order and returns, per pair, the first decision made.

    Each judgement names the judge that decided it (a member's own answer is kept when it already
    names one, as a nested cascade's does); pairs no member decides stay undecided. Identical
    pairs of a batch go down once and share the answer (counted as ``batch_duplicates``), so an
    LLM or a cache behind the cascade is never asked twice in one call for the same text.
    """

    name = "cascade"

    def __init__(self, judges: Sequence[Judge]) -> None:
        if not judges:
            raise ValueError("a cascade needs at least one judge")
        for judge in judges:
            if not isinstance(judge, Judge):
                raise TypeError(f"not a judge: {judge!r}")
        self.judges = tuple(judges)
        self.counters: Counter[str] = Counter()

    @property
    def identity(self) -> str:
        return "cascade(" + ",".join(judge.identity for judge in self.judges) + ")"

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        unique, slots = distinct(pairs)
        if len(unique) < len(pairs):  # no zero entries: counters compare as dicts
            self.counters["batch_duplicates"] += len(pairs) - len(unique)
        decided = self._judge_distinct(unique)
        results = [decided[slot] for slot in slots]
        count_judgements(self.counters, results)
        return results

    def _judge_distinct(self, pairs: Sequence[Pair]) -> list[Judgement]:
        results = [UNDECIDED] * len(pairs)
        pending = list(range(len(pairs)))
        for judge in self.judges:
            if not pending:
                break
            judgements = judge.judge([pairs[index] for index in pending])
            if len(judgements) != len(pending):
                raise RuntimeError(
                    f"judge {judge.name!r} returned {len(judgements)} judgements "
                    f"for {len(pending)} pairs"
                )
            still_pending = []
            for index, judgement in zip(pending, judgements, strict=True):
                if judgement.decided:
                    results[index] = replace(judgement, judge=judgement.judge or judge.name)
                else:
                    still_pending.append(index)
            pending = still_pending
        return results
