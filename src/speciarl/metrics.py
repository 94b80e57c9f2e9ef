"""Correctness, specificity and their harmonic mean, with best-of-N, best-of-k and bootstrap CIs.

Definitions (the paper's exact ones were not available; its numbers show specificity can exceed
correctness, so specificity is measured among correct predictions):

- correctness = share of all predictions judged generic, less specific, specific or more specific;
- specificity = share of the *correct* predictions judged specific or more specific;
- hm = 2 * specificity * correctness / (specificity + correctness).

A prediction passed as ``None`` (format failure, or no judge could decide) counts as not correct
and is reported separately as ``unjudged``. With no correct prediction, specificity and hm are 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb
from typing import Any

import numpy as np

from speciarl.verdict import VERDICTS, Verdict

UNJUDGED = "unjudged"
"""Name under which predictions without a verdict are counted."""

_CATEGORIES: tuple[Verdict | None, ...] = (*VERDICTS, None)
_SPECIFIC_OR_FINER = (Verdict.SPECIFIC, Verdict.MORE_SPECIFIC)


def _label(category: Verdict | None) -> str:
    return UNJUDGED if category is None else category.value


def scores_from_counts(counts: Mapping[Verdict | None, float]) -> dict[str, float]:
    """Correctness, specificity and hm from (possibly fractional, expected) verdict counts."""
    total = sum(counts.values())
    if total <= 0:
        raise ValueError("cannot score an empty set of predictions")
    correct = sum(count for category, count in counts.items() if category and category.is_correct)
    specific = sum(counts.get(verdict, 0.0) for verdict in _SPECIFIC_OR_FINER)
    correctness = correct / total
    specificity = specific / correct if correct > 0 else 0.0
    return {
        "correctness": correctness,
        "specificity": specificity,
        "hm": harmonic_mean(specificity, correctness),
    }


def harmonic_mean(specificity: float, correctness: float) -> float:
    """HM of specificity and correctness; 0 when both are 0."""
    total = specificity + correctness
    return 2.0 * specificity * correctness / total if total > 0 else 0.0


def summarize(verdicts: Sequence[Verdict | None]) -> dict[str, Any]:
    """Count and share of each verdict (and of ``unjudged``), plus correctness/specificity/hm."""
    counts: dict[Verdict | None, int] = dict.fromkeys(_CATEGORIES, 0)
    for index, verdict in enumerate(verdicts):
        if verdict is not None and not isinstance(verdict, Verdict):
            raise TypeError(
                f"verdicts[{index}] must be a Verdict or None, got {type(verdict).__name__}"
            )
        counts[verdict] += 1
    return _summary_from_counts(counts)


def _summary_from_counts(counts: Mapping[Verdict | None, float]) -> dict[str, Any]:
    total = sum(counts.values())
    if total <= 0:
        raise ValueError("cannot summarize an empty set of predictions")
    return {
        "n": total,
        "counts": {_label(category): counts[category] for category in _CATEGORIES},
        "shares": {_label(category): counts[category] / total for category in _CATEGORIES},
        **scores_from_counts(counts),
    }


def best_verdict(group: Sequence[Verdict | None]) -> Verdict | None:
    """The best verdict among one image's predictions (``None`` if none was judged)."""
    decided = [verdict for verdict in group if verdict is not None]
    return max(decided) if decided else None


def best_of_n(groups: Sequence[Sequence[Verdict | None]]) -> dict[str, Any]:
    """The oracle that keeps, for every image, its best prediction; summarised as by `summarize`."""
    _check_groups(groups)
    return summarize([best_verdict(group) for group in groups])


def best_of_k(groups: Sequence[Sequence[Verdict | None]], k: int) -> dict[str, Any]:
    """Expected summary when, for every image, k of its N predictions are drawn without
    replacement and the best of them is kept.

    Exact and unbiased: with a group's verdicts sorted worst to best, the i-th (0-based) is the
    best of a random k-subset with probability C(i, k-1) / C(N, k). Counts and shares are
    expectations; correctness, specificity and hm are computed from the expected counts.
    """
    _check_groups(groups)
    smallest = min(len(group) for group in groups)
    if not 1 <= k <= smallest:
        raise ValueError(f"k must be within 1..{smallest} (the smallest group's size), got {k}")
    expected: dict[Verdict | None, float] = dict.fromkeys(_CATEGORIES, 0.0)
    for group in groups:
        ordered = sorted(group, key=_sort_rank)
        subsets = comb(len(ordered), k)
        for position in range(k - 1, len(ordered)):
            expected[ordered[position]] += comb(position, k - 1) / subsets
    summary = _summary_from_counts(expected)
    summary["k"] = k
    return summary


def best_of_k_curve(groups: Sequence[Sequence[Verdict | None]]) -> list[dict[str, Any]]:
    """:func:`best_of_k` for every k from 1 to the smallest group's size."""
    _check_groups(groups)
    return [best_of_k(groups, k) for k in range(1, min(len(group) for group in groups) + 1)]


def _sort_rank(verdict: Verdict | None) -> int:
    return -1 if verdict is None else verdict.rank


def _check_groups(groups: Sequence[Sequence[Verdict | None]]) -> None:
    if not groups:
        raise ValueError("no groups given")
    for index, group in enumerate(groups):
        if not group:
            raise ValueError(f"group {index} has no predictions")


def bootstrap_ci(
    verdicts: Sequence[Verdict | None],
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap confidence intervals of correctness, specificity and hm.

    Resampling n predictions with replacement only changes how many fall into each verdict, so
    every resample is drawn directly as multinomial counts: exact, and fast on 30,000 items.
    Seeded, so the same inputs give the same intervals.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    observed = summarize(verdicts)["counts"]
    total = sum(observed.values())
    probabilities = np.array([observed[_label(category)] for category in _CATEGORIES]) / total
    draws = np.random.default_rng(seed).multinomial(total, probabilities, size=resamples)

    correct_columns = [
        i for i, category in enumerate(_CATEGORIES) if category and category.is_correct
    ]
    specific_columns = [_CATEGORIES.index(verdict) for verdict in _SPECIFIC_OR_FINER]
    correct = draws[:, correct_columns].sum(axis=1)
    specific = draws[:, specific_columns].sum(axis=1)
    correctness = correct / total
    specificity = np.divide(specific, correct, out=np.zeros(resamples), where=correct > 0)
    denominator = specificity + correctness
    hm = np.divide(
        2 * specificity * correctness, denominator, out=np.zeros(resamples), where=denominator > 0
    )
    tail = (1.0 - confidence) / 2 * 100
    return {
        name: (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail)))
        for name, values in (("correctness", correctness), ("specificity", specificity), ("hm", hm))
    }
