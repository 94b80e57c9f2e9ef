"""DAPO's dynamic sampling on TRL's GRPO trainer: train only on groups that carry a gradient.

A group whose decided rollouts all got the same reward has advantage 0 for every rollout: it
adds nothing to the policy gradient but still fills the batch (and, under the DAPO loss, the
token count that normalises it). DAPO drops such groups and generates more until the batch is
full of groups with signal. TRL 1.16 has no such option; :class:`DynamicSamplingGRPOTrainer`
adds it where TRL generates, in ``_generate_and_score_completions``:

1. round 1 generates and scores the step's own batch (the rows TRL's sampler handed this
   process), topped up from a side stream of training rows to ``images_per_round`` images
   when that is larger;
2. each group with signal (:func:`groups_with_signal`) is kept, the others dropped; while some
   process holds fewer kept groups than its share of the step, every process generates another
   round of ``images_per_round`` images from the side stream, at most ``max_generation_batches``
   rounds in all;
3. the first kept groups (whole, in the order generated) become the step's batch, of exactly the
   shape TRL would have made without dynamic sampling (:func:`merge_pieces`). A step that ran
   out of rounds fills its shortfall with dropped groups masked out of the loss, and says so.

Every process decides from the rewards TRL gathers from all of them, so all make the same
number of rounds and the same collective calls. Groups never move between processes: each
process must generate whole groups (:meth:`OptimizerSettings.dynamic_sampling_problem`).

TRL's own metrics (``reward``, completion lengths, ``speciarl/...`` of the reward) cover every
rollout generated in a step, kept or not; ``speciarl/dynamic_sampling/...`` says what was kept.
The rollout log records every round's rollouts under the step, each with its ``round``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from accelerate.utils import gather_object
from trl.trainer.utils import split_pixel_values_by_grid, unsplit_pixel_values_by_grid

from speciarl.train.masked_trainer import MaskedGRPOTrainer

log = logging.getLogger(__name__)

GROUP_KEY = "sample_id"
"""The dataset column that names a group: the SpeciaRL reward groups rollouts by it, so one
reward call must never hold two groups of the same image."""

# What each key TRL 1.16's _generate_and_score_completions may return holds, and so how rows
# of different rounds are put together. "pad" fills with the tokenizer's padding token.
PROMPT_SIDE: dict[str, Any] = {"prompt_ids": "pad", "prompt_mask": 0}
"""Left-padded to the longest prompt."""
COMPLETION_SIDE: dict[str, Any] = {
    "completion_ids": "pad",
    "completion_mask": 0,
    "old_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0,
    "sampling_per_token_logps": 0.0,
    "importance_sampling_ratio": 1.0,
    "tool_mask": 1,
}
"""Right-padded to the longest completion (the fill values are TRL's own)."""
PROMPT_AND_COMPLETION: dict[str, Any] = {"token_type_ids": 0, "mm_token_type_ids": 0}
"""One row over prompt and completion: the prompt part padded left, the completion part right."""
ROW_KEYS = frozenset(
    {
        "advantages",
        "pixel_values",
        "image_grid_thw",
        "image_position_ids",
        "pixel_attention_mask",
        "spatial_shapes",
        "image_sizes",
        "num_images",
        "num_tiles",
    }
)
"""One entry per row (image tensors once TRL's ``split_pixel_values_by_grid`` has split them
per row), concatenated as they are."""
PADDED_IMAGES = frozenset({"pixel_values", "pixel_attention_mask"})
"""Image tensors a processor pads to the widest of its batch: Idefics3/SmolVLM's ``(rows, most
tiles, C, H, W)`` and their pixel mask, LLaVA-OneVision's ``(rows, most anyres patches, C, H,
W)``. Rounds of other widths are padded at the end of every dimension but the first with zeros,
as the processors pad: Idefics3 drops an all-zero tile and ignores pixels masked 0,
LLaVA-OneVision keeps only the patches its ``image_sizes`` count. Other layouts never differ
beyond the first dimension, and are left as they are."""
RECOUNTED = frozenset({"num_items_in_batch"})
"""Counted again over the merged batch by the trainer (a gather over processes)."""
KNOWN_KEYS = frozenset(
    {*PROMPT_SIDE, *COMPLETION_SIDE, *PROMPT_AND_COMPLETION, *ROW_KEYS, *RECOUNTED}
)


class BatchKeyError(ValueError):
    """A key of TRL's batch that dynamic sampling does not know how to select or merge."""


def groups_with_signal(
    rewards_per_func: torch.Tensor, weights: torch.Tensor, num_generations: int
) -> torch.Tensor:
    """Which groups (rows in group order, ``num_generations`` each) carry a gradient: at least
    two decided rollouts whose summed rewards (weighted, as TRL sums them) are not all equal.
    A rollout whose every reward is NaN is undecided (masked or unscorable)."""
    if rewards_per_func.dim() != 2 or rewards_per_func.size(0) % num_generations:
        raise ValueError(
            f"rewards of shape {tuple(rewards_per_func.shape)} are not whole groups of "
            f"{num_generations}"
        )
    decided = ~torch.isnan(rewards_per_func).all(dim=1)
    summed = (rewards_per_func * weights.to(rewards_per_func.device).unsqueeze(0)).nansum(dim=1)
    highest = summed.masked_fill(~decided, -torch.inf).view(-1, num_generations).amax(dim=1)
    lowest = summed.masked_fill(~decided, torch.inf).view(-1, num_generations).amin(dim=1)
    enough = decided.view(-1, num_generations).sum(dim=1) >= 2
    return enough & (highest > lowest)


def split_rows(output: dict[str, Any]) -> dict[str, Any]:
    """TRL's batch with its image tensors split per row, every key checked: a key this module
    does not know raises :class:`BatchKeyError` rather than being dropped."""
    unknown = sorted(set(output) - KNOWN_KEYS)
    if unknown:
        raise BatchKeyError(
            f"dynamic sampling does not know the batch key {unknown[0]!r} (known: "
            f"{', '.join(sorted(KNOWN_KEYS))}); a newer TRL adds it: teach "
            "speciarl.train.dynamic_sampling how to pad or select it"
        )
    return split_pixel_values_by_grid(output)


def take_rows(split: dict[str, Any], rows: Sequence[int]) -> dict[str, Any]:
    """The ``rows`` of a batch from :func:`split_rows`, every per-row key selected;
    ``num_items_in_batch`` is left out (it is counted again over the merged batch)."""
    count = split["prompt_ids"].size(0)
    index = torch.tensor(list(rows), dtype=torch.long)
    piece: dict[str, Any] = {}
    for key, value in split.items():
        if key in RECOUNTED:
            continue
        if isinstance(value, list) and len(value) == count:
            piece[key] = [value[row] for row in rows]
        elif isinstance(value, torch.Tensor) and value.dim() >= 1 and value.size(0) == count:
            piece[key] = value[index.to(value.device)]
        else:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise BatchKeyError(
                f"batch key {key!r} ({shape}) does not hold one entry per row of the "
                f"{count}-row batch, so its rows cannot be selected"
            )
    return piece


def mask_out_of_loss(piece: dict[str, Any]) -> dict[str, Any]:
    """Rows that fill the batch but teach nothing: no loss tokens and advantage 0."""
    return {
        **piece,
        "completion_mask": torch.zeros_like(piece["completion_mask"]),
        "advantages": torch.zeros_like(piece["advantages"]),
    }


def merge_pieces(pieces: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Rows of several rounds as one batch in TRL's layout: prompts padded on the left and
    completions on the right to the longest of any piece, image tensors concatenated back
    (``unsplit_pixel_values_by_grid``). ``num_items_in_batch`` is the caller's to add."""
    if not pieces:
        raise ValueError("no rows to merge")
    keys = list(pieces[0])
    for piece in pieces[1:]:
        if set(piece) != set(keys):
            raise BatchKeyError(
                f"rounds returned different batch keys: {sorted(keys)} and {sorted(piece)}"
            )
    merged: dict[str, Any] = {}
    for key in keys:
        values = [piece[key] for piece in pieces]
        if key in PADDED_IMAGES:
            values = _pad_images(key, values)
        if all(isinstance(value, list) for value in values):
            merged[key] = [entry for value in values for entry in value]
        elif key in PROMPT_SIDE:
            merged[key] = _pad_and_stack(values, _fill(PROMPT_SIDE[key], pad_token_id), "left")
        elif key in COMPLETION_SIDE:
            merged[key] = _pad_and_stack(values, _fill(COMPLETION_SIDE[key], pad_token_id), "right")
        elif key in PROMPT_AND_COMPLETION:
            widths = [piece["prompt_ids"].size(1) for piece in pieces]
            fill = PROMPT_AND_COMPLETION[key]
            prompts = _pad_and_stack(
                [value[:, :width] for value, width in zip(values, widths, strict=True)],
                fill,
                "left",
            )
            completions = _pad_and_stack(
                [value[:, width:] for value, width in zip(values, widths, strict=True)],
                fill,
                "right",
            )
            merged[key] = torch.cat([prompts, completions], dim=1)
        else:
            try:
                merged[key] = torch.cat(values, dim=0)
            except (TypeError, RuntimeError) as error:
                raise BatchKeyError(f"batch key {key!r} cannot be merged: {error}") from None
    return unsplit_pixel_values_by_grid(merged)


def _pad_images(key: str, values: Sequence[Any]) -> list[Any]:
    """``values`` (tensors, or lists of tensors once split per row) zero-padded at the end of
    every dimension but the first to the largest of any (see :data:`PADDED_IMAGES`)."""
    tensors = [item for value in values for item in (value if isinstance(value, list) else [value])]
    if len({tensor.shape[1:] for tensor in tensors}) <= 1:
        return list(values)
    if len({tensor.dim() for tensor in tensors}) > 1:
        shapes = sorted({tuple(tensor.shape) for tensor in tensors})
        raise BatchKeyError(f"batch key {key!r} has rows of different ranks: {shapes}")
    target = [max(tensor.size(dim) for tensor in tensors) for dim in range(1, tensors[0].dim())]

    def pad(tensor: torch.Tensor) -> torch.Tensor:
        padded = tensor.new_zeros((tensor.size(0), *target))
        padded[tuple(slice(0, size) for size in tensor.shape)] = tensor
        return padded

    return [
        [pad(item) for item in value] if isinstance(value, list) else pad(value) for value in values
    ]


def _fill(value: Any, pad_token_id: int) -> Any:
    return pad_token_id if value == "pad" else value


def _pad_and_stack(values: Sequence[torch.Tensor], fill: Any, side: str) -> torch.Tensor:
    """2-D tensors of rows padded on ``side`` to the widest, then stacked."""
    width = max(value.size(1) for value in values)
    padded = []
    for value in values:
        extra = value.new_full((value.size(0), width - value.size(1)), fill)
        padded.append(torch.cat([extra, value] if side == "left" else [value, extra], dim=1))
    return torch.cat(padded, dim=0)


class StepBatch:
    """One process's batch for a step, collected over generation rounds: the first ``share``
    groups with signal, in the order generated, and while fewer than that, dropped groups to
    fill the rest (masked out of the loss). Holds at most ``share`` groups between rounds."""

    def __init__(self, share: int, num_generations: int) -> None:
        self.share = share
        self.num_generations = num_generations
        self.kept: list[dict[str, Any]] = []
        self.filler: list[dict[str, Any]] = []

    def add_round(self, output: dict[str, Any], signal: Sequence[bool]) -> None:
        """Take what the batch still needs from one round's ``output`` (this process's rows),
        whose groups have the given ``signal``."""
        split = split_rows(output)
        if len(signal) * self.num_generations != split["prompt_ids"].size(0):
            raise ValueError(
                f"{len(signal)} groups of {self.num_generations} do not cover the round's "
                f"{split['prompt_ids'].size(0)} rows"
            )
        size = self.num_generations
        for group, has_signal in enumerate(signal):
            members = range(group * size, (group + 1) * size)
            if has_signal and len(self.kept) < self.share:
                self.kept.append(take_rows(split, members))
            elif not has_signal and len(self.kept) + len(self.filler) < self.share:
                self.filler.append(take_rows(split, members))
        del self.filler[max(self.share - len(self.kept), 0) :]

    def batch(self, pad_token_id: int) -> dict[str, Any]:
        """The kept groups, then the filler masked out of the loss, merged in TRL's layout
        (without ``num_items_in_batch``)."""
        if len(self.kept) + len(self.filler) != self.share:
            raise RuntimeError(
                f"{len(self.kept)} kept and {len(self.filler)} filler groups do not make the "
                f"step's {self.share}: the first round must hold at least the step's own batch"
            )
        filler = [mask_out_of_loss(piece) for piece in self.filler]
        return merge_pieces([*self.kept, *filler], pad_token_id)


def require_map_style(dataset: Any) -> None:
    """Extra rows are drawn by index: an iterable (streamed) dataset cannot give them."""
    if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
        raise TypeError(
            "dynamic sampling draws extra rows by index and needs a map-style dataset, "
            f"not {type(dataset).__name__}"
        )


class SideStream:
    """Training rows beyond the dataloader's: a seeded permutation of the whole dataset, the
    same on every process, walked image by image and started afresh when used up.

    Each draw gives the step's rounds whole groups of distinct images; every process computes
    the same global draw and takes its own contiguous share of it, as TRL's sampler shards its
    batches. The stream keeps no state in checkpoints: a resumed run starts a new permutation,
    seeded by the seed and the step it resumes at, so it draws other extra images than the
    uninterrupted run would have (the dataloader's own batches resume exactly, as TRL does).
    """

    def __init__(self, dataset: Any, seed: int) -> None:
        require_map_style(dataset)
        if GROUP_KEY not in getattr(dataset, "column_names", ()):
            raise ValueError(
                f"dynamic sampling keeps the images of one round distinct by their {GROUP_KEY!r} "
                "column, which the training set lacks"
            )
        self.dataset = dataset
        # without the dataset's transform: reading the column through one (fit_images's resize)
        # would decode every image of the training set on every process
        self.ids = [str(value) for value in dataset.with_format(None)[GROUP_KEY]]
        self.distinct = frozenset(self.ids)
        self.generator = torch.Generator().manual_seed(seed)
        self.order: list[int] = []
        self.position = 0

    def draw(self, count: int, exclude: Iterable[str] = ()) -> list[int]:
        """Indices of ``count`` distinct images, none of them named in ``exclude``."""
        taken = set(exclude)
        available = len(self.distinct - taken)
        if available < count:
            raise ValueError(
                f"a generation round needs {count} distinct extra images but the training set "
                f"has only {available} more: lower optimizer.generation_batch_size or train on "
                "more images (data.subset)"
            )
        picked: list[int] = []
        while len(picked) < count:
            if self.position == len(self.order):
                self.order = torch.randperm(len(self.ids), generator=self.generator).tolist()
                self.position = 0
            index = self.order[self.position]
            self.position += 1
            if self.ids[index] not in taken:
                taken.add(self.ids[index])
                picked.append(index)
        return picked

    def rows(self, indices: Sequence[int], num_generations: int) -> list[dict[str, Any]]:
        """The dataset rows of ``indices``, each repeated ``num_generations`` times in a row,
        as TRL's ``RepeatSampler`` lays out a group."""
        rows = []
        for index in indices:
            row = self.dataset[index]
            rows.extend(dict(row) for _ in range(num_generations))
        return rows


class DynamicSamplingGRPOTrainer(MaskedGRPOTrainer):
    """:class:`MaskedGRPOTrainer` with DAPO's dynamic sampling (see the module's docstring).

    ``images_per_round``: images one generation round makes, all processes together (at least
    the step's own); ``max_generation_batches``: the most rounds per step.
    """

    def __init__(
        self, *args: Any, images_per_round: int, max_generation_batches: int, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        world = self.accelerator.num_processes
        if max_generation_batches < 1:
            raise ValueError(
                f"max_generation_batches must be at least 1, not {max_generation_batches}"
            )
        if images_per_round % world:
            raise ValueError(
                f"{images_per_round} images per generation round do not split over {world} "
                "processes"
            )
        require_map_style(self.train_dataset)
        images = len(self.train_dataset)  # type: ignore[arg-type]
        if images < images_per_round:
            raise ValueError(
                f"a generation round of {images_per_round} images (optimizer."
                f"generation_batch_size) needs at least as many training images, not {images}"
            )
        self.images_per_round = images_per_round
        self.max_generation_batches = max_generation_batches
        self._side_stream: SideStream | None = None
        self._round_rewards: torch.Tensor | None = None

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        """The masked, gathered rewards, kept for this round's choice of groups."""
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._round_rewards = rewards
        return rewards

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        started = time.perf_counter()
        size = self.num_generations
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        if len(inputs) % size:
            raise RuntimeError(
                f"dynamic sampling needs whole groups on each process; this one got {len(inputs)} "
                f"rows for groups of {size} (optimizer.images_per_step must be a multiple of the "
                "process count)"
            )
        share = len(inputs) // size
        step_images = share * world
        if self.images_per_round < step_images:
            raise RuntimeError(
                f"a generation round of {self.images_per_round} images is smaller than the "
                f"step's {step_images}"
            )
        rows = list(inputs)
        if self.images_per_round > step_images:
            own = gather_object([str(row[GROUP_KEY]) for row in inputs])
            rows += self._side_rows(self.images_per_round - step_images, own)
        collected = StepBatch(share, size)
        signal_per_process = torch.zeros(world, dtype=torch.long)
        generated = rounds = 0
        while True:
            rounds += 1
            self._round_rewards = None
            self._announce_round(rounds)
            try:
                output = super()._generate_and_score_completions(rows)
            finally:
                self._announce_round(None)
            rewards, self._round_rewards = self._round_rewards, None
            if rewards is None:
                raise RuntimeError("no rewards were computed for this round")
            signal = groups_with_signal(rewards, self.reward_weights, size).view(world, -1).cpu()
            generated += signal.numel()
            signal_per_process += signal.sum(dim=1)
            collected.add_round(output, signal[rank].tolist())
            del output
            if bool((signal_per_process >= share).all()) or rounds >= self.max_generation_batches:
                break
            rows = self._side_rows(self.images_per_round, ())
        batch = collected.batch(self._tokenizer.pad_token_id)
        batch["num_items_in_batch"] = self._count_loss_tokens(batch)
        self._log_round_counts(
            generated=generated,
            with_signal=int(signal_per_process.sum()),
            kept=int(signal_per_process.clamp(max=share).sum()),
            wanted=share * world,
            rounds=rounds,
        )
        self._metrics["train"]["speciarl/dynamic_sampling/generate_and_score_s"].append(
            time.perf_counter() - started
        )
        return batch

    def _announce_round(self, generation_round: int | None) -> None:
        """Tell each reward function that logs rollouts (a ``generation_round`` attribute, as
        :class:`~speciarl.train.reward_fn.SpeciaRLReward` has) which round it scores."""
        for function in self.reward_funcs:
            if hasattr(function, "generation_round"):
                function.generation_round = generation_round

    def _side_rows(self, images: int, exclude: Iterable[str]) -> list[dict[str, Any]]:
        """This process's share of ``images`` fresh images from the side stream, as groups."""
        if self._side_stream is None:
            self._side_stream = SideStream(
                self.train_dataset, seed=self.args.seed * 1_000_003 + self.state.global_step + 1
            )
        drawn = self._side_stream.draw(images, exclude)
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        mine = len(drawn) // world
        return self._side_stream.rows(drawn[rank * mine : (rank + 1) * mine], self.num_generations)

    def _log_round_counts(
        self, *, generated: int, with_signal: int, kept: int, wanted: int, rounds: int
    ) -> None:
        """Group counts of the step, all processes together; a warning when it fell short.
        Groups with signal beyond a process's share are generated but neither kept nor
        dropped (``generated - kept - dropped`` of them)."""
        metrics = self._metrics["train"]
        metrics["speciarl/dynamic_sampling/generation_batches"].append(rounds)
        metrics["speciarl/dynamic_sampling/groups_generated"].append(generated)
        metrics["speciarl/dynamic_sampling/groups_kept"].append(kept)
        metrics["speciarl/dynamic_sampling/groups_dropped"].append(generated - with_signal)
        metrics["speciarl/dynamic_sampling/groups_filler"].append(wanted - kept)
        if kept < wanted and self.accelerator.is_main_process:
            log.warning(
                "dynamic sampling: kept %d of %d groups after %d generation batches "
                "(optimizer.max_generation_batches); the other %d are dropped groups masked "
                "out of the loss",
                kept,
                wanted,
                rounds,
                wanted - kept,
            )
