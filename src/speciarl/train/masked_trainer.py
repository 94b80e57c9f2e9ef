"""TRL's GRPOTrainer with undecided rollouts masked, not rewarded.

A reward function whose ``masks_undecided`` attribute is true (:class:`SpeciaRLReward`) returns
``None`` for a rollout no judge could decide. TRL alone would turn that ``None`` into NaN and,
as soon as another reward function (DAPO's soft overlong penalty) gives the row a number, sum
the row with ``nansum`` into an ordinary reward; and even a row TRL finds unscorable stays in the
loss (its KL term, its tokens in the DAPO normaliser). Here such a rollout is masked:

* its whole row of rewards becomes NaN right after TRL gathers the rewards of every process
  (:meth:`MaskedGRPOTrainer._calculate_rewards`), so no reward function's value of it counts,
  in the advantages nor in TRL's logged ``reward``/``reward_std``;
* the advantages are computed again over the decided rollouts only (:func:`masked_advantages`,
  which mirrors TRL 1.16's ``sum_then_normalize`` computation) and the masked ones get 0;
* its ``completion_mask`` row is zeroed, as TRL does for truncated completions, so it adds
  nothing to the loss, the KL term or the entropy, and ``num_items_in_batch`` (the DAPO loss's
  token count) is counted again without it.

The hand-over is the reward itself: the NaN travels with TRL's own gather, in the order of the
batch, so no state outlives one call of ``_generate_and_score_completions``.
"""

from __future__ import annotations

from typing import Any

import torch
from trl import GRPOTrainer
from trl.trainer.utils import nanstd

STD_EPSILON = 1e-4
"""TRL 1.16 divides by ``std + 1e-4``."""


def masked_advantages(
    rewards_per_func: torch.Tensor,
    weights: torch.Tensor,
    masked: torch.Tensor,
    num_generations: int,
    scale_rewards: str,
) -> torch.Tensor:
    """Advantages of a gathered batch (rows in group order) with the ``masked`` rows left out.

    Mirrors ``GRPOTrainer._generate_and_score_completions`` of TRL 1.16 with
    ``multi_objective_aggregation="sum_then_normalize"``: the weighted per-function rewards are
    summed with ``nansum``; each group's mean is subtracted (``nanmean`` over its decided
    rollouts); with ``scale_rewards="group"`` the result is divided by the group's standard
    deviation plus 1e-4 (Bessel-corrected, over decided rollouts: TRL's ``nanstd``), with
    ``"batch"`` by that of the whole batch's decided rollouts, with ``"none"`` not at all.
    A group with a single decided rollout has an undefined standard deviation and, as in TRL,
    advantage 0; masked rollouts get 0.
    """
    if rewards_per_func.dim() != 2 or rewards_per_func.size(1) != weights.numel():
        raise ValueError(
            f"rewards of shape {tuple(rewards_per_func.shape)} do not match "
            f"{weights.numel()} reward weights"
        )
    if masked.shape != rewards_per_func.shape[:1] or rewards_per_func.size(0) % num_generations:
        raise ValueError(
            f"{masked.numel()} mask flags for {rewards_per_func.size(0)} rollouts in groups of "
            f"{num_generations}"
        )
    rewards = (rewards_per_func * weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
    rewards[masked] = torch.nan
    grouped = rewards.view(-1, num_generations)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(num_generations)
    if scale_rewards in ("group", "none"):
        std = (
            nanstd(grouped, dim=1).repeat_interleave(num_generations)
            if num_generations > 1
            else torch.zeros_like(rewards)
        )
    elif scale_rewards == "batch":
        std = (
            nanstd(rewards).expand_as(rewards) if rewards.numel() > 1 else torch.zeros_like(rewards)
        )
    else:
        raise ValueError(f"scale_rewards must be group, batch or none, not {scale_rewards!r}")
    advantages = rewards - mean
    if scale_rewards != "none":
        advantages = advantages / (std + STD_EPSILON)
    return torch.nan_to_num(advantages, nan=0.0)


class MaskedGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` that masks the rollouts a ``masks_undecided`` reward left undecided."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.multi_objective_aggregation != "sum_then_normalize":
            raise ValueError(
                "masking undecided rollouts mirrors TRL's sum_then_normalize advantages only; "
                f"multi_objective_aggregation is {self.multi_objective_aggregation!r}"
            )
        self._masking_columns = [
            index
            for index, function in enumerate(self.reward_funcs)
            if getattr(function, "masks_undecided", False)
        ]
        self._handed_over: tuple[torch.Tensor, torch.Tensor] | None = None

    def _get_per_token_logps_and_entropies(self, *args, batch_num_images=None, **kwargs):  # type: ignore[no-untyped-def]
        """TRL 1.16 forwards every processor output here, but has no parameter for
        LLaVA-OneVision's ``batch_num_images``; the model reads a missing one as one image per
        prompt, which every speciarl prompt holds, so it is checked and left out."""
        if batch_num_images is not None and any(int(n) != 1 for n in batch_num_images):
            raise ValueError(
                "every prompt must hold exactly one image; the processor counted "
                f"{batch_num_images}"
            )
        return super()._get_per_token_logps_and_entropies(*args, **kwargs)

    def _count_loss_tokens(self, batch: dict[str, Any]) -> torch.Tensor:
        """``num_items_in_batch`` (the DAPO loss's normaliser) of a batch whose loss rows
        changed: its completion tokens that count in the loss, summed over every process (a
        collective call)."""
        loss_mask = batch["completion_mask"]
        if "tool_mask" in batch:
            loss_mask = loss_mask * batch["tool_mask"]
        return self.accelerator.gather(loss_mask.sum()).sum()

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        """TRL's gathered rewards, with every masked rollout's whole row set to NaN."""
        rewards_per_func = super()._calculate_rewards(
            inputs, prompts, completions, completion_ids_list
        )
        if self._handed_over is not None:
            raise RuntimeError("rewards were computed twice for one batch; nothing to mask them by")
        masked = torch.zeros(
            rewards_per_func.size(0), dtype=torch.bool, device=rewards_per_func.device
        )
        if self._masking_columns:
            masked = torch.isnan(rewards_per_func[:, self._masking_columns]).any(dim=1)
        rewards_per_func = rewards_per_func.clone()
        rewards_per_func[masked] = torch.nan
        self._handed_over = (rewards_per_func, masked)
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        self._handed_over = None
        output = super()._generate_and_score_completions(inputs)
        handed, self._handed_over = self._handed_over, None
        if handed is None:
            raise RuntimeError("no rewards were computed for this batch; nothing to mask them by")
        rewards_per_func, masked = handed
        mask = output["completion_mask"]
        local = mask.size(0)
        world = self.accelerator.num_processes
        if masked.numel() != local * world or output["advantages"].shape != (local,):
            raise RuntimeError(
                f"{masked.numel()} gathered rewards do not match {world} process(es) x "
                f"{local} local completions (advantages {tuple(output['advantages'].shape)})"
            )
        mode = "train" if self.model.training else "eval"
        groups = self.num_generations if mode == "train" else self.num_generations_eval
        advantages = masked_advantages(
            rewards_per_func, self.reward_weights, masked, groups, self.scale_rewards
        )
        mine = slice(
            self.accelerator.process_index * local, (self.accelerator.process_index + 1) * local
        )
        keep = (~masked[mine]).to(mask.device)
        output["advantages"] = advantages[mine].to(output["advantages"].device)
        output["completion_mask"] = mask * keep.unsqueeze(1).to(mask.dtype)
        # every process makes this gather, masked rollouts or not
        output["num_items_in_batch"] = self._count_loss_tokens(output)
        self._metrics[mode]["speciarl/masked"].append(masked.float().mean().item())
        return output
