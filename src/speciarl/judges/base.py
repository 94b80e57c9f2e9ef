"""What every judge is: a batch of (ground truth, prediction) pairs in, one judgement each out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar, runtime_checkable

from speciarl.verdict import Verdict


class Pair(NamedTuple):
    """One prediction to grade against its ground-truth label.

    A named tuple rather than a dataclass: judges deduplicate pairs through dicts at every
    training step, and tuple hashing and equality run in C.
    """

    ground_truth: str
    prediction: str


@dataclass(frozen=True, slots=True)
class Judgement:
    """A judge's answer for one pair.

    ``verdict`` is ``None`` when the judge could not decide (the pair moves on to the next judge
    of a cascade, or stays undecided). ``judge`` names the judge that decided, ``cached`` tells
    whether the verdict was read from a verdict cache rather than judged now.
    """

    verdict: Verdict | None
    judge: str | None = None
    cached: bool = False

    @property
    def decided(self) -> bool:
        return self.verdict is not None


UNDECIDED = Judgement(None)


@runtime_checkable
class Judge(Protocol):
    """A grader of predictions.

    ``name`` is short and human-readable (``lexical``); ``identity`` changes whenever anything
    that can change a verdict changes (configuration, hierarchy, prompt, model), because verdict
    caches are keyed by it. ``counters`` accumulate over the judge's lifetime, for reports.
    """

    name: str
    counters: Counter[str]

    @property
    def identity(self) -> str: ...

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """Grade every pair; the result has one judgement per pair, in the same order."""
        ...


_Item = TypeVar("_Item", bound=Hashable)


def distinct(items: Sequence[_Item]) -> tuple[list[_Item], list[int]]:
    """The distinct items of a batch, first seen first, and where each input item went.

    ``unique, slots = distinct(pairs)``: judge ``unique`` once each, then
    ``[answers[slot] for slot in slots]`` gives one answer per input pair, in order. Judges call
    this so that no batch pays twice for one pair (see ``Cascade`` and ``LLMJudge``).
    """
    slot_of: dict[_Item, int] = {}
    slots = [slot_of.setdefault(item, len(slot_of)) for item in items]
    return list(slot_of), slots


def count_judgements(counters: Counter[str], judgements: Sequence[Judgement]) -> None:
    """Add the usual counters for a batch: pairs seen, decided by each judge, undecided."""
    counters["pairs"] += len(judgements)
    for judgement in judgements:
        if judgement.verdict is None:
            counters["undecided"] += 1
        else:
            counters[f"decided_by:{judgement.judge}"] += 1
