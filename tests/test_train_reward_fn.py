import json
import sys

import pytest

from speciarl.data.registry import get_dataset
from speciarl.judges.factory import build_judge
from speciarl.reward import group_rewards
from speciarl.train.config import RewardSettings
from speciarl.train.reward_fn import GroupError, SpeciaRLReward
from speciarl.train.rollout_log import RolloutLog
from speciarl.verdict import Verdict
from two_processes import SCRIPTS, run_two_processes

sys.path.insert(0, str(SCRIPTS))
from two_process_reward import batch


@pytest.fixture(scope="module")
def judge():
    return build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())


def call(reward, rows, **extra):
    return reward(
        prompts=[None] * len(rows),
        completions=[[{"role": "assistant", "content": text}] for _, _, text in rows],
        label=[label for _, label, _ in rows],
        sample_id=[sid for sid, _, _ in rows],
        **extra,
    )


def test_rewards_are_speciarl_group_rewards(judge):
    reward = SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="general")
    S, L, G, W, A = (
        Verdict.SPECIFIC,
        Verdict.LESS_SPECIFIC,
        Verdict.GENERIC,
        Verdict.WRONG,
        Verdict.ABSTAIN,
    )
    expected = [
        *group_rewards([S, L, G, W]),  # a: the exact species wins
        *group_rewards([L, G, A, G]),  # b: the family is the best answer given
        *group_rewards([W, W, W, W]),  # c: all wrong (closed world), no gradient
    ]
    assert call(reward, batch()) == expected == [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]


def test_metrics_are_logged(judge):
    logged = {}
    reward = SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="general")
    call(reward, batch(), log_metric=lambda name, value: logged.__setitem__(name, value))
    assert logged["speciarl/verdict/specific"] == pytest.approx(1 / 12)
    assert logged["speciarl/format_failure"] == 0.0
    assert 0.0 < logged["speciarl/correctness"] <= 1.0
    assert sum(v for k, v in logged.items() if k.startswith("speciarl/c_star/")) == pytest.approx(1)
    assert {"speciarl/hm", "speciarl/undecided", "speciarl/judge/llm_calls"} <= set(logged)


def test_format_failures_get_the_penalty(judge):
    rows = [("a", "plain red circle", "plain red circle")] + [
        ("a", "plain red circle", "<answer>plain red circle</answer>")
    ] * 3
    reward = SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="general")
    assert call(reward, rows) == [-1.0, 1.0, 1.0, 1.0]


def test_a_split_group_without_gathering_stops_with_a_message(judge):
    reward = SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="general")
    with pytest.raises(GroupError, match="has 1 rollouts in this reward call"):
        call(reward, batch()[:5])


def test_noise_is_reproducible_and_changes_rewards(judge):
    rows = batch()
    settings = RewardSettings(noise=0.5)
    first = call(SpeciaRLReward(judge, settings, num_generations=4, prompt_name="g", seed=3), rows)
    again = call(SpeciaRLReward(judge, settings, num_generations=4, prompt_name="g", seed=3), rows)
    clean = call(SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="g"), rows)
    assert first == again
    others = [
        call(SpeciaRLReward(judge, settings, num_generations=4, prompt_name="g", seed=s), rows)
        for s in range(6)
    ]
    assert any(o != clean for o in others)


def test_rollouts_are_logged_to_the_run_folder(judge, tmp_path):
    log = RolloutLog(tmp_path)
    reward = SpeciaRLReward(
        judge, RewardSettings(), num_generations=4, prompt_name="general", rollout_log=log
    )
    call(reward, batch())
    rows = [json.loads(line) for line in (tmp_path / "rollouts" / "rank0.jsonl").open()]
    assert len(rows) == 12
    first = rows[0]
    assert first["sample_id"] == "a" and first["prompt"] == "general"
    assert first["answer"] == "striped red circle" and first["verdict"] == "specific"
    assert first["judge"] == "lexical" and first["c_star"] == "specific" and first["reward"] == 1.0
    assert rows[1]["verdict"] == "less specific" and rows[1]["judge"] == "taxonomy"
    assert "round" not in first  # only dynamic sampling's rounds are numbered


def test_a_generation_round_set_by_the_trainer_is_logged_with_each_record(judge, tmp_path):
    log = RolloutLog(tmp_path)
    reward = SpeciaRLReward(
        judge, RewardSettings(), num_generations=4, prompt_name="general", rollout_log=log
    )
    for generation_round in (1, 2, None):
        reward.generation_round = generation_round
        call(reward, batch())
    rows = [json.loads(line) for line in (tmp_path / "rollouts" / "rank0.jsonl").open()]
    assert [row.get("round") for row in rows] == [1] * 12 + [2] * 12 + [None] * 12


def test_two_real_processes_gather_split_groups(tmp_path):
    """torchrun, two CPU processes, gloo: group b is split 1/3 between them."""
    run_two_processes("two_process_reward.py", str(tmp_path), timeout=120)
    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    whole = call(
        SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="g"), batch()
    )
    rank0 = json.loads((tmp_path / "rank0.json").read_text())
    rank1 = json.loads((tmp_path / "rank1.json").read_text())
    assert rank0 + rank1 == whole
    assert rank0[4] == 1.0  # the split group's best rollout, seen whole by rank 0
