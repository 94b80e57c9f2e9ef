"""DAPO's dynamic sampling: which groups are kept, how rounds merge into TRL's batch, and real
training of the tiny model with it on one and on two processes."""

import json
import math
from pathlib import Path

import pytest
import torch

from speciarl.train.config import ConfigError, load_config
from speciarl.train.dynamic_sampling import (
    BatchKeyError,
    SideStream,
    StepBatch,
    groups_with_signal,
    merge_pieces,
    split_rows,
    take_rows,
)
from speciarl.train.grpo import describe_plan, plan, train_grpo
from test_train_e2e import recipe
from two_processes import run_two_processes

NAN = math.nan
PAD = 99
GROUP = 2  # rollouts per group in the hand-made batches


# --- which groups carry a gradient -------------------------------------------------------------


def test_a_group_has_signal_when_its_decided_summed_rewards_differ():
    rewards = torch.tensor(
        [
            [1.0, 0.0, 0.0, 1.0],  # mixed: signal
            [1.0, 1.0, 1.0, 1.0],  # all equal: none
            [-1.0, -1.0, -1.0, -1.0],  # all format failures: none
            [1.0, NAN, NAN, NAN],  # one decided rollout: none
            [1.0, 0.0, NAN, NAN],  # two decided that differ: signal
            [NAN, NAN, NAN, NAN],  # nothing decided: none
        ]
    ).reshape(-1, 1)
    assert groups_with_signal(rewards, torch.ones(1), 4).tolist() == [
        True,
        False,
        False,
        False,
        True,
        False,
    ]


def test_signal_is_read_from_the_weighted_sum_of_every_reward_function():
    # equal SpeciaRL rewards, but DAPO's overlong penalty tells the rollouts apart
    rewards = torch.tensor([[1.0, 0.0], [1.0, -0.5], [1.0, 0.0], [1.0, 0.0]])
    assert groups_with_signal(rewards, torch.ones(2), 4).tolist() == [True]
    assert groups_with_signal(rewards, torch.tensor([1.0, 0.0]), 4).tolist() == [False]
    # a masked rollout (whole row NaN) takes no part; a single NaN column is nansum'd as in TRL
    rewards = torch.tensor([[1.0, 0.0], [NAN, NAN], [1.0, NAN], [1.0, 0.0]])
    assert groups_with_signal(rewards, torch.ones(2), 4).tolist() == [False]


def test_rewards_that_are_not_whole_groups_are_refused():
    with pytest.raises(ValueError, match="whole groups of 4"):
        groups_with_signal(torch.zeros(6, 1), torch.ones(1), 4)


# --- hand-made rounds in TRL's layout ----------------------------------------------------------


def trl_round(
    prompt_lengths: list[int],
    completion_lengths: list[int],
    advantages: list[float],
    grids: list[tuple[int, int, int]],
    first_token: int,
) -> dict:
    """A batch as TRL 1.16 returns it for a Qwen-style model: prompts padded left, completions
    right, one image per row with its own grid, pixel rows concatenated. Token ``first_token +
    row`` fills row ``row``, so merged rows can be traced to their origin."""
    rows = len(prompt_lengths)
    width_p, width_c = max(prompt_lengths), max(completion_lengths)
    prompt_ids = torch.full((rows, width_p), PAD)
    prompt_mask = torch.zeros(rows, width_p, dtype=torch.long)
    completion_ids = torch.full((rows, width_c), PAD)
    completion_mask = torch.zeros(rows, width_c, dtype=torch.long)
    logps = torch.zeros(rows, width_c)
    for row, (p, c) in enumerate(zip(prompt_lengths, completion_lengths, strict=True)):
        token = first_token + row
        prompt_ids[row, width_p - p :] = token
        prompt_mask[row, width_p - p :] = 1
        completion_ids[row, :c] = token
        completion_mask[row, :c] = 1
        logps[row, :c] = -float(token)
    pixel_values = torch.cat(
        [
            torch.full((t * h * w, 3), float(first_token + row))
            for row, (t, h, w) in enumerate(grids)
        ]
    )
    mm_token_type_ids = torch.cat([prompt_mask.clone(), torch.zeros_like(completion_ids)], dim=1)
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": torch.tensor(advantages),
        "num_items_in_batch": completion_mask.sum(),
        "old_per_token_logps": logps,
        "ref_per_token_logps": logps.clone(),
        "pixel_values": pixel_values,
        "image_grid_thw": torch.tensor(grids),
        "mm_token_type_ids": mm_token_type_ids,
        "num_images": [1] * rows,
    }


def first_round() -> dict:
    # groups (rows 0-1), (2-3), (4-5): the middle one without signal
    return trl_round(
        prompt_lengths=[3, 3, 5, 5, 2, 2],
        completion_lengths=[4, 1, 2, 2, 3, 2],
        advantages=[1.0, -1.0, 0.0, 0.0, 0.7, -0.7],
        grids=[(1, 2, 2), (1, 2, 2), (1, 2, 4), (1, 2, 4), (1, 4, 4), (1, 4, 4)],
        first_token=10,
    )


def second_round() -> dict:
    return trl_round(
        prompt_lengths=[7, 7, 4, 4],
        completion_lengths=[6, 5, 1, 1],
        advantages=[0.5, -0.5, 0.0, 0.0],
        grids=[(1, 2, 6), (1, 2, 6), (1, 2, 2), (1, 2, 2)],
        first_token=20,
    )


def assert_trl_layout(batch: dict, rows: int) -> None:
    """The keys and shapes TRL's loss reads, with masks that match the padding."""
    assert batch["prompt_ids"].shape == batch["prompt_mask"].shape
    assert batch["completion_ids"].shape == batch["completion_mask"].shape
    assert batch["prompt_ids"].size(0) == rows and batch["advantages"].shape == (rows,)
    for key in ("old_per_token_logps", "ref_per_token_logps"):
        assert batch[key].shape == batch["completion_ids"].shape
    width = batch["prompt_ids"].size(1) + batch["completion_ids"].size(1)
    assert batch["mm_token_type_ids"].shape == (rows, width)
    assert len(batch["num_images"]) == rows
    assert batch["image_grid_thw"].size(0) == rows
    assert batch["pixel_values"].size(0) == int(batch["image_grid_thw"].prod(-1).sum())
    # prompts padded on the left (mask 0...0 1...1), completions on the right (1...1 0...0)
    assert torch.equal(batch["prompt_mask"], batch["prompt_mask"].sort(dim=1).values)
    kept = batch["completion_mask"].sum(dim=1) > 0
    completion = batch["completion_mask"][kept]
    assert torch.equal(completion, completion.sort(dim=1, descending=True).values)
    assert torch.equal(
        batch["prompt_ids"][batch["prompt_mask"] == 0],
        torch.full_like(batch["prompt_ids"][batch["prompt_mask"] == 0], PAD),
    )


def row_tokens(batch: dict) -> list[int]:
    """Which hand-made row each merged row came from (its token)."""
    return [int(row[-1]) for row in batch["prompt_ids"]]


def test_a_step_keeps_the_first_groups_with_signal_across_rounds():
    collected = StepBatch(share=3, num_generations=GROUP)
    collected.add_round(first_round(), [True, False, True])
    collected.add_round(second_round(), [True, False])
    batch = collected.batch(PAD)
    assert_trl_layout(batch, rows=6)
    assert row_tokens(batch) == [10, 11, 14, 15, 20, 21]  # the middle group never gets in
    assert batch["completion_mask"].sum(dim=1).tolist() == [4, 1, 3, 2, 6, 5]
    assert batch["prompt_ids"].size(1) == 7 and batch["completion_ids"].size(1) == 6
    assert batch["advantages"].tolist() == pytest.approx([1.0, -1.0, 0.7, -0.7, 0.5, -0.5])
    # each row's image travels with it: grid and pixel rows in row order
    assert batch["image_grid_thw"].tolist() == [[1, 2, 2]] * 2 + [[1, 4, 4]] * 2 + [[1, 2, 6]] * 2
    expected = torch.cat(
        [
            torch.full((n, 3), float(t))
            for n, t in zip([4, 4, 16, 16, 12, 12], [10, 11, 14, 15, 20, 21], strict=True)
        ]
    )
    assert torch.equal(batch["pixel_values"], expected)
    # per-token tensors stay aligned with their completion; padding is TRL's 0
    assert batch["old_per_token_logps"][0].tolist() == [-10.0] * 4 + [0.0] * 2
    # token type ids: prompt part padded left, completion part right, split where prompts end
    assert torch.equal(batch["mm_token_type_ids"][:, :7], batch["prompt_mask"])
    assert not batch["mm_token_type_ids"][:, 7:].any()
    assert "num_items_in_batch" not in batch  # the trainer counts it again, with a gather


def test_a_step_that_runs_out_of_rounds_fills_with_dropped_groups_masked_out_of_the_loss():
    collected = StepBatch(share=3, num_generations=GROUP)
    collected.add_round(first_round(), [False, True, False])
    collected.add_round(second_round(), [False, False])
    batch = collected.batch(PAD)
    assert_trl_layout(batch, rows=6)
    assert row_tokens(batch)[:2] == [12, 13]  # the one group with signal first
    dropped = {10, 11, 14, 15, 20, 21, 22, 23}
    assert set(row_tokens(batch)[2:]) <= dropped
    assert not batch["completion_mask"][2:].any() and not batch["advantages"][2:].any()
    assert batch["completion_mask"][:2].sum(dim=1).tolist() == [2, 2]


def test_no_group_without_signal_reaches_the_loss():
    """Rounds of random signal: every row with loss tokens comes from a group with signal."""
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        collected = StepBatch(share=3, num_generations=GROUP)
        signal_of: dict[int, bool] = {}
        for make in (first_round, second_round):
            output = make()
            signal = torch.rand(output["prompt_ids"].size(0) // GROUP, generator=generator) > 0.5
            for group, flag in enumerate(signal.tolist()):
                for row in range(GROUP):
                    signal_of[int(output["prompt_ids"][group * GROUP + row, -1])] = flag
            collected.add_round(output, signal.tolist())
        batch = collected.batch(PAD)
        assert_trl_layout(batch, rows=6)
        for token, mask, advantage in zip(
            row_tokens(batch), batch["completion_mask"], batch["advantages"], strict=True
        ):
            assert signal_of[token] or (not mask.any() and advantage == 0)


def test_groups_are_never_split_across_the_cut():
    collected = StepBatch(share=1, num_generations=GROUP)
    collected.add_round(first_round(), [True, True, True])
    assert row_tokens(collected.batch(PAD)) == [10, 11]


def test_an_unknown_batch_key_fails_loudly_rather_than_being_dropped():
    output = {**first_round(), "rollout_router_logits": torch.zeros(6, 2)}
    with pytest.raises(BatchKeyError, match="rollout_router_logits"):
        StepBatch(share=3, num_generations=GROUP).add_round(output, [True, True, True])


def test_a_key_without_one_entry_per_row_cannot_be_selected():
    output = {**first_round(), "importance_sampling_ratio": torch.ones(5, 1)}
    with pytest.raises(BatchKeyError, match="importance_sampling_ratio"):
        take_rows(split_rows(output), [0, 1])


def test_rounds_with_different_keys_are_not_merged():
    one = take_rows(split_rows(first_round()), [0, 1])
    other = take_rows(split_rows({**second_round(), "tool_mask": torch.ones(4, 6)}), [0, 1])
    with pytest.raises(BatchKeyError, match="different batch keys"):
        merge_pieces([one, other], PAD)


def test_tool_masks_pad_with_ones_and_sequence_level_ratios_stay_one_wide():
    one = {**first_round(), "tool_mask": torch.ones(6, 4, dtype=torch.long)}
    one["importance_sampling_ratio"] = torch.full((6, 1), 0.9)
    two = {**second_round(), "tool_mask": torch.ones(4, 6, dtype=torch.long)}
    two["importance_sampling_ratio"] = torch.full((4, 1), 1.1)
    batch = merge_pieces(
        [take_rows(split_rows(one), [0, 1]), take_rows(split_rows(two), [0, 1])], PAD
    )
    assert batch["tool_mask"].shape == (4, 6) and batch["tool_mask"].all()
    assert batch["importance_sampling_ratio"].shape == (4, 1)


def padded_round(make, tiles: int, size: int = 4, masked: bool = True) -> dict:
    """A hand-made round in a per-batch padded layout: Idefics3/SmolVLM's (with a pixel mask)
    or LLaVA-OneVision's (with ``image_sizes``); pixels hold each row's token, never 0."""
    output = make()
    del output["image_grid_thw"]
    tokens = row_tokens(output)
    rows = len(tokens)
    output["pixel_values"] = torch.stack(
        [torch.full((tiles, 3, size, size), float(token)) for token in tokens]
    )
    if masked:
        output["pixel_attention_mask"] = torch.ones(rows, tiles, size, size, dtype=torch.long)
    else:
        output["image_sizes"] = torch.tensor([[size * 10, size * 20]] * rows)
    return output


@pytest.mark.parametrize("masked", [True, False], ids=["idefics3", "llava_onevision"])
def test_rounds_padded_to_other_widths_merge_with_zero_padding(masked):
    collected = StepBatch(share=2, num_generations=GROUP)
    collected.add_round(padded_round(first_round, tiles=2, masked=masked), [True, False, False])
    collected.add_round(padded_round(second_round, tiles=5, size=6, masked=masked), [True, False])
    batch = collected.batch(PAD)
    assert row_tokens(batch) == [10, 11, 20, 21]
    pixels = batch["pixel_values"]
    assert pixels.shape == (4, 5, 3, 6, 6)
    for row, token in enumerate([10, 11]):  # the narrow round: its tiles, then zeros
        assert (pixels[row, :2, :, :4, :4] == token).all()
        assert pixels[row].sum() == token * 2 * 3 * 4 * 4
    assert (pixels[2:] == torch.tensor([20.0, 21.0]).view(2, 1, 1, 1, 1)).all()
    if masked:
        mask = batch["pixel_attention_mask"]
        assert mask.shape == (4, 5, 6, 6) and mask.dtype == torch.long
        assert mask[:2].sum() == 2 * 2 * 4 * 4 and mask[:2, :2, :4, :4].all() and mask[2:].all()
    else:
        assert batch["image_sizes"].tolist() == [[40, 80]] * 2 + [[60, 120]] * 2


def test_zero_padding_changes_no_image_feature_of_the_padded_families():
    """The small Idefics3 and LLaVA-OneVision models see the same images padded or not."""
    from test_policy_parts import small_model

    generator = torch.Generator().manual_seed(0)
    idefics = small_model("idefics3").eval()
    pixels = torch.rand(1, 2, 3, 28, 28, generator=generator) + 0.1
    mask = torch.ones(1, 2, 28, 28, dtype=torch.long)
    merged = merge_pieces(
        [
            {"pixel_values": pixels, "pixel_attention_mask": mask},
            {
                "pixel_values": pixels.repeat(1, 2, 1, 1, 1),
                "pixel_attention_mask": mask.repeat(1, 2, 1, 1),
            },
        ],
        PAD,
    )
    assert merged["pixel_values"].shape == (2, 4, 3, 28, 28)
    with torch.no_grad():
        alone = idefics.model.get_image_features(pixels, mask).pooler_output
        padded = idefics.model.get_image_features(
            merged["pixel_values"][:1], merged["pixel_attention_mask"][:1]
        ).pooler_output
    torch.testing.assert_close(padded, alone)
    llava = small_model("llava_onevision").eval()
    llava.config.image_grid_pinpoints = [[28, 28], [28, 56]]  # at the small tower's 28 px
    sizes = torch.tensor([[28, 28]])  # one anyres patch beside the base image: 2 patches
    pixels = torch.rand(1, 2, 3, 28, 28, generator=generator)
    merged = merge_pieces(
        [
            {"pixel_values": pixels, "image_sizes": sizes},
            {"pixel_values": torch.rand(1, 5, 3, 28, 28), "image_sizes": sizes},
        ],
        PAD,
    )
    with torch.no_grad():
        alone = llava.model.get_image_features(pixels, sizes).pooler_output
        padded = llava.model.get_image_features(merged["pixel_values"][:1], sizes).pooler_output
    for one, other in zip(alone, padded, strict=True):
        torch.testing.assert_close(one, other)


# --- the side stream of extra training rows ----------------------------------------------------


class Rows:
    """A map-style dataset of ``count`` rows with sample ids, as ``datasets`` shows one."""

    def __init__(self, count: int) -> None:
        self.column_names = ["prompt", "sample_id"]
        self.ids = [f"s{index}" for index in range(count)]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key):
        if key == "sample_id":
            return list(self.ids)
        return {"prompt": f"p{key}", "sample_id": self.ids[key]}

    def with_format(self, _type):
        return self


def test_the_side_stream_draws_distinct_images_outside_the_step_and_cycles():
    stream = SideStream(Rows(10), seed=3)
    drawn = stream.draw(6, exclude=["s0", "s1"])
    assert len(set(drawn)) == 6 and not {0, 1} & set(drawn)
    again = stream.draw(6)  # four left in this pass: the stream starts a new permutation
    assert len(set(again)) == 6
    assert SideStream(Rows(10), seed=3).draw(6, exclude=["s0", "s1"]) == drawn  # seeded
    rows = stream.rows(again[:2], num_generations=3)
    assert [row["sample_id"] for row in rows] == [Rows(10).ids[again[0]]] * 3 + [
        Rows(10).ids[again[1]]
    ] * 3


def test_the_side_stream_reads_the_group_ids_without_the_datasets_transform():
    """fit_images puts a resizing transform on the training set: the ids must not run it on
    every row, while the rows drawn still come out through it."""
    import datasets

    calls: list[int] = []

    def transform(batch):
        calls.append(len(batch["sample_id"]))
        return {**batch, "prompt": [f"fitted {prompt}" for prompt in batch["prompt"]]}

    plain = datasets.Dataset.from_dict(
        {"prompt": [f"p{i}" for i in range(50)], "sample_id": [f"s{i}" for i in range(50)]}
    )
    stream = SideStream(plain.with_transform(transform), seed=0)
    assert calls == [] and stream.ids == plain["sample_id"][:]
    rows = stream.rows(stream.draw(2), num_generations=3)
    assert len(calls) == 2 and all(row["prompt"].startswith("fitted ") for row in rows)


def test_the_side_stream_refuses_a_round_larger_than_the_training_set():
    with pytest.raises(ValueError, match="generation_batch_size"):
        SideStream(Rows(5), seed=0).draw(4, exclude=["s0", "s1"])


# --- the recipe keys ---------------------------------------------------------------------------


def test_the_keys_need_dynamic_sampling_and_whole_groups_per_process(tmp_path, tiny_model):
    path = recipe(tmp_path, tiny_model)
    with pytest.raises(ConfigError, match=r"only with optimizer\.dynamic_sampling"):
        load_config(path, ["optimizer.generation_batch_size=4"])
    with pytest.raises(ConfigError, match=r"at least optimizer\.images_per_step"):
        load_config(path, ["optimizer.dynamic_sampling=true", "optimizer.generation_batch_size=1"])
    with pytest.raises(ConfigError, match="max_generation_batches must be at least 1"):
        load_config(path, ["optimizer.dynamic_sampling=true", "optimizer.max_generation_batches=0"])
    # 3 images x 4 rollouts over 2 processes: 6 completions each, half a group on one of them
    split = load_config(
        path,
        [
            "optimizer.dynamic_sampling=true",
            "optimizer.images_per_step=3",
            "optimizer.per_device_batch_size=2",
        ],
    )
    with pytest.raises(ConfigError, match=r"optimizer\.images_per_step to a multiple of 2"):
        plan(split, 2)
    odd_round = load_config(
        path,
        [
            "optimizer.dynamic_sampling=true",
            "optimizer.generation_batch_size=3",
            "optimizer.per_device_batch_size=4",
        ],
    )
    with pytest.raises(ConfigError, match="generation_batch_size 3 must be a multiple of the 2"):
        plan(odd_round, 2)
    assert plan(odd_round, 1).completions_per_step == 8


def test_the_dry_run_plans_for_a_whole_generation_round_beside_the_kept_groups():
    from speciarl.train.memory_plan import memory_report

    root = Path(__file__).resolve().parents[1]
    config = load_config(root / "configs" / "cub_dapo_ds.yaml")
    steps = plan(config, 8)
    assert "at most 10 generation batches of 768 images" in "\n".join(describe_plan(config, steps))
    lines, _ = memory_report(config, 8, setup="zero3", gpu_gib=80)
    text = "\n".join(lines)
    # 768 images x 10 rollouts / 8 processes sampled at once; 320 kept beside them
    assert "all 960 rollouts of the process at once" in text
    assert "rollout batch: " in text and "1,280 rollouts x" in text


# --- real training -----------------------------------------------------------------------------


def dynamic_recipe(folder: Path, model: Path, **changes) -> Path:
    """The tiny recipe with dynamic sampling: rounds of 4 images for a step of 2."""
    optimizer = {
        "preset": "dapo",
        "images_per_step": 2,
        "num_generations": 4,
        "per_device_batch_size": 8,
        "max_completion_length": 12,
        "overlong_buffer": 8,
        "max_steps": 2,
        "dynamic_sampling": True,
        "generation_batch_size": 4,
        "max_generation_batches": 3,
        **changes,
    }
    return recipe(folder, model, optimizer=optimizer)


def logged_rounds(run: Path) -> list[dict]:
    state = json.loads(
        next((run / "checkpoints").glob("checkpoint-*/trainer_state.json")).read_text()
    )
    return [
        entry for entry in state["log_history"] if "speciarl/dynamic_sampling/groups_kept" in entry
    ]


def rollouts_by_step(run: Path, rank: int = 0) -> dict[int, list[dict]]:
    steps: dict[int, list[dict]] = {}
    for line in (run / "rollouts" / f"rank{rank}.jsonl").open():
        row = json.loads(line)
        steps.setdefault(row["step"], []).append(row)
    return steps


def test_dapo_with_dynamic_sampling_trains_the_tiny_model_on_kept_groups(tmp_path, tiny_model):
    """One process, DAPO: rounds of 4 images for 2 per step, at most 3 rounds. The random model
    fails the answer format (reward -1 everywhere), so only the overlong penalty of the few
    completions that end early tells rollouts apart: most groups are dropped."""
    config = load_config(dynamic_recipe(tmp_path, tiny_model))
    adapter = train_grpo(config)
    assert (adapter / "adapter_model.safetensors").is_file()
    logged = logged_rounds(tmp_path / "run")
    assert len(logged) == 2
    for entry in logged:
        rounds = entry["speciarl/dynamic_sampling/generation_batches"]
        generated = entry["speciarl/dynamic_sampling/groups_generated"]
        kept = entry["speciarl/dynamic_sampling/groups_kept"]
        dropped = entry["speciarl/dynamic_sampling/groups_dropped"]
        assert 1 <= rounds <= 3 and generated == 4 * rounds
        assert kept + entry["speciarl/dynamic_sampling/groups_filler"] == 2
        assert kept + dropped <= generated
        assert rounds == 3 or kept == 2  # more rounds only while groups were missing
    assert sum(entry["speciarl/dynamic_sampling/groups_dropped"] for entry in logged) > 0
    assert sum(entry["speciarl/dynamic_sampling/groups_kept"] for entry in logged) > 0
    # every rollout generated is judged and logged, kept or not, with its round: 4 images x 4
    # rollouts a round, whole groups of distinct images within a round
    steps = rollouts_by_step(tmp_path / "run")
    for step, entry in enumerate(logged):
        assert_rounds_logged(steps[step], entry, images=4)


def assert_rounds_logged(records: list[dict], entry: dict, images: int) -> None:
    """Each of the step's logged generation batches holds ``images`` whole groups of 4."""
    rounds = int(entry["speciarl/dynamic_sampling/generation_batches"])
    assert rounds == entry["speciarl/dynamic_sampling/generation_batches"]
    by_round: dict[int, list[str]] = {}
    for record in records:
        by_round.setdefault(record["round"], []).append(record["sample_id"])
    assert sorted(by_round) == list(range(1, rounds + 1))
    for ids in by_round.values():
        assert len(ids) == 4 * images and len(set(ids)) == images
        assert all(ids.count(sid) == 4 for sid in set(ids))


def test_a_step_without_any_signal_trains_on_nothing_and_says_so(tmp_path, tiny_model, caplog):
    """GRPO (KL reference log-probabilities): every group of the random model is all -1, so the
    step makes its 2 rounds, keeps nothing, and fills its batch with masked dropped groups."""
    config = load_config(
        dynamic_recipe(
            tmp_path,
            tiny_model,
            preset="grpo",
            max_generation_batches=2,
            max_steps=1,
            max_completion_length=8,
            overlong_buffer=4,
        )
    )
    with caplog.at_level("WARNING", logger="speciarl.train.dynamic_sampling"):
        train_grpo(config)
    logged = logged_rounds(tmp_path / "run")
    steps = rollouts_by_step(tmp_path / "run")
    for step, entry in enumerate(logged):
        assert all(row["reward"] == -1 for row in steps[step])
        assert entry["speciarl/dynamic_sampling/generation_batches"] == 2
        assert entry["speciarl/dynamic_sampling/groups_dropped"] == 8
        assert entry["speciarl/dynamic_sampling/groups_kept"] == 0
        assert entry["speciarl/dynamic_sampling/groups_filler"] == 2
        assert entry["loss"] == 0 and entry["grad_norm"] == 0
    assert len(logged) == 1
    assert "kept 0 of 2 groups after 2 generation batches" in caplog.text


def test_two_processes_keep_groups_within_each_process(tmp_path, tiny_model):
    """torchrun, two CPU processes, gloo: 2 images per step (one per process), rounds of 4."""
    path = dynamic_recipe(tmp_path, tiny_model, per_device_batch_size=4)
    run_two_processes("two_process_dynamic_sampling.py", str(path), timeout=300)
    run = tmp_path / "run"
    batches = [json.loads((run / f"batches.rank{rank}.json").read_text()) for rank in (0, 1)]
    assert len(batches[0]) == len(batches[1]) == 2
    for mine, theirs in zip(*batches, strict=True):
        # the batch TRL gets is the size it would be without dynamic sampling
        assert mine["rows"] == theirs["rows"] == mine["inputs"] == 4
        total = mine["local_loss_tokens"] + theirs["local_loss_tokens"]
        assert mine["num_items_in_batch"] == theirs["num_items_in_batch"] == total
    logged = logged_rounds(run)
    for step, entry in enumerate(logged):
        # each process holds one group: a kept one has loss tokens (a rollout that ended
        # early is what gave it signal), a filler has none
        with_loss = sum(batches[rank][step]["rows_with_loss"] > 0 for rank in (0, 1))
        assert with_loss == entry["speciarl/dynamic_sampling/groups_kept"]
        rounds = entry["speciarl/dynamic_sampling/generation_batches"]
        assert entry["speciarl/dynamic_sampling/groups_generated"] == 4 * rounds
        for rank in (0, 1):
            # each process: 2 images x 4 rollouts a round, whole groups
            assert_rounds_logged(rollouts_by_step(run, rank)[step], entry, images=2)
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
