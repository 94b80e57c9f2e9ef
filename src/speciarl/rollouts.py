"""One reward step: parse every rollout's answer, judge the well-formed ones, reward by group.

This is the whole per-step path between a policy's completions and its rewards, kept free of
any trainer so the same code serves TRL, verl and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from speciarl.answer import DEFAULT_MAX_CHARS, DEFAULT_MAX_WORDS, ParsedAnswer, extract_answer
from speciarl.judges.base import UNDECIDED, Judge, Judgement, Pair
from speciarl.reward import DEFAULT_FORMAT_PENALTY, SPECIARL, RolloutReward, batch_rewards


@dataclass(frozen=True, slots=True)
class ScoredRollout:
    """Everything known about one rollout after its reward step, for logs and metrics."""

    answer: ParsedAnswer
    judgement: Judgement
    reward: RolloutReward


def judge_rollouts(
    completions: Sequence[str],
    ground_truths: Sequence[str],
    judge: Judge,
    *,
    max_words: int = DEFAULT_MAX_WORDS,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> list[tuple[ParsedAnswer, Judgement]]:
    """Parse every completion and judge the well-formed answers; the rest stay unjudged."""
    if len(completions) != len(ground_truths):
        raise ValueError(
            f"got {len(completions)} completions and {len(ground_truths)} ground truths; "
            "give one of each per rollout"
        )
    answers = [
        extract_answer(completion, max_words=max_words, max_chars=max_chars)
        for completion in completions
    ]
    judged_indices = [index for index, answer in enumerate(answers) if answer.formatted]
    pairs = [Pair(ground_truths[index], answers[index].text or "") for index in judged_indices]
    judgements: list[Judgement] = [UNDECIDED] * len(answers)
    for index, judgement in zip(judged_indices, judge.judge(pairs), strict=True):
        judgements[index] = judgement
    return list(zip(answers, judgements, strict=True))


def score_rollouts(
    completions: Sequence[str],
    ground_truths: Sequence[str],
    group_ids: Sequence[Hashable],
    judge: Judge,
    *,
    scheme: str = SPECIARL,
    max_words: int = DEFAULT_MAX_WORDS,
    max_chars: int = DEFAULT_MAX_CHARS,
    format_penalty: float = DEFAULT_FORMAT_PENALTY,
) -> list[ScoredRollout]:
    """Score a flat batch of rollouts; ``group_ids`` says which rollouts share an image.

    A rollout that breaks the answer format is never sent to the judge and gets
    ``format_penalty``.
    """
    if len(group_ids) != len(completions):
        raise ValueError(
            f"got {len(completions)} completions and {len(group_ids)} group ids; "
            "give one of each per rollout"
        )
    judged = judge_rollouts(
        completions, ground_truths, judge, max_words=max_words, max_chars=max_chars
    )
    rewards = batch_rewards(
        [judgement.verdict for _, judgement in judged],
        group_ids,
        scheme,
        [answer.formatted for answer, _ in judged],
        format_penalty=format_penalty,
    )
    return [
        ScoredRollout(answer, judgement, reward)
        for (answer, judgement), reward in zip(judged, rewards, strict=True)
    ]
