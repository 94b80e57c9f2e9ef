"""The ``speciarl`` advantage estimator against the installed verl: its registry, its own GRPO
function, its plugin loading and its config files (verl 0.9.1, installed by ``make test``)."""

import os
import random
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

core_algos = pytest.importorskip(
    "verl.trainer.ppo.core_algos",
    reason="verl is not installed: `make test` installs verl==0.9.1 --no-deps and the verl-cpu "
    "extra",
)

from speciarl.integrations import verl as hooks  # noqa: E402
from speciarl.integrations import verl_estimator  # noqa: E402
from speciarl.reward import (  # noqa: E402
    DEFAULT_FORMAT_PENALTY,
    SCHEMES,
    SPECIARL,
    SPECIARL_SINGLE,
    group_rewards,
)
from speciarl.verdict import Verdict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "verl.md"
UNDECIDED = "undecided"
FORMAT_FAILURE = "format failure"
OUTCOMES = [*Verdict, UNDECIDED, FORMAT_FAILURE]
RESPONSE_LENGTH = 6


def config(**settings_):
    """verl's algorithm config as the trainer hands it over: an OmegaConf node."""
    from omegaconf import OmegaConf

    base = {"norm_adv_by_std_in_grpo": True, "use_kl_in_reward": False, "filter_groups": None}
    return OmegaConf.create({**base, **settings_})


def verdict_of(outcome):
    return outcome if isinstance(outcome, Verdict) else None


def formatted(outcome):
    return outcome != FORMAT_FAILURE


def estimate(token_level_rewards, response_mask, index, algorithm):
    """The estimator, looked up and called as verl's ``compute_advantage`` does."""
    estimator = core_algos.get_adv_estimator_fn(hooks.ESTIMATOR_NAME)
    return estimator(
        token_level_rewards=token_level_rewards,
        response_mask=response_mask,
        config=algorithm,
        index=index,
    )


def batch_of(rows, seed):
    """verl's tensors for rows of (uid, score), in order: the score on the last response token
    of a random length; padding rows (``pad`` uids) with an empty mask, as padding_utils makes."""
    rng = random.Random(seed)
    scores = torch.zeros(len(rows), RESPONSE_LENGTH, dtype=torch.float32)
    mask = torch.zeros(len(rows), RESPONSE_LENGTH, dtype=torch.int64)
    for row, (uid, score) in enumerate(rows):
        length = 1 if uid.startswith("pad") else rng.randint(1, RESPONSE_LENGTH)
        scores[row, length - 1] = score
        if not uid.startswith("pad"):
            mask[row, :length] = 1
    index = np.array([uid for uid, _ in rows], dtype=object)
    return scores, mask, index


group = st.lists(
    st.tuples(st.sampled_from(OUTCOMES), st.integers(0, 512)),  # outcome, overlong tokens
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(
    groups=st.lists(group, min_size=1, max_size=5),
    padding=st.integers(0, 3),
    scheme=st.sampled_from(SCHEMES),
    format_penalty=st.sampled_from([DEFAULT_FORMAT_PENALTY, -0.5]),
    norm=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_advantages_are_speciarl_rewards_through_verls_grpo(
    groups, padding, scheme, format_penalty, norm, seed
):
    # rollouts of several prompts, shuffled, with DAPO's overlong penalty (-k/512, as verl's dapo
    # manager computes it) on top of their level scores, and verl's padding rows at the end
    rollouts = [
        (f"uid-{g}", outcome, -overlong / 512)
        for g, members in enumerate(groups)
        for outcome, overlong in members
    ]
    random.Random(seed).shuffle(rollouts)
    rows = [
        (uid, hooks.level_score(verdict_of(o), formatted(o)) + penalty)
        for uid, o, penalty in rollouts
    ]
    pad_uid = "pad" + "0" * 32
    rows += [(pad_uid, 0.0)] * padding
    scores, mask, index = batch_of(rows, seed)

    algorithm = config(
        norm_adv_by_std_in_grpo=norm,
        speciarl_scheme=scheme,
        speciarl_format_penalty=format_penalty,
    )
    advantages, returns = estimate(scores, mask, index, algorithm)

    # the expectation: speciarl.reward's group rewards (plus the penalty) per uid, batch order
    # kept within a group, zero for padding, through verl's own GRPO function; an undecided
    # rollout is masked as TRL's MaskedGRPOTrainer masks it: a group of its own, reward 0
    rewards = [0.0] * len(rows)
    groups = list(index)
    for uid in {uid for uid, _, _ in rollouts}:
        members = [i for i, rollout in enumerate(rollouts) if rollout[0] == uid]
        outcomes = [rollouts[i][1] for i in members]
        group_reward = group_rewards(
            [verdict_of(o) for o in outcomes],
            scheme,
            [formatted(o) for o in outcomes],
            format_penalty=format_penalty,
        )
        for i, reward in zip(members, group_reward, strict=True):
            if outcomes[members.index(i)] == UNDECIDED:
                groups[i] = f"alone-{i}"
            else:
                rewards[i] = reward + rollouts[i][2]
    expected_scores, _, _ = batch_of(list(zip(groups, rewards, strict=True)), seed)
    expected, _ = core_algos.compute_grpo_outcome_advantage(
        token_level_rewards=expected_scores,
        response_mask=mask,
        index=np.array(groups, dtype=object),
        norm_adv_by_std_in_grpo=norm,
    )
    torch.testing.assert_close(advantages, expected, rtol=0, atol=1e-6)
    assert returns is advantages
    assert not advantages[mask == 0].any()  # padding and tokens past a response: no advantage
    undecided = [i for i, (_, outcome, _) in enumerate(rollouts) if outcome == UNDECIDED]
    assert not advantages[undecided].any()


def test_an_undecided_rollout_is_masked_not_rewarded_0():
    # in a group of 1s the undecided rollout (with an overlong penalty) gets 0, not a negative
    # advantage; in a mixed group the others' advantages are those of the group without it
    specific, generic = (hooks.level_score(v, True) for v in (Verdict.SPECIFIC, Verdict.GENERIC))
    undecided = hooks.level_score(None, True) - 0.25
    rows = [("p", specific), ("p", undecided), ("p", specific), ("q", specific), ("q", generic)]
    scores, mask, index = batch_of([*rows, ("q", undecided)], seed=0)
    advantages, _ = estimate(scores, mask, index, config())
    assert not advantages[[0, 1, 2, 5]].any()
    alone, _, _ = batch_of(rows, seed=0)  # the same response lengths for the first five rows
    without, _ = estimate(alone, mask[:5], index[:5], config())
    torch.testing.assert_close(advantages[3:5], without[3:5])
    assert advantages[3, 0] > 0 > advantages[4, 0]


def test_a_known_group_gets_the_papers_rewards():
    # c* is "specific" (capped from "more specific"): specific and more specific earn 1
    # (the undecided rollout is masked: advantage 0, outside the group's mean)
    outcomes = [Verdict.MORE_SPECIFIC, Verdict.SPECIFIC, Verdict.GENERIC, UNDECIDED, FORMAT_FAILURE]
    rows = [("p", hooks.level_score(verdict_of(o), formatted(o))) for o in outcomes]
    scores, mask, index = batch_of(rows, seed=0)
    advantages, _ = estimate(scores, mask, index, config(norm_adv_by_std_in_grpo=False))
    rewards = torch.tensor([1.0, 1.0, 0.0, -1.0])
    centred = (rewards - rewards.mean()).tolist()
    assert advantages[:, 0].tolist() == pytest.approx([*centred[:3], 0.0, centred[3]])


def test_scheme_falls_back_to_the_environment(monkeypatch):
    monkeypatch.setenv(hooks.ENV_REWARD_SCHEME, "scala1")
    rows = [("p", hooks.level_score(Verdict.LESS_SPECIFIC, True)), ("p", 0.0)]  # 0.75 and 0
    scores, mask, index = batch_of(rows, seed=0)
    advantages, _ = estimate(scores, mask, index, config(norm_adv_by_std_in_grpo=False))
    assert advantages[:, 0].tolist() == pytest.approx([0.375, -0.375])
    explicit = config(norm_adv_by_std_in_grpo=False, speciarl_scheme="binary")  # config wins
    assert not estimate(scores, mask, index, explicit)[0].any()


def test_level_scores_read_back_with_any_overlong_penalty():
    for outcome in OUTCOMES:
        for overlong in (0, 1, 256, 511, 512):
            score = torch.tensor(
                hooks.level_score(verdict_of(outcome), formatted(outcome)) - overlong / 512,
                dtype=torch.float32,
            ).item()
            read = hooks.read_level_score(score, row=0)
            assert read == (verdict_of(outcome), formatted(outcome), -overlong / 512)


@pytest.mark.parametrize("score", [1.0, 0.5, 60.0, -30.0, 12.0])
def test_a_score_that_is_no_level_is_refused_naming_the_row(score):
    rows = [("p", 0.0), ("p", score)]
    scores, mask, index = batch_of(rows, seed=0)
    with pytest.raises(ValueError, match=r"rollout 1 has score .*compute_score_level"):
        estimate(scores, mask, index, config())


def test_settings_that_would_corrupt_the_reward_are_refused():
    scores, mask, index = batch_of([("p", 40.0), ("p", 20.0)], seed=0)
    with pytest.raises(ValueError, match="use_kl_in_reward"):
        estimate(scores, mask, index, config(use_kl_in_reward=True))
    single_with_filter = config(
        speciarl_scheme=SPECIARL_SINGLE, filter_groups={"enable": True, "metric": "x"}
    )
    with pytest.raises(ValueError, match="speciarl-single"):
        estimate(scores, mask, index, single_with_filter)
    with pytest.raises(ValueError, match="speciarl_format_penalty must be a finite number"):
        estimate(scores, mask, index, config(speciarl_format_penalty="minus one"))
    with pytest.raises(ValueError, match="unknown reward scheme 'best-of-n'"):
        estimate(scores, mask, index, config(speciarl_scheme="best-of-n"))
    with pytest.raises(ValueError, match="needs the prompt uids"):
        core_algos.get_adv_estimator_fn("speciarl")(scores, mask, config=config())
    with pytest.raises(ValueError, match="index has 1 uids"):
        estimate(scores, mask, index[:1], config())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(OUTCOMES), min_size=2, max_size=8))
def test_reward_classes_are_equal_exactly_when_the_rewards_are(outcomes):
    # what DAPO's group filter needs: a group is evicted exactly when it has no signal
    classes = {hooks.reward_class(verdict_of(o), formatted(o)) for o in outcomes}
    rewards = group_rewards(
        [verdict_of(o) for o in outcomes], SPECIARL, [formatted(o) for o in outcomes]
    )
    assert (len(classes) == 1) == (len(set(rewards)) == 1)


@pytest.fixture
def judge_env(monkeypatch, tmp_path):
    """The synthetic benchmark's hierarchy, no LLM, a fresh judge."""
    for name in (hooks.ENV_ENDPOINT, hooks.ENV_MODEL, hooks.ENV_PROMPT, hooks.ENV_REWARD_SCHEME):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(hooks.ENV_HIERARCHY, "synthetic")
    monkeypatch.setenv(hooks.ENV_CACHE, str(tmp_path / "verdicts.sqlite"))
    hooks.reset()
    yield monkeypatch
    hooks.reset()


STRIPED = "striped red circle"
ANSWERS = {
    "<answer>striped red circle</answer>": (Verdict.SPECIFIC, 40.0, 4.0),
    "<think>stripes</think><answer>red circle</answer>": (Verdict.LESS_SPECIFIC, 30.0, 3.0),
    "<answer>circle</answer>": (Verdict.GENERIC, 20.0, 2.0),
    "<answer>none</answer>": (Verdict.ABSTAIN, 10.0, 1.0),
    "<answer>plain red circle</answer>": (Verdict.WRONG, 0.0, 0.0),
    "striped red circle": (None, -20.0, -2.0),  # no answer tag
}


def test_compute_score_level_scores_the_verdicts_level(judge_env):
    for solution, (_, score, level) in ANSWERS.items():
        result = hooks.compute_score_level("synthetic", solution, STRIPED, {"index": 0})
        assert result == {
            "score": score,
            hooks.LEVEL_KEY: level,
            hooks.REWARD_CLASS_KEY: level,
        }, solution
    judge_env.delenv(hooks.ENV_HIERARCHY)
    judge_env.delenv(hooks.ENV_CACHE)
    undecided = hooks.compute_score_level("synthetic", "<answer>circle</answer>", STRIPED)
    assert undecided == {"score": -10.0, hooks.LEVEL_KEY: -1.0, hooks.REWARD_CLASS_KEY: 0.0}


def test_the_estimator_gives_what_the_batch_hook_gives(judge_env):
    # verl >= 0.7.1 (levels, then the estimator) and verl <= 0.7.0 (the batch hook) must agree
    solutions = list(ANSWERS) * 2
    uids = ["a"] * len(ANSWERS) + ["b"] * len(ANSWERS)
    order = list(range(len(solutions)))
    random.Random(3).shuffle(order)
    solutions = [solutions[i] for i in order]
    uids = [uids[i] for i in order]
    levels = [hooks.compute_score_level("synthetic", s, STRIPED)["score"] for s in solutions]
    batch_rewards = hooks.compute_score_batch(
        ["synthetic"] * len(solutions),
        solutions,
        [STRIPED] * len(solutions),
        [{"uid": uid} for uid in uids],
    )
    scores, mask, index = batch_of(list(zip(uids, levels, strict=True)), seed=1)
    advantages, _ = estimate(scores, mask, index, config())
    reward_scores, _, _ = batch_of(list(zip(uids, batch_rewards, strict=True)), seed=1)
    expected, _ = core_algos.compute_grpo_outcome_advantage(reward_scores, mask, index)
    torch.testing.assert_close(advantages, expected)


def test_registration_is_idempotent_and_survives_a_copy_loaded_by_path():
    import importlib.util

    registered = core_algos.get_adv_estimator_fn("speciarl")
    assert registered is verl_estimator.compute_speciarl_advantage
    verl_estimator.register()
    importlib.import_module("speciarl.integrations.verl_estimator")
    spec = importlib.util.spec_from_file_location("custom_module_copy", verl_estimator.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)  # registers the importable module's function, not its own
    assert core_algos.get_adv_estimator_fn("speciarl") is registered
    with pytest.raises(ValueError, match="already been registered"):
        core_algos.register_adv_est("speciarl")(copy.compute_speciarl_advantage)


LOOKUP = (
    "import sys, verl; from verl.trainer.ppo.core_algos import get_adv_estimator_fn; "
    "fn = get_adv_estimator_fn('speciarl'); print(fn.__module__, fn.__qualname__)"
)


@pytest.mark.parametrize(
    "environment",
    [
        pytest.param({"VERL_USE_EXTERNAL_PLUGINS": "auto"}, id="verl.plugins entry point"),
        pytest.param(
            {
                "VERL_USE_EXTERNAL_PLUGINS": "none",
                "VERL_USE_EXTERNAL_MODULES": "speciarl.integrations.verl_estimator",
            },
            id="VERL_USE_EXTERNAL_MODULES",
        ),
    ],
)
def test_a_fresh_verl_finds_the_estimator(environment, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERL_USE_EXTERNAL")}
    result = subprocess.run(
        [sys.executable, "-c", LOOKUP],
        env={**env, **environment},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [
        "speciarl.integrations.verl_estimator",
        "compute_speciarl_advantage",
    ]


# ------------------------------------------------------------------------------------------------
# docs/verl.md's command lines against verl's own config.


def documented_runs():
    """(name, overrides) of each ``main_ppo`` command of docs/verl.md built on SPECIARL_COMMON."""
    text = DOC.read_text(encoding="utf-8")
    common = shlex.split(re.search(r"SPECIARL_COMMON=\(\n(.*?)\n\)", text, re.DOTALL).group(1))
    runs = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            words = shlex.split(line.split(" #")[0])
            if words[:3] != ["python", "-m", "verl.trainer.main_ppo"]:
                continue
            if words[3:4] != ["${SPECIARL_COMMON[@]}"]:
                continue
            overrides = [
                word.replace("$SPECIARL_VERL", str(Path(hooks.__file__).resolve()))
                for word in common + words[4:]
            ]
            name = next(o.split("=", 1)[1] for o in overrides if "experiment_name=" in o)
            runs.append((name, overrides))
    return runs


def compose(overrides):
    import verl
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    config_dir = str(Path(verl.__file__).parent / "trainer" / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return hydra_compose(config_name="ppo_trainer", overrides=overrides)


def test_the_doc_holds_the_four_runs():
    names = [name for name, _ in documented_runs()]
    assert names == ["cub_speciarl", "cub_dr_grpo", "cub_dapo", "cub_dapo_ds"]


@pytest.mark.parametrize(
    "overrides", [pytest.param(overrides, id=name) for name, overrides in documented_runs()]
)
def test_a_documented_run_composes_with_verls_config(overrides):
    pytest.importorskip("hydra", reason="hydra-core (the verl-cpu extra) composes the config")
    config_ = compose(overrides)  # raises on a key verl does not have (without a +)
    algorithm = config_.algorithm
    assert algorithm.adv_estimator == "speciarl"
    assert config_.reward.custom_reward_function.name == "compute_score_level"
    assert Path(config_.reward.custom_reward_function.path).resolve() == Path(hooks.__file__)
    assert config_.actor_rollout_ref.rollout.n == 10
    assert config_.actor_rollout_ref.model.lora_rank == 64
    assert config_.actor_rollout_ref.actor.optim.lr == 3e-5
    if algorithm.filter_groups.enable:
        assert algorithm.filter_groups.metric == hooks.REWARD_CLASS_KEY
    if config_.reward.reward_manager.name == "dapo":
        overlong = config_.reward.reward_kwargs.overlong_buffer_cfg
        assert (overlong.len, config_.reward.reward_kwargs.max_resp_len) == (512, 2048)
        assert config_.data.max_response_length == 2048

    # the composed algorithm config drives the estimator: its scheme and std setting arrive
    rows = [("p", 40.0), ("p", 20.0), ("p", 20.0), ("q", 0.0)]
    scores, mask, index = batch_of(rows, seed=0)
    advantages, _ = estimate(scores, mask, index, algorithm)
    rewards = torch.tensor([1.0, 0.0, 0.0])
    centred = rewards - rewards.mean()
    if algorithm.norm_adv_by_std_in_grpo:
        centred = centred / (rewards.std() + 1e-6)
    torch.testing.assert_close(advantages[:3, 0], centred)


def test_the_documented_grpo_run_holds_the_helpers_configuration():
    documented = dict(documented_runs())["cub_speciarl"]
    for override in hooks.verl_overrides(hooks.verl_reward_config("0.9")):
        assert override in documented, override


def test_verl_releases_map_to_their_layout():
    assert hooks.verl_layout("0.6.1") == "0.6"
    assert hooks.verl_layout("0.7.0") == "0.7"
    assert hooks.verl_layout("0.7.1") == "0.9"
    assert hooks.verl_layout("0.9.1") == "0.9"
    assert hooks.verl_layout("0.9.1rc1") == "0.9"
    assert hooks.verl_layout("0.7.0.post1") == "0.7"
    assert hooks.verl_layout("0.10.0.dev0") == "0.9"
    import verl

    assert hooks.verl_layout(verl.__version__) == "0.9"
    for bad in ("0.5.0", "nine", "0.9"):
        with pytest.raises(ValueError, match="verl"):
            hooks.verl_layout(bad)
