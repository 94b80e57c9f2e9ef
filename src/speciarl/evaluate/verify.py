"""Judging stored predictions, resumably: decided verdicts are stored, undecided ones retried.

A prediction whose answer breaks the format is stored with no verdict (it counts as not correct
and is reported apart, as a truncation when generation hit the token limit); a well-formed answer
no judge could decide is not stored, so the next run asks again; a prediction that failed (its
image was unreadable) has nothing to judge.

Every record says who gave it: ``judge`` (the member that decided), ``cached`` (read from the
verdict cache), ``judge_id`` (the whole cascade, see `speciarl.judges.describe.judge_id`) and
``judge_setup`` (the cascade in words). A store holds one judge's verdicts only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from speciarl.answer import DEFAULT_MAX_CHARS, DEFAULT_MAX_WORDS
from speciarl.evaluate.store import RecordStore
from speciarl.judges.base import Judge
from speciarl.judges.describe import judge_id, judge_summary
from speciarl.rollouts import judge_rollouts

VERDICT_FIELDS = ("answer_status", "verdict", "judge", "cached", "judge_id")


@dataclass
class VerifySummary:
    judged: int = 0
    format_failures: int = 0
    truncations: int = 0
    """Format failures whose generation stopped at ``max_new_tokens``."""
    undecided: int = 0
    prediction_errors: int = 0
    already_done: int = 0


def verify(
    predictions: RecordStore,
    verdicts: RecordStore,
    judge: Judge,
    *,
    chunk_size: int = 512,
    max_words: int = DEFAULT_MAX_WORDS,
    max_chars: int = DEFAULT_MAX_CHARS,
    progress: Callable[[int], Callable[[int], object]] | None = None,
    repair: bool = False,
) -> VerifySummary:
    """Judge every prediction that has no stored verdict yet; append after each chunk.

    ``progress``, given the number of predictions, returns a callback that is told how many are
    finished as the work goes on (a progress bar's ``update``).
    """
    stored = predictions.load(repair=repair)
    done = verdicts.load(repair=repair)
    identity, setup = judge_id(judge), judge_summary(judge)
    others = {record["judge_id"] for record in done.values()} - {identity}
    if others:
        raise ValueError(
            f"{verdicts.path} holds verdicts of judge {', '.join(sorted(others))}, not of "
            f"{identity} ({setup}); give each judge its own store"
        )
    summary = VerifySummary(already_done=len(done))
    summary.prediction_errors = sum(record["error"] is not None for record in stored.values())
    todo = [r for key, r in stored.items() if key not in done and r["error"] is None]
    advance = progress(len(stored)) if progress is not None else None
    if advance is not None:
        advance(len(stored) - len(todo))
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]
        judged = judge_rollouts(
            [record["completion"] for record in chunk],
            [record["label"] for record in chunk],
            judge,
            max_words=max_words,
            max_chars=max_chars,
        )
        records: list[dict[str, Any]] = []
        for prediction, (answer, judgement) in zip(chunk, judged, strict=True):
            if answer.formatted and judgement.verdict is None:
                summary.undecided += 1
                continue
            summary.format_failures += not answer.formatted
            summary.truncations += not answer.formatted and bool(prediction.get("truncated"))
            summary.judged += answer.formatted
            records.append(
                {
                    "sample_id": prediction["sample_id"],
                    "prediction_index": prediction["prediction_index"],
                    "answer": answer.text,
                    "answer_status": answer.status.value,
                    "verdict": judgement.verdict.value if judgement.verdict else None,
                    "judge": judgement.judge,
                    "cached": judgement.cached,
                    "judge_id": identity,
                    "judge_setup": setup,
                }
            )
        verdicts.append(records)
        if advance is not None:
            advance(len(chunk))
    return summary
