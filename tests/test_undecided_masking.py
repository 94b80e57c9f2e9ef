"""Undecided rollouts are masked, not rewarded 0, and a judge outage is waited out or stops the run.

Real TRL (1.16) on the tiny local model, on the CPU; the judge is a scripted stand-in, or the
real LLM judge talking HTTP to a ScriptedOpenAIServer.
"""

from __future__ import annotations

import dataclasses
import json
import re
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from speciarl.data.registry import get_dataset
from speciarl.judges.base import Judgement
from speciarl.judges.factory import build_judge
from speciarl.testing.openai_server import Reply, ScriptedOpenAIServer, hierarchy_responder
from speciarl.train import reward_fn
from speciarl.train.config import RewardSettings, load_config
from speciarl.train.masked_trainer import MaskedGRPOTrainer, masked_advantages
from speciarl.train.reward_fn import JudgeOutage, SpeciaRLReward
from speciarl.verdict import Verdict
from test_train_e2e import recipe

ENDPOINT = "http://judge.test:8000/v1"


# --- a GRPO step with scripted rewards ------------------------------------------------------------


class ScriptedReward:
    """A reward function that masks like SpeciaRLReward: ``None`` is an undecided rollout."""

    masks_undecided = True

    def __init__(self, values: list[float | None]) -> None:
        self.__name__ = "scripted"
        self.values = values

    def __call__(self, prompts: list[Any], completions: list[Any], **kwargs: Any) -> list:
        assert len(prompts) == len(self.values)
        return list(self.values)


class Recorded:
    """Wraps a reward function and keeps what it returned (for the hand computation)."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.__name__ = function.__name__
        self.returned: list[list[float]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> list[float]:
        values = self.function(*args, **kwargs)
        self.returned.append(list(values))
        return values


class RecordingTrainer(MaskedGRPOTrainer):
    """Keeps each generation batch as the loss will see it (before TRL shuffles and splits it)."""

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        output = super()._generate_and_score_completions(inputs)
        self.batches = getattr(self, "batches", [])
        self.batches.append(
            {k: v.detach().clone() if torch.is_tensor(v) else v for k, v in output.items()}
        )
        return output


def grpo_trainer(
    tmp_path: Path, tiny_model: Path, reward_funcs: list[Any], preset: str, **arguments: Any
) -> RecordingTrainer:
    """A one-step full fine-tuning GRPO trainer over 2 images x 4 rollouts in one batch of 8.

    The random tiny policy writes to the length limit, so dapo's masking of truncated
    completions would mask every rollout: it is off here, to leave decided rollouts to learn."""
    from trl import GRPOConfig

    from speciarl.train.grpo import plan
    from speciarl.train.setup import load_policy, prepare_dataset

    tmp_path.mkdir(parents=True, exist_ok=True)
    arguments = {"save_strategy": "no", "mask_truncated_completions": False, **arguments}
    config = load_config(
        recipe(
            tmp_path,
            tiny_model,
            lora=None,
            optimizer__preset=preset,
            optimizer__max_steps=1,
            optimizer__learning_rate=1e-2,
        )
    )
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    model, processor = load_policy(config)
    return RecordingTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=GRPOConfig(**{**plan(config).arguments, **arguments}),
        train_dataset=prepare_dataset(config, run_dir),
        processing_class=processor,
    )


def trainable(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def moved(before: dict[str, torch.Tensor], model: torch.nn.Module) -> list[str]:
    after = dict(model.named_parameters())
    return [name for name, value in before.items() if not torch.equal(value, after[name])]


@pytest.mark.parametrize("preset", ["grpo", "dapo"])
def test_a_step_of_undecided_rollouts_leaves_the_policy_unchanged(tmp_path, tiny_model, preset):
    """grpo has a KL term (beta 0.01), dapo a soft overlong penalty that still gives every row a
    reward: neither may move the policy through a masked rollout."""
    from trl.rewards import get_soft_overlong_punishment

    overlong = get_soft_overlong_punishment(max_completion_len=24, soft_punish_cache=8)
    masked = grpo_trainer(
        tmp_path / "m", tiny_model, [ScriptedReward([None] * 8), overlong], preset
    )
    before = trainable(masked.model)
    masked.train()
    assert not moved(before, masked.model)
    assert not masked.batches[0]["completion_mask"].any()
    assert not masked.batches[0]["advantages"].any()

    # the control: the same step with decided rollouts does train
    decided = [1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    rewarded = grpo_trainer(tmp_path / "d", tiny_model, [ScriptedReward(decided), overlong], preset)
    before = trainable(rewarded.model)
    rewarded.train()
    assert moved(before, rewarded.model)


@pytest.mark.parametrize("preset", ["grpo", "dr_grpo", "dapo"])
def test_the_gradient_does_not_depend_on_masked_rollouts(tmp_path, tiny_model, preset):
    """The loss of a recorded batch, with the masked rollouts' completions (and sampling
    log-probabilities) replaced by others, has exactly the same gradient."""
    values = [1.0, None, 0.0, 0.0, None, 1.0, None, 0.0]
    trainer = grpo_trainer(tmp_path, tiny_model, [ScriptedReward(values)], preset)
    trainer.train()
    batch = trainer.batches[0]
    hidden = torch.tensor([value is None for value in values])
    assert not batch["completion_mask"][hidden].any() and batch["completion_mask"][~hidden].any()

    def gradient(inputs: dict[str, Any]) -> list[torch.Tensor]:
        trainer.model.train()
        trainer.model.zero_grad()
        trainer.compute_loss(trainer.model, inputs).backward()
        return [p.grad.clone() for p in trainer.model.parameters() if p.grad is not None]

    generator = torch.Generator().manual_seed(0)
    other = dict(batch)
    ids = batch["completion_ids"].clone()
    vocabulary = trainer.model.config.get_text_config().vocab_size
    ids[hidden] = torch.randint(0, vocabulary, ids[hidden].shape, generator=generator)
    other["completion_ids"] = ids
    for key in ("old_per_token_logps", "ref_per_token_logps"):
        if batch.get(key) is not None:
            changed = batch[key].clone()
            changed[hidden] = -torch.rand(changed[hidden].shape, generator=generator) * 5
            other[key] = changed
    first, second = gradient(batch), gradient(other)
    assert first and any(g.abs().sum() > 0 for g in first)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


@pytest.mark.parametrize("scale_rewards", ["group", "batch", "none"])
def test_advantages_are_computed_over_the_decided_rollouts(tmp_path, tiny_model, scale_rewards):
    """The advantages TRL trains on equal a hand computation over the decided rollouts of the
    summed reward (SpeciaRL + DAPO's soft overlong penalty, as in the dapo preset)."""
    from trl.rewards import get_soft_overlong_punishment

    values = [1.0, None, 0.0, 0.0, None, None, 1.0, None]  # group 2: a single decided rollout
    overlong = Recorded(get_soft_overlong_punishment(max_completion_len=24, soft_punish_cache=8))
    trainer = grpo_trainer(
        tmp_path,
        tiny_model,
        [ScriptedReward(values), overlong],
        "dapo",
        scale_rewards=scale_rewards,
    )
    trainer.train()
    (penalties,) = overlong.returned
    summed = [None if v is None else v + p for v, p in zip(values, penalties, strict=True)]
    decided_in_batch = [s for s in summed if s is not None]
    expected = []
    for start in (0, 4):
        group = summed[start : start + 4]
        decided = [s for s in group if s is not None]
        mean = statistics.mean(decided)
        if scale_rewards == "batch":
            spread = statistics.stdev(decided_in_batch)
        elif len(decided) > 1:
            spread = statistics.stdev(decided)
        else:
            spread = float("nan")
        for s in group:
            if s is None or (scale_rewards == "group" and len(decided) < 2):
                expected.append(0.0)
            elif scale_rewards == "none":
                expected.append(s - mean)
            else:
                expected.append((s - mean) / (spread + 1e-4))
    assert trainer.batches[0]["advantages"].tolist() == pytest.approx(expected, abs=1e-5)
    assert any(abs(a) > 0.1 for a in expected)


def test_masked_advantages_check_their_shapes():
    rewards = torch.zeros(8, 2)
    with pytest.raises(ValueError, match="reward weights"):
        masked_advantages(rewards, torch.ones(3), torch.zeros(8, dtype=torch.bool), 4, "group")
    with pytest.raises(ValueError, match="mask flags"):
        masked_advantages(rewards, torch.ones(2), torch.zeros(6, dtype=torch.bool), 4, "group")


# --- waiting out an outage (the reward function alone) -------------------------------------------


class FlakyJudge:
    """A Judge that decides nothing until ``down_s`` seconds after it was built."""

    name = "flaky"
    identity = "flaky"

    def __init__(self, down_s: float) -> None:
        self.counters: Counter[str] = Counter()
        self.up_at = time.monotonic() + down_s
        self.calls = 0

    def judge(self, pairs):  # type: ignore[no-untyped-def]
        self.calls += 1
        self.counters["pairs"] += len(pairs)
        if time.monotonic() < self.up_at:
            return [Judgement(None, None) for _ in pairs]
        return [Judgement(Verdict.SPECIFIC, self.name) for _ in pairs]


def rows(count: int = 8) -> dict[str, Any]:
    return {
        "prompts": [None] * count,
        "completions": [f"<answer>thing {i}</answer>" for i in range(count)],
        "label": ["thing"] * count,
        "sample_id": [f"s{i // 4}" for i in range(count)],
    }


def test_a_step_waits_for_the_judge_and_continues():
    logged: dict[str, float] = {}
    judge = FlakyJudge(down_s=2.5)
    reward = SpeciaRLReward(
        judge,
        RewardSettings(),
        num_generations=4,
        prompt_name="g",
        endpoint=ENDPOINT,
        outage_timeout=30,
    )
    started = time.monotonic()
    values = reward(**rows(), log_metric=logged.__setitem__)
    took = time.monotonic() - started
    assert values == [1.0] * 8
    assert 2.5 <= logged["speciarl/judge/outage_wait_s"] <= took < 10
    assert judge.calls >= 2 and logged["speciarl/judge/rejudged"] == 8 * (judge.calls - 1)
    assert logged["speciarl/undecided"] == 0 and logged["speciarl/undecided_count"] == 0


def test_a_judge_that_never_answers_stops_the_run_after_the_timeout():
    reward = SpeciaRLReward(
        FlakyJudge(down_s=1e9),
        RewardSettings(),
        num_generations=4,
        prompt_name="g",
        endpoint=ENDPOINT,
        outage_timeout=2,
    )
    started = time.monotonic()
    with pytest.raises(JudgeOutage) as stopped:
        reward(**rows())
    assert 2 <= time.monotonic() - started < 4
    message = str(stopped.value)
    assert ENDPOINT in message and "--resume" in message and "8 of 8 rollouts" in message


def test_few_undecided_rollouts_or_no_llm_judge_are_masked_without_waiting():
    judge = FlakyJudge(down_s=1e9)
    no_llm = SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="g")
    assert no_llm(**rows()) == [None] * 8 and judge.calls == 1
    tolerant = SpeciaRLReward(
        judge,
        RewardSettings(),
        num_generations=4,
        prompt_name="g",
        endpoint=ENDPOINT,
        max_undecided=1.0,
    )
    assert tolerant(**rows()) == [None] * 8 and judge.calls == 2
    # a format failure is decided: it keeps its penalty
    cascade = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    reward = SpeciaRLReward(cascade, RewardSettings(), num_generations=4, prompt_name="g")
    batch = rows(4)
    batch["completions"][0] = "no answer tags"
    assert reward(**batch)[0] == -1.0


def test_the_outage_wait_is_in_lockstep_across_processes(monkeypatch):
    """Two simulated processes share one gather: one's clock runs out first, both stop."""
    payloads: list[Any] = []

    def theirs(items: list[Any]) -> list[Any]:  # process 1 holds two other images
        return [dataclasses.replace(item, sample_id="p1-" + item.sample_id) for item in items]

    def gather(payload: Any) -> list[Any]:
        payloads.append(payload)
        if isinstance(payload, tuple):
            return [payload, (theirs(payload[0]), False)]
        return [payload, theirs(payload)]

    reward = SpeciaRLReward(
        FlakyJudge(down_s=1e9),
        RewardSettings(),
        num_generations=4,
        prompt_name="g",
        gather=gather,
        endpoint=ENDPOINT,
        outage_timeout=1.5,
    )
    reward.sleep = lambda seconds: time.sleep(min(seconds, 0.05))
    monkeypatch.setattr(reward_fn, "_position_of", lambda slices, local: 0)
    with pytest.raises(JudgeOutage, match="16 of 16 rollouts"):
        reward(**rows())
    assert payloads[-1][1] is True  # this process's clock ran out; the other's had not
    assert len(payloads) > 2  # it asked again before giving up


# --- the reported fault, end to end ---------------------------------------------------------------


class OutageResponder:
    """Answers from the synthetic hierarchy; after ``serve_first`` answered requests, the server
    returns HTTP 503 to everything for ``outage_s`` seconds, then answers again."""

    def __init__(self, serve_first: int, outage_s: float) -> None:
        self.answer = hierarchy_responder("synthetic")
        self.serve_first = serve_first
        self.outage_s = outage_s
        self.served = 0
        self.refused = 0
        self.down_since: float | None = None
        self.up_again: float | None = None

    def __call__(self, body: dict[str, Any]) -> Reply:
        now = time.monotonic()
        if self.down_since is None and self.served >= self.serve_first:
            self.down_since = now
        if self.down_since is not None and now - self.down_since < self.outage_s:
            self.refused += 1
            return Reply(status=503)
        if self.down_since is not None and self.up_again is None:
            self.up_again = now
        self.served += 1
        return self.answer(body)


def first_words_as_answer(completion: Any) -> str:
    """The random tiny policy never writes the answer format: read its first words as the answer,
    so the judge cascade (and mostly the LLM) gets free-text answers to grade."""
    text = completion if isinstance(completion, str) else completion[0]["content"]
    words = re.findall(r"[A-Za-z]+", text)[:3] or ["blank"]
    return f"<answer>{' '.join(words)}</answer>"


def test_a_judge_outage_mid_run_is_waited_out_and_nothing_is_rewarded_as_undecided(
    tmp_path, tiny_model, monkeypatch
):
    from speciarl.train.grpo import train_grpo

    monkeypatch.setattr(reward_fn, "_completion_text", first_words_as_answer)
    # the shipped synthetic hierarchy is closed-world (unknown answers are wrong); open it, so
    # that what the taxonomy judge cannot place goes to the LLM judge
    import speciarl.data.hierarchies as shipped

    tree = yaml.safe_load((Path(shipped.__path__[0]) / "synthetic.yaml").read_text())
    tree["closed_world"] = False
    open_world = tmp_path / "synthetic-open.yaml"
    open_world.write_text(yaml.safe_dump(tree))
    responder = OutageResponder(serve_first=6, outage_s=12)
    with ScriptedOpenAIServer(responder, models=["judge-model"]) as server:
        config = load_config(
            recipe(
                tmp_path,
                tiny_model,
                judge={
                    "hierarchy": str(open_world),
                    "endpoint": server.base_url,
                    "model": "judge-model",
                    "outage_timeout": 120,
                },
                optimizer__max_steps=3,
                save_steps=3,
            )
        )
        started = time.monotonic()
        train_grpo(config)
        took = time.monotonic() - started
    assert responder.refused > 0 and responder.up_again is not None, "the outage happened"
    judged_by = Counter()
    rollouts = [json.loads(line) for line in (tmp_path / "run" / "rollouts" / "rank0.jsonl").open()]
    for row in rollouts:
        assert row["answer_status"] == "ok"
        judged_by[row["judge"]] += 1
        if row["verdict"] is None:
            assert row["reward"] is None  # masked, never rewarded as undecided
    assert judged_by["llm"] > 0, judged_by
    state = json.loads(
        (tmp_path / "run" / "checkpoints" / "checkpoint-3" / "trainer_state.json").read_text()
    )
    history = [entry for entry in state["log_history"] if "speciarl/judge/outage_wait_s" in entry]
    waited = sum(entry["speciarl/judge/outage_wait_s"] for entry in history)
    rejudged = sum(entry["speciarl/judge/rejudged"] for entry in history)
    assert waited > 0 and rejudged > 0
    print(
        f"\noutage figures: run {took:.1f} s, waited {waited:.1f} s in the reward, "
        f"{rejudged:g} rollouts re-judged, {responder.refused} requests refused (503), "
        f"{len(server.requests)} requests in all, {responder.served} answered; judged by "
        f"{dict(judged_by)}; masked share per step "
        f"{[entry.get('speciarl/masked') for entry in history]}"
    )


def test_the_cli_ends_a_judge_outage_in_one_line_that_says_how_to_resume(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import speciarl.train.grpo as grpo
    from speciarl.cli import app

    message = (
        "the judge at http://127.0.0.1:9/v1 (judge.endpoint) left 16 of 16 rollouts undecided; "
        "resume with speciarl train --config RECIPE --resume"
    )

    def stopped(*_args, **_kwargs):
        raise JudgeOutage(message)

    monkeypatch.setattr(grpo, "train_grpo", stopped)
    recipe = tmp_path / "r.yaml"
    recipe.write_text("data: {dataset: synthetic}\njudge: {hierarchy: synthetic}\n")
    result = CliRunner().invoke(app, ["train", "--config", str(recipe)])
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"
