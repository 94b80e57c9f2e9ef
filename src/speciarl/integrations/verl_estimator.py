"""SpeciaRL's group reward as a verl advantage estimator, for verl 0.7.1 and later.

Those verl releases score every rollout alone, so no reward function sees a group. An advantage
estimator does: verl hands it the summed scores of a whole batch and each rollout's prompt
``uid``. With :func:`speciarl.integrations.verl.compute_score_level` as the reward function,
each score holds the rollout's verdict level, and :func:`compute_speciarl_advantage` computes
c* per ``uid``, the rewards of :func:`speciarl.reward.batch_rewards`, and from them the
advantages with verl's own GRPO outcome estimator (``compute_grpo_outcome_advantage``), over
decided rollouts only.

Importing this module registers the estimator as ``speciarl`` (``algorithm.adv_estimator``).
verl imports it in every process that imports verl, through the ``verl.plugins`` entry point
this package declares (verl 0.9 and later), or through
``VERL_USE_EXTERNAL_MODULES=speciarl.integrations.verl_estimator`` (0.7.1 and later; an import
error then stops verl instead of being logged at debug level). Unlike
:mod:`speciarl.integrations.verl`, which verl executes by file path, this module imports verl
(and through it torch).

Settings, read from verl's algorithm config (``config``). verl's config has no such keys, so add
them with Hydra's ``+`` (``+algorithm.speciarl_scheme=speciarl``):

* ``algorithm.speciarl_scheme``: the reward scheme, any of :data:`speciarl.reward.SCHEMES`;
  else ``$SPECIARL_REWARD_SCHEME``, else ``speciarl``.
* ``algorithm.speciarl_format_penalty``: the reward of a format failure (default -1).
* ``algorithm.norm_adv_by_std_in_grpo`` (verl's own key): divide by the group's std (GRPO,
  DAPO) or not (Dr.GRPO).
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING, Any

import numpy as np
from verl.trainer.ppo import core_algos

from speciarl.integrations.verl import ESTIMATOR_NAME, read_level_score, reward_scheme
from speciarl.reward import DEFAULT_FORMAT_PENALTY, SPECIARL_SINGLE, batch_rewards

if TYPE_CHECKING:
    import torch

SCHEME_CONFIG_KEY = "speciarl_scheme"
FORMAT_PENALTY_CONFIG_KEY = "speciarl_format_penalty"

_CANONICAL_NAME = "speciarl.integrations.verl_estimator"
_UNDECIDED_GROUP = "speciarl-undecided"
"""With the row number, the key of an undecided row's own group: a tuple, never a verl uid."""


def compute_speciarl_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray | None = None,
    config: Any = None,
    **unused: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages (and returns, the same tensor) of a batch scored by ``compute_score_level``.

    ``token_level_rewards`` (rows x response tokens) sums, per row, to a level score (plus any
    penalty verl added, which joins the reward); ``index[i]`` is row i's prompt ``uid``, so one
    ``uid`` is one group of rollouts. verl's padding rows (a ``pad...`` uid, zero score, empty
    mask) form their own group and get zero advantages. An undecided rollout (well formed, no
    verdict) is masked as in TRL's :class:`~speciarl.train.masked_trainer.MaskedGRPOTrainer`:
    advantage 0, and no part in its group's mean and std. ``config`` is verl's algorithm config
    (see the module's settings). ``unused`` takes the optional inputs verl passes to every
    custom estimator (``reward_baselines``, say), which the group reward does not need.
    """
    rows = token_level_rewards.shape[0]
    if index is None:
        raise ValueError(
            "the speciarl advantage estimator needs the prompt uids (index), which verl passes "
            "when the batch has a 'uid' column; without them no rollout has a group"
        )
    if len(index) != rows:
        raise ValueError(f"index has {len(index)} uids but token_level_rewards has {rows} rows")
    if _setting(config, "use_kl_in_reward", False):
        raise ValueError(
            "algorithm.use_kl_in_reward=True puts a KL penalty into every token's reward, which "
            "corrupts the verdict levels the speciarl estimator reads; use the KL loss instead "
            "(actor_rollout_ref.actor.use_kl_loss=True), as the paper does"
        )
    scheme = reward_scheme(_setting(config, SCHEME_CONFIG_KEY, None))
    _check_group_filter(config, scheme)
    penalty = _format_penalty(config)

    outcomes = [
        read_level_score(score, row)
        for row, score in enumerate(token_level_rewards.sum(dim=-1).tolist())
    ]
    rewards = batch_rewards(
        [outcome.verdict for outcome in outcomes],
        list(index),
        scheme,
        [outcome.formatted for outcome in outcomes],
        format_penalty=penalty,
    )
    undecided = [outcome.formatted and outcome.verdict is None for outcome in outcomes]
    scalar_rewards = token_level_rewards.new_tensor(
        [
            0.0 if hidden else reward.reward + outcome.penalty
            for reward, outcome, hidden in zip(rewards, outcomes, undecided, strict=True)
        ]
    )
    return core_algos.compute_grpo_outcome_advantage(
        token_level_rewards=scalar_rewards.unsqueeze(-1),
        response_mask=response_mask,
        index=_undecided_alone(index, undecided),
        norm_adv_by_std_in_grpo=bool(_setting(config, "norm_adv_by_std_in_grpo", True)),
    )


def _undecided_alone(index: np.ndarray, undecided: list[bool]) -> np.ndarray:
    """``index`` with every undecided row in a group of its own, as TRL's masked trainer leaves
    it out of its group's statistics: verl gives a group of one mean 0 and std 1, so the row's
    reward 0 becomes advantage 0, and its siblings' mean and std are over decided rows only."""
    grouped = np.empty(len(index), dtype=object)
    for row, (uid, alone) in enumerate(zip(index, undecided, strict=True)):
        grouped[row] = (_UNDECIDED_GROUP, row) if alone else uid
    return grouped


def _setting(config: Any, key: str, default: Any) -> Any:
    """``config[key]`` from verl's algorithm config (an OmegaConf node or verl's AlgoConfig)."""
    if config is None:
        return default
    value = config.get(key, default)
    return default if value is None else value


def _format_penalty(config: Any) -> float:
    value = _setting(config, FORMAT_PENALTY_CONFIG_KEY, DEFAULT_FORMAT_PENALTY)
    try:
        penalty = float(value)
    except (TypeError, ValueError):
        penalty = math.nan
    if not math.isfinite(penalty):
        raise ValueError(
            f"algorithm.{FORMAT_PENALTY_CONFIG_KEY} must be a finite number, got {value!r}"
        )
    return penalty


def _check_group_filter(config: Any, scheme: str) -> None:
    """Refuse DAPO's group filter where equal levels still carry a signal (``speciarl-single``)."""
    group_filter = _setting(config, "filter_groups", None)
    if scheme == SPECIARL_SINGLE and group_filter is not None and group_filter.get("enable"):
        raise ValueError(
            "algorithm.filter_groups evicts groups whose rollouts share one level, but under "
            "the speciarl-single scheme such a group still rewards its first rollout alone; "
            "use the speciarl scheme with the group filter, or turn the filter off"
        )


def register() -> None:
    """Register :func:`compute_speciarl_advantage` in verl as ``speciarl``; safe to repeat.

    A copy of this file loaded under another module name (by path) registers the one function
    of the importable module, so verl's registry never sees two candidates for one name.
    """
    if __name__ != _CANONICAL_NAME:
        importlib.import_module(_CANONICAL_NAME)  # registers on import
        return
    if core_algos.ADV_ESTIMATOR_REGISTRY.get(ESTIMATOR_NAME) is not compute_speciarl_advantage:
        core_algos.register_adv_est(ESTIMATOR_NAME)(compute_speciarl_advantage)


register()
