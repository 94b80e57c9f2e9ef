"""Group rewards: the paper's specificity-aware reward, its static baselines and verdict noise.

One group is the N rollouts a policy sampled for one image. SpeciaRL rewards each rollout
relative to the best rollout of its group: the reference level c* is the best verdict, with
``more specific`` capped to ``specific`` (finer than the label is no better than the label) and
``wrong`` lifted to ``abstain`` (where nothing was right, abstaining beats guessing). A rollout
earns 1.0 when its verdict reaches c*, so the model is pushed to be as specific as it can be for
that image, and no further.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from speciarl.verdict import Verdict

SPECIARL = "speciarl"
SPECIARL_SINGLE = "speciarl-single"

STATIC_SCHEMES: Mapping[str, Mapping[Verdict, float]] = {
    "binary": {
        Verdict.MORE_SPECIFIC: 1.0,
        Verdict.SPECIFIC: 1.0,
        Verdict.LESS_SPECIFIC: 0.0,
        Verdict.GENERIC: 0.0,
        Verdict.ABSTAIN: 0.0,
        Verdict.WRONG: 0.0,
    },
    "scala1": {
        Verdict.MORE_SPECIFIC: 1.0,
        Verdict.SPECIFIC: 1.0,
        Verdict.LESS_SPECIFIC: 0.75,
        Verdict.GENERIC: 0.5,
        Verdict.ABSTAIN: 0.25,
        Verdict.WRONG: 0.0,
    },
    "scala2": {
        Verdict.MORE_SPECIFIC: 1.0,
        Verdict.SPECIFIC: 1.0,
        Verdict.LESS_SPECIFIC: 0.75,
        Verdict.GENERIC: 0.5,
        Verdict.ABSTAIN: 0.0,
        Verdict.WRONG: 0.0,
    },
    "scala3": {
        Verdict.MORE_SPECIFIC: 1.0,
        Verdict.SPECIFIC: 1.0,
        Verdict.LESS_SPECIFIC: 0.75,
        Verdict.GENERIC: 0.0,
        Verdict.ABSTAIN: 0.0,
        Verdict.WRONG: 0.0,
    },
}
"""The paper's static reward tables: a fixed reward per verdict, whatever the group did."""

SCHEMES: tuple[str, ...] = (SPECIARL, SPECIARL_SINGLE, *STATIC_SCHEMES)
DEFAULT_FORMAT_PENALTY = -1.0


def reference_level(verdicts: Sequence[Verdict | None]) -> Verdict | None:
    """The level c* a rollout must reach to be rewarded, or ``None`` if nothing was decided."""
    decided = [verdict for verdict in verdicts if verdict is not None]
    if not decided:
        return None
    best = max(decided)
    if best is Verdict.MORE_SPECIFIC:
        return Verdict.SPECIFIC
    if best is Verdict.WRONG:
        return Verdict.ABSTAIN
    return best


def group_rewards(
    verdicts: Sequence[Verdict | None],
    scheme: str = SPECIARL,
    formatted: Sequence[bool] | None = None,
    *,
    format_penalty: float = DEFAULT_FORMAT_PENALTY,
) -> list[float]:
    """Rewards of the rollouts of one group, in order.

    ``verdicts[i]`` is ``None`` where no judge could decide: that rollout gets 0.0 and takes no
    part in choosing c*. ``formatted[i] is False`` marks a rollout whose answer broke the format:
    it gets ``format_penalty`` whatever its verdict, and takes no part in choosing c* either.
    """
    _check_scheme(scheme)
    judged = _judged_verdicts(verdicts, formatted)
    rewards = _scheme_rewards(judged, scheme, reference_level(judged))
    if formatted is None:
        return rewards
    return [reward if ok else format_penalty for reward, ok in zip(rewards, formatted, strict=True)]


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown reward scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")


def _scheme_rewards(
    judged: Sequence[Verdict | None], scheme: str, reference: Verdict | None
) -> list[float]:
    """Rewards before the format penalty, given the group's reference level."""
    table = STATIC_SCHEMES.get(scheme)
    if table is not None:
        return [0.0 if verdict is None else table[verdict] for verdict in judged]
    if reference is None:
        return [0.0] * len(judged)
    rewards = [1.0 if verdict is not None and verdict >= reference else 0.0 for verdict in judged]
    if scheme == SPECIARL_SINGLE and 1.0 in rewards:
        first = rewards.index(1.0)
        rewards = [1.0 if index == first else 0.0 for index in range(len(rewards))]
    return rewards


def _judged_verdicts(
    verdicts: Sequence[Verdict | None], formatted: Sequence[bool] | None
) -> list[Verdict | None]:
    """Verdicts with format failures blanked out, after checking the inputs."""
    for index, verdict in enumerate(verdicts):
        if verdict is not None and not isinstance(verdict, Verdict):
            raise TypeError(
                f"verdicts[{index}] must be a Verdict or None, got {type(verdict).__name__}"
            )
    if formatted is None:
        return list(verdicts)
    if len(formatted) != len(verdicts):
        raise ValueError(
            f"formatted has {len(formatted)} items but verdicts has {len(verdicts)}; "
            "give one flag per rollout"
        )
    return [verdict if ok else None for verdict, ok in zip(verdicts, formatted, strict=True)]


# The ladder that verdict noise moves along; "more specific" enters it as "specific".
_NOISE_LADDER = (
    Verdict.WRONG,
    Verdict.ABSTAIN,
    Verdict.GENERIC,
    Verdict.LESS_SPECIFIC,
    Verdict.SPECIFIC,
)


def add_verdict_noise(
    verdicts: Sequence[Verdict | None], probability: float, rng: random.Random
) -> list[Verdict | None]:
    """Corrupt verdicts as in the paper's robustness ablation.

    Each decided verdict, with ``probability``, moves one step up or down the ladder
    wrong - abstain - generic - less specific - specific (``more specific`` counts as
    ``specific``; at either end it moves inward). Pass a seeded ``random.Random`` for
    reproducible noise; the same seed and inputs always give the same output.
    """
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"noise probability must be within [0, 1], got {probability}")
    noisy: list[Verdict | None] = []
    for verdict in verdicts:
        if verdict is None or rng.random() >= probability:
            noisy.append(verdict)
            continue
        position = _NOISE_LADDER.index(min(verdict, Verdict.SPECIFIC))
        if position == 0:
            step = 1
        elif position == len(_NOISE_LADDER) - 1:
            step = -1
        else:
            step = rng.choice((-1, 1))
        noisy.append(_NOISE_LADDER[position + step])
    return noisy


@dataclass(frozen=True, slots=True)
class RolloutReward:
    """The reward of one rollout and why it got it.

    ``reference`` is its group's c* (``None`` if nothing in the group was decided) and
    ``among_best`` tells whether its verdict reached c*.
    """

    reward: float
    verdict: Verdict | None
    reference: Verdict | None
    among_best: bool
    formatted: bool


def batch_rewards(
    verdicts: Sequence[Verdict | None],
    group_ids: Sequence[Hashable],
    scheme: str = SPECIARL,
    formatted: Sequence[bool] | None = None,
    *,
    format_penalty: float = DEFAULT_FORMAT_PENALTY,
) -> list[RolloutReward]:
    """Rewards of a flat batch whose items belong to groups named by ``group_ids``.

    Items of one group need not be contiguous; within a group, batch order is rollout order
    (it matters only to ``speciarl-single``). Returns one :class:`RolloutReward` per item.
    """
    if len(group_ids) != len(verdicts):
        raise ValueError(
            f"group_ids has {len(group_ids)} items but verdicts has {len(verdicts)}; "
            "give one group id per rollout"
        )
    _check_scheme(scheme)
    flags = [True] * len(verdicts) if formatted is None else list(formatted)
    judged = _judged_verdicts(verdicts, flags)
    members: dict[Hashable, list[int]] = {}
    for index, group_id in enumerate(group_ids):
        members.setdefault(group_id, []).append(index)

    results: dict[int, RolloutReward] = {}
    for indices in members.values():
        group_verdicts = [judged[index] for index in indices]
        reference = reference_level(group_verdicts)
        rewards = _scheme_rewards(group_verdicts, scheme, reference)
        for index, verdict, reward in zip(indices, group_verdicts, rewards, strict=True):
            results[index] = RolloutReward(
                reward=reward if flags[index] else format_penalty,
                verdict=verdicts[index],
                reference=reference,
                among_best=verdict is not None and reference is not None and verdict >= reference,
                formatted=flags[index],
            )
    return [results[index] for index in range(len(verdicts))]
