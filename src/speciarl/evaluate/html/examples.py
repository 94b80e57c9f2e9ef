"""Predictions as pages show them, and the deterministic choice of which examples a page embeds.

A page never embeds everything: a 30,000-image evaluation would make a page nobody can open.
It embeds, per category (a verdict, a verdict transition), a bounded number of examples spread
evenly over the candidates in sample-id order, so the choice is the same on every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from speciarl.evaluate.html.shared import VERDICT_NAMES, clipped, reasoning_of, unknown_verdict
from speciarl.evaluate.store import Key
from speciarl.metrics import UNJUDGED

T = TypeVar("T")
Records = Mapping[Key, Mapping[str, Any]]

EXAMPLES_PER_VERDICT = 24
"""Images embedded per verdict and dataset in ``report.html`` (each with at least one prediction
of that verdict); the stores hold the rest."""

PREDICTIONS_PER_IMAGE = 8
"""Predictions of one image shown in full; the image's verdict counts cover all of them."""


def spread(items: Sequence[T], limit: int) -> list[T]:
    """At most ``limit`` of ``items``, evenly spaced from the first (all when there are few)."""
    if len(items) <= limit:
        return list(items)
    return [items[(index * len(items)) // limit] for index in range(limit)]


def images_of(predictions: Records) -> dict[str, list[Key]]:
    """Each sample id's prediction keys in prediction order, sample ids sorted."""
    grouped: dict[str, list[Key]] = {}
    for key in sorted(predictions):
        grouped.setdefault(key[0], []).append(key)
    return grouped


def verdict_label(verdict: Mapping[str, Any] | None) -> str:
    """A verdict record's label as reports name it; ``unjudged`` without a verdict."""
    return (verdict or {}).get("verdict") or UNJUDGED


def check_verdicts(verdicts: Records, store: Path) -> None:
    """Every verdict in a loaded verdict store is one of the six (or none); another (an edited
    or foreign store) is named with its record instead of failing later as a bare lookup."""
    for (sample_id, index), record in verdicts.items():
        value = record.get("verdict")
        if value is not None and value not in VERDICT_NAMES:
            raise unknown_verdict(value, f"{store}: {sample_id} prediction {index}")


def prediction_view(
    prediction: Mapping[str, Any], verdict: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One prediction: its answer, verdict label, how it got it, and the reasoning.

    A prediction without a verdict record failed (``error``), is undecided or is not verified
    yet; one whose answer broke the format has a record without a verdict.
    """
    from speciarl.answer import extract_answer

    completion = prediction.get("completion") or ""
    answer = None
    if prediction.get("error") is not None:
        status = f"prediction failed: {prediction['error']}"
    elif verdict is None:
        status = "no verdict (undecided, or not verified yet)"
        answer = extract_answer(completion).text
    elif verdict.get("verdict") is None:
        cut = " (cut off at the token limit)" if prediction.get("truncated") else ""
        status = f"format failure: {verdict.get('answer_status')}{cut}"
    else:
        cached = ", from the cache" if verdict.get("cached") else ""
        status = f"judged by {verdict.get('judge')}{cached}"
        answer = verdict.get("answer")
    return {
        "index": prediction["prediction_index"],
        "answer": answer,
        "verdict": verdict_label(verdict),
        "status": status,
        "reasoning": clipped(reasoning_of(completion)),
    }


def image_view(keys: Sequence[Key], predictions: Records, verdicts: Records) -> dict[str, Any]:
    """One image: id, label, the verdict counts of all its predictions and at most
    `PREDICTIONS_PER_IMAGE` of them in full: the first of each verdict, then the earliest."""
    labels = [verdict_label(verdicts.get(key)) for key in keys]
    counts: dict[str, int] = {}
    first_of_each: dict[str, Key] = {}
    for key, label in zip(keys, labels, strict=True):
        counts[label] = counts.get(label, 0) + 1
        first_of_each.setdefault(label, key)
    shown = set(first_of_each.values())  # at most 7 verdict labels: fewer than the cap
    for key in keys:
        if len(shown) >= PREDICTIONS_PER_IMAGE:
            break
        shown.add(key)
    return {
        "id": keys[0][0],
        "label": predictions[keys[0]]["label"],
        "counts": counts,
        "n": len(keys),
        "predictions": [
            prediction_view(predictions[key], verdicts.get(key))
            for key in sorted(shown, key=lambda key: key[1])
        ],
    }
