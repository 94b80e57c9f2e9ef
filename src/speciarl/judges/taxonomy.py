"""A judge that grades a prediction by where it sits in a label hierarchy relative to the label.

It decides, with no model call, every pair in which the hierarchy knows both names: the same
concept is specific, a close ancestor less specific, a broad ancestor generic, a descendant more
specific, anything else wrong. A name can be ambiguous (several nodes); the prediction then gets
the best verdict any reading allows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from speciarl.judges.base import UNDECIDED, Judgement, Pair, count_judgements
from speciarl.judges.hierarchy import Hierarchy, Node, Relation
from speciarl.verdict import Verdict

RULES_VERSION = 1
"""Bump whenever the mapping below changes: it is part of the judge's identity."""

_VERDICT_OF = {
    Relation.SAME: Verdict.SPECIFIC,
    Relation.CLOSE_ANCESTOR: Verdict.LESS_SPECIFIC,
    Relation.BROAD_ANCESTOR: Verdict.GENERIC,
    Relation.DESCENDANT: Verdict.MORE_SPECIFIC,
    Relation.UNRELATED: Verdict.WRONG,
}
"""Verdict for the prediction's node standing in each relation to the ground truth's node."""


class TaxonomyJudge:
    """Grades pairs by a :class:`Hierarchy`; leaves undecided what it does not know.

    A ground truth outside the hierarchy is always undecided. A prediction outside it is
    undecided, or wrong when the hierarchy is closed-world (every valid answer is in it), which
    also makes refusals and malformed answers wrong: run a lexical judge first to catch those.
    """

    name = "taxonomy"

    def __init__(self, hierarchy: Hierarchy) -> None:
        self.hierarchy = hierarchy
        self.counters: Counter[str] = Counter()

    @property
    def identity(self) -> str:
        return f"taxonomy:v{RULES_VERSION}:{self.hierarchy.digest[:16]}"

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        # A batch repeats labels (one per image) and often answers (rollouts agree): resolve each
        # distinct name and judge each distinct pair once.
        distinct = dict.fromkeys(pairs)
        names = dict.fromkeys(
            name for pair in distinct for name in (pair.ground_truth, pair.prediction)
        )
        nodes = {name: self.hierarchy.resolve(name) for name in names}
        by_pair = {
            pair: self._judgement(nodes[pair.ground_truth], nodes[pair.prediction])
            for pair in distinct
        }
        judgements = [by_pair[pair] for pair in pairs]
        count_judgements(self.counters, judgements)
        return judgements

    def _judgement(self, truths: tuple[Node, ...], predictions: tuple[Node, ...]) -> Judgement:
        verdict = self._verdict(truths, predictions)
        return UNDECIDED if verdict is None else Judgement(verdict, self.name)

    def _verdict(self, truths: tuple[Node, ...], predictions: tuple[Node, ...]) -> Verdict | None:
        if not truths:
            return None
        if not predictions:
            return Verdict.WRONG if self.hierarchy.closed_world else None
        return max(
            _VERDICT_OF[self.hierarchy.relation(predicted, truth)]
            for truth in truths
            for predicted in predictions
        )
