"""The public reward factory for a user's own TRL script: `speciarl.speciarl_reward`."""

import subprocess
import sys

import pytest

import speciarl
from speciarl.data.errors import DatasetError
from speciarl.data.synthetic import hierarchy_yaml
from speciarl.judges.cached import CachedJudge
from speciarl.judges.factory import judges_in
from speciarl.judges.llm import LLMJudge
from speciarl.judges.taxonomy import TaxonomyJudge
from speciarl.reward import group_rewards
from speciarl.reward_api import MissingColumnsError, SpeciaRLReward, speciarl_reward
from speciarl.train import reward_fn
from speciarl.verdict import Verdict


def completions(texts):
    return [
        [{"role": "assistant", "content": f"<think>looking</think><answer>{text}</answer>"}]
        for text in texts
    ]


def call(reward, texts, labels, ids):
    return reward(
        prompts=[None] * len(texts), completions=completions(texts), label=labels, sample_id=ids
    )


def test_importing_speciarl_stays_light_and_exports_the_entry_points():
    code = (
        "import sys, speciarl; assert 'torch' not in sys.modules and 'trl' not in sys.modules; "
        "from speciarl import speciarl_reward, SpeciaRLReward; "
        "assert 'torch' not in sys.modules and 'trl' not in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr
    assert speciarl.speciarl_reward is speciarl_reward
    assert speciarl.SpeciaRLReward is SpeciaRLReward
    assert {"speciarl_reward", "SpeciaRLReward", "MaskedGRPOTrainer"} <= set(dir(speciarl))
    with pytest.raises(AttributeError, match="no_such_thing"):
        speciarl.no_such_thing  # noqa: B018


def test_the_reward_by_dataset_name_gives_speciarl_group_rewards():
    reward = speciarl_reward("synthetic", num_generations=2)
    assert isinstance(reward, reward_fn.SpeciaRLReward)
    assert reward.masks_undecided and reward.__name__ == "speciarl"
    label = _a_leaf()
    rewards = call(reward, [label, "bicycle"], [label, label], ["a", "a"])
    assert rewards == group_rewards([Verdict.SPECIFIC, Verdict.WRONG]) == [1.0, 0.0]


def _a_leaf() -> str:
    from speciarl.data.synthetic import species

    return species()[0].name


def test_the_reward_by_hierarchy_file(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(hierarchy_yaml())
    for given in (path, str(path)):
        reward = speciarl_reward(given, num_generations=2, scheme="binary")
        assert any(isinstance(judge, TaxonomyJudge) for judge in judges_in(reward.judge))
        assert reward.__name__ == "binary"
    label = _a_leaf()
    assert call(reward, [label, "none"], [label, label], [7, 7]) == [1.0, 0.0]  # int ids work


def test_llm_judge_and_cache_from_plain_arguments(tmp_path):
    reward = speciarl_reward(
        "synthetic",
        num_generations=4,
        endpoint="http://127.0.0.1:9/v1",
        model="judge",
        cache=tmp_path / "verdicts.sqlite",
        noise=0.1,
        format_penalty=-0.5,
    )
    members = judges_in(reward.judge)
    assert any(isinstance(judge, LLMJudge) for judge in members)
    assert any(isinstance(judge, CachedJudge) for judge in members)
    assert reward.endpoint == "http://127.0.0.1:9/v1"
    assert reward.settings.noise == 0.1 and reward.settings.format_penalty == -0.5


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({"num_generations": 1}, "num_generations"),
        ({"num_generations": "4"}, "num_generations"),
        ({"scheme": "scala4"}, "scheme 'scala4'"),
        ({"endpoint": "http://localhost:8000/v1"}, "both endpoint and model: endpoint given"),
        ({"model": "qwen"}, "both endpoint and model: model given"),
        ({"noise": 1.5}, "noise"),
        ({"format_penalty": float("nan")}, "format_penalty"),
        ({"max_undecided": -0.1}, "max_undecided"),
        ({"hierarchy": None}, "hierarchy is None"),
    ],
)
def test_argument_errors_name_the_argument(arguments, named):
    given = {"hierarchy": "synthetic", "num_generations": 4, **arguments}
    with pytest.raises(ValueError, match=named):
        speciarl_reward(given.pop("hierarchy"), **given)


def test_an_unknown_hierarchy_says_what_it_accepts(tmp_path):
    with pytest.raises(DatasetError, match=r"neither a dataset .*cub200.* nor a hierarchy file"):
        speciarl_reward(str(tmp_path / "missing.yaml"), num_generations=4)


def test_missing_columns_name_the_columns_and_what_trl_passed():
    reward = speciarl_reward("synthetic", num_generations=2)
    only = "sample_id, and TRL passed only: class_id, label"
    with pytest.raises(MissingColumnsError, match=only):
        reward(
            prompts=[None, None],
            completions=completions(["a", "b"]),
            label=["x", "x"],
            class_id=[1, 1],
            trainer_state=None,
        )
    with pytest.raises(MissingColumnsError, match=r"label, sample_id.*only: none"):
        reward(prompts=[None], completions=completions(["a"]))
    with pytest.raises(MissingColumnsError, match="2 completions but 1 labels"):
        reward(prompts=[None] * 2, completions=completions(["a", "b"]), label=["x"], sample_id=[1])


def test_a_split_group_is_still_refused():
    reward = speciarl_reward("synthetic", num_generations=4)
    with pytest.raises(reward_fn.GroupError, match="num_generations=4"):
        call(reward, ["a", "b"], ["x", "x"], ["s", "s"])
