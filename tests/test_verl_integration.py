"""verl's reward hooks, called as verl calls them, without verl installed.

verl's batch reward manager passes numpy object arrays of data sources and ``extra_info`` dicts
(the same dict repeated over a prompt's rollouts) and a list of decoded responses; the per-rollout
managers call ``compute_score`` with keywords. The judge is the synthetic benchmark's cascade.
"""

import importlib.util
import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from speciarl.answer import extract_answer
from speciarl.data import synthetic
from speciarl.data.registry import get_dataset
from speciarl.integrations import verl
from speciarl.judges.base import Pair
from speciarl.judges.cache import SqliteVerdictCache
from speciarl.judges.factory import build_judge, judges_in
from speciarl.judges.llm import LLMJudge
from speciarl.reward import group_rewards
from speciarl.verdict import Verdict

ENV_VARS = (
    verl.ENV_HIERARCHY,
    verl.ENV_ENDPOINT,
    verl.ENV_MODEL,
    verl.ENV_PROMPT,
    verl.ENV_CACHE,
    verl.ENV_REWARD_SCHEME,
    verl.ENV_VERL_SCHEME,
)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """The synthetic hierarchy, no LLM, a SQLite cache in tmp_path; a fresh judge each test."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(verl.ENV_HIERARCHY, "synthetic")
    monkeypatch.setenv(verl.ENV_CACHE, str(tmp_path / "verdicts.sqlite"))
    verl.reset()
    yield monkeypatch
    verl.reset()


def answer(text):
    return f"<think>the shape has stripes</think><answer>{text}</answer>"


def verl_batch(rows):
    """(solution, label, sample_id) rows as verl's batch manager hands them over."""
    infos = {}
    extra_infos = []
    for _, _, sample_id in rows:
        # verl repeats each prompt's extra_info dict (one object) over its rollouts
        extra_infos.append(infos.setdefault(sample_id, {"split": "train", "sample_id": sample_id}))
    return dict(
        data_sources=np.array(["synthetic"] * len(rows), dtype=object),
        solution_strs=[solution for solution, _, _ in rows],
        ground_truths=[label for _, label, _ in rows],
        extra_infos=np.array(extra_infos, dtype=object),
    )


STRIPED = "striped red circle"
DOTTED = "dotted blue square"

INTERLEAVED = [
    (answer("red circle"), STRIPED, "synthetic/train/0"),  # less specific
    (answer("square"), DOTTED, "synthetic/train/1"),  # generic
    (answer("circle"), STRIPED, "synthetic/train/0"),  # generic
    (answer("dotted blue square"), DOTTED, "synthetic/train/1"),  # specific
    ("dotted blue square", DOTTED, "synthetic/train/1"),  # no answer tag
    (answer("none"), STRIPED, "synthetic/train/0"),  # abstain
    (answer("blue square"), DOTTED, "synthetic/train/1"),  # less specific
    (answer("plain red circle"), STRIPED, "synthetic/train/0"),  # wrong
]


def test_batch_rewards_are_the_group_rewards_of_the_verdicts(env):
    rewards = verl.compute_score_batch(**verl_batch(INTERLEAVED))

    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    expected = [0.0] * len(INTERLEAVED)
    for group in ("synthetic/train/0", "synthetic/train/1"):
        members = [i for i, row in enumerate(INTERLEAVED) if row[2] == group]
        formatted = [INTERLEAVED[i][0].startswith("<think>") for i in members]
        pairs = [
            Pair(INTERLEAVED[i][1], extract_answer(INTERLEAVED[i][0]).text or "") for i in members
        ]
        verdicts = [
            j.verdict if ok else None for j, ok in zip(judge.judge(pairs), formatted, strict=True)
        ]
        for i, reward in zip(members, group_rewards(verdicts, formatted=formatted), strict=True):
            expected[i] = reward

    assert rewards == expected
    # group 0: best is "less specific"; group 1: best is "specific"; the untagged answer: -1
    assert rewards == [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0]
    assert all(isinstance(reward, float) for reward in rewards)


def test_group_reward_of_a_lone_guesser_rewards_abstaining(env):
    rows = [
        (answer("plain red circle"), STRIPED, "a"),  # wrong
        (answer("I don't know"), STRIPED, "a"),  # abstain: c* is lifted to abstain
        (answer("mimic red circle"), STRIPED, "a"),  # wrong
    ]
    assert verl.compute_score_batch(**verl_batch(rows)) == [0.0, 1.0, 0.0]


def test_groups_are_keyed_by_data_source_and_group_key(env):
    batch = verl_batch(INTERLEAVED[:2])
    # the same id in two data sources names two images
    batch["extra_infos"] = np.array([{"sample_id": 7}, {"sample_id": 7}], dtype=object)
    batch["data_sources"] = np.array(["cub200", "synthetic"], dtype=object)
    batch["ground_truths"] = [STRIPED, STRIPED]
    batch["solution_strs"] = [answer("red circle"), answer("circle")]
    # one group would give [1, 0]; two groups of one give each its own c*
    assert verl.compute_score_batch(**batch) == [1.0, 1.0]


def test_group_key_prefers_uid_then_sample_id_then_index(env):
    rows = [(answer("red circle"), STRIPED, None), (answer("circle"), STRIPED, None)]
    batch = verl_batch(rows)
    batch["extra_infos"] = [{"uid": "p1", "sample_id": "x"}, {"uid": "p1", "sample_id": "y"}]
    assert verl.compute_score_batch(**batch) == [1.0, 0.0]  # one group: uid wins
    batch["extra_infos"] = [{"sample_id": "x", "index": 0}, {"sample_id": "y", "index": 0}]
    assert verl.compute_score_batch(**batch) == [1.0, 1.0]  # two groups: sample_id wins
    batch["extra_infos"] = [{"split": "train", "index": 3}, {"split": "train", "index": 3}]
    assert verl.compute_score_batch(**batch) == [1.0, 0.0]  # verl's own index convention


def test_missing_group_key_names_what_to_add(env):
    batch = verl_batch(INTERLEAVED[:2])
    batch["extra_infos"] = np.array([{"sample_id": "a"}, {"split": "train"}], dtype=object)
    with pytest.raises(ValueError, match=r"rollout 1 .*extra_info\.sample_id") as caught:
        verl.compute_score_batch(**batch)
    assert "split" in str(caught.value)
    batch["extra_infos"] = [None, None]
    with pytest.raises(ValueError, match=r"rollout 0 .*found none"):
        verl.compute_score_batch(**batch)


def test_groups_of_unequal_size_are_scored_with_a_warning(env, caplog):
    rows = [*INTERLEAVED[:4], (answer("star"), DOTTED, "synthetic/train/1")]  # sizes 2 and 3
    with caplog.at_level(logging.WARNING, logger=verl.__name__):
        rewards = verl.compute_score_batch(**verl_batch(rows))
    assert rewards == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert "differ in size" in caplog.text
    assert "1 group(s) of 2, 1 group(s) of 3" in caplog.text


def test_groups_of_one_warn_that_the_group_reward_says_nothing(env, caplog):
    rows = [(answer("circle"), STRIPED, "a"), (answer("square"), DOTTED, "b")]
    with caplog.at_level(logging.WARNING, logger=verl.__name__):
        assert verl.compute_score_batch(**verl_batch(rows)) == [1.0, 1.0]
    assert "every group holds one rollout" in caplog.text


def test_equal_groups_do_not_warn(env, caplog):
    with caplog.at_level(logging.WARNING, logger=verl.__name__):
        verl.compute_score_batch(**verl_batch(INTERLEAVED))
    assert caplog.text == ""


def test_batch_scheme_comes_from_keyword_then_environment(env):
    rows = INTERLEAVED[:3] + INTERLEAVED[5:6]  # less specific, generic, generic, abstain
    batch = verl_batch(rows)
    env.setenv(verl.ENV_REWARD_SCHEME, "scala1")
    assert verl.compute_score_batch(**batch) == [0.75, 0.5, 0.5, 0.25]
    assert verl.compute_score_batch(**batch, scheme="binary") == [0.0, 0.0, 0.0, 0.0]
    # keywords verl forwards from reward_kwargs that mean nothing here are ignored
    assert verl.compute_score_batch(**batch, overlong_buffer_cfg=None) == [0.75, 0.5, 0.5, 0.25]
    env.setenv(verl.ENV_REWARD_SCHEME, "best-of-n")
    with pytest.raises(ValueError, match="unknown reward scheme 'best-of-n'"):
        verl.compute_score_batch(**batch)


def test_batch_checks_lengths_and_types(env):
    batch = verl_batch(INTERLEAVED[:2])
    assert verl.compute_score_batch([], [], [], []) == []
    with pytest.raises(ValueError, match="one of each per rollout"):
        verl.compute_score_batch(**{**batch, "ground_truths": [STRIPED]})
    with pytest.raises(TypeError, match="ground truth 1 must be the label string"):
        verl.compute_score_batch(**{**batch, "ground_truths": [STRIPED, ["a", "b"]]})
    numpy_labels = np.array([STRIPED, DOTTED])  # numpy string scalars are accepted
    assert len(verl.compute_score_batch(**{**batch, "ground_truths": numpy_labels})) == 2


def test_format_failures_get_minus_one_and_are_never_judged(env, tmp_path):
    rows = [
        ("striped red circle", STRIPED, "a"),  # no tag
        (answer(""), STRIPED, "a"),  # empty
        ("<answer>circle</answer><answer>red circle</answer>", STRIPED, "a"),  # repeated
        ("<think>maybe <answer>circle</answer></think>", STRIPED, "a"),  # only inside reasoning
        (answer("circle"), STRIPED, "a"),
    ]
    assert verl.compute_score_batch(**verl_batch(rows)) == [-1.0, -1.0, -1.0, -1.0, 1.0]
    for solution, label, _ in rows[:4]:
        assert verl.compute_score("synthetic", solution, label, {"sample_id": "a"}) == -1.0
    verl.reset()
    with SqliteVerdictCache(tmp_path / "verdicts.sqlite") as cache:
        assert len(cache) == 1  # only the well-formed "circle" reached the cached judges


def test_undecided_answers_earn_zero(env):
    env.delenv(verl.ENV_HIERARCHY)
    env.delenv(verl.ENV_CACHE)  # the lexical judge alone is never cached
    rows = [(answer("circle"), STRIPED, "a"), (answer("Striped red circle"), STRIPED, "a")]
    # no hierarchy: the lexical judge cannot grade "circle" and nobody else is asked
    assert verl.compute_score_batch(**verl_batch(rows)) == [0.0, 1.0]


def test_compute_score_gives_a_static_scheme(env):
    def score(text, extra_info=None, **kwargs):
        return verl.compute_score(
            data_source="synthetic",
            solution_str=answer(text),
            ground_truth=STRIPED,
            extra_info=extra_info,
            **kwargs,
        )

    assert score("striped red circle") == 1.0  # binary by default
    assert score("red circle") == 0.0
    assert score("red circle", reward_router_address=None) == 0.0  # verl's extra keywords
    env.setenv(verl.ENV_VERL_SCHEME, "scala1")
    assert score("red circle") == 0.75
    assert score("circle", scheme="scala3") == 0.0  # reward_kwargs keyword beats the env
    assert score("circle", {verl.SCHEME_KEY: "scala2"}, scheme="scala3") == 0.5  # row beats all
    assert isinstance(score("circle"), float)


def test_compute_score_refuses_group_schemes(env):
    for scheme in ("speciarl", "speciarl-single"):
        env.setenv(verl.ENV_VERL_SCHEME, scheme)
        with pytest.raises(ValueError, match="compute_score_batch"):
            verl.compute_score("synthetic", answer("circle"), STRIPED, None)
    env.setenv(verl.ENV_VERL_SCHEME, "scala9")
    with pytest.raises(ValueError, match="unknown reward scheme 'scala9'"):
        verl.compute_score("synthetic", answer("circle"), STRIPED, None)


def test_judge_is_built_once_and_rebuilt_when_the_environment_changes(env, tmp_path):
    first = verl.get_judge()
    assert verl.get_judge() is first
    verl.compute_score_batch(**verl_batch(INTERLEAVED))
    assert verl.get_judge() is first

    env.setenv(verl.ENV_HIERARCHY, str(synthetic.HIERARCHY_FILE))  # same hierarchy, by file
    by_file = verl.get_judge()
    assert by_file is not first
    assert by_file.identity == first.identity

    env.setenv(verl.ENV_CACHE, str(tmp_path / "other.sqlite"))
    assert verl.get_judge() is not by_file

    current = verl.get_judge()
    verl.reset()
    assert verl.get_judge() is not current


def test_judge_is_built_once_across_threads(env, monkeypatch):
    builds = []
    real_build = verl.JudgeEnvironment.build

    def counting_build(self):
        builds.append(self)
        return real_build(self)

    monkeypatch.setattr(verl.JudgeEnvironment, "build", counting_build)
    barrier = threading.Barrier(8)
    seen = []

    def work():
        barrier.wait()
        seen.append(verl.get_judge())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert all(judge is seen[0] for judge in seen)


def test_verdicts_are_cached_across_processes_sharing_the_file(env, tmp_path):
    verl.compute_score_batch(**verl_batch(INTERLEAVED))
    verl.reset()
    judge = verl.get_judge()
    cached = judge.judge([Pair(STRIPED, "red circle")])[0]
    assert cached.verdict is Verdict.LESS_SPECIFIC
    assert cached.cached


def test_judge_settings_are_checked(env):
    env.setenv(verl.ENV_HIERARCHY, "no-such-dataset")
    with pytest.raises(ValueError, match="neither a dataset"):
        verl.get_judge()
    env.setenv(verl.ENV_HIERARCHY, "synthetic")
    env.setenv(verl.ENV_ENDPOINT, "http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="SPECIARL_JUDGE_MODEL"):
        verl.get_judge()


def test_llm_judge_is_configured_from_the_environment(env):
    env.setenv(verl.ENV_ENDPOINT, "http://127.0.0.1:9/v1")
    env.setenv(verl.ENV_MODEL, "judge-model")
    env.setenv(verl.ENV_PROMPT, "strict")
    llms = [j for j in judges_in(verl.get_judge()) if isinstance(j, LLMJudge)]
    assert len(llms) == 1
    assert llms[0].settings.endpoint == "http://127.0.0.1:9/v1"
    assert llms[0].settings.model == "judge-model"
    assert llms[0].settings.prompt == "strict"


def test_reward_config_per_verl_layout():
    legacy = verl.verl_reward_config("0.7")
    assert legacy["custom_reward_function.name"] == "compute_score_batch"
    assert legacy["reward_model.reward_manager"] == "batch"
    assert legacy["reward_model.use_reward_loop"] is False
    assert Path(legacy["custom_reward_function.path"]) == Path(verl.__file__).resolve()
    assert legacy["actor_rollout_ref.rollout.n"] == 10
    assert legacy["actor_rollout_ref.actor.kl_loss_coef"] == 0.01
    assert legacy["actor_rollout_ref.actor.kl_loss_type"] == "low_var_kl"
    assert legacy["algorithm.adv_estimator"] == "grpo"

    assert "reward_model.use_reward_loop" not in verl.verl_reward_config("0.6", rollout_n=5)
    assert verl.verl_reward_config("0.6", rollout_n=5)["actor_rollout_ref.rollout.n"] == 5

    current = verl.verl_reward_config("0.9")  # verl >= 0.7.1: levels, then the estimator
    assert current["reward.custom_reward_function.name"] == "compute_score_level"
    assert current["algorithm.adv_estimator"] == "speciarl"
    assert not any(key.startswith(("custom_reward_function", "reward_model")) for key in current)

    overrides = verl.verl_overrides(legacy)
    assert "reward_model.use_reward_loop=False" in overrides
    assert "actor_rollout_ref.actor.use_kl_loss=True" in overrides
    with pytest.raises(ValueError, match="unknown verl layout"):
        verl.verl_reward_config("0.8")


def test_row_fields_feed_the_batch_hook(env):
    rows = [
        verl.verl_row_fields("synthetic/train/0", "synthetic", STRIPED, index=0),
        verl.verl_row_fields("synthetic/train/1", "synthetic", DOTTED, index=1),
    ]
    assert rows[0]["reward_model"]["ground_truth"] == STRIPED
    # verl repeats each row over its rollouts, interleaved
    repeated = [row for row in rows for _ in range(2)]
    rewards = verl.compute_score_batch(
        data_sources=[row["data_source"] for row in repeated],
        solution_strs=[answer("circle"), answer("red circle"), answer("square"), answer("none")],
        ground_truths=[row["reward_model"]["ground_truth"] for row in repeated],
        extra_infos=[row["extra_info"] for row in repeated],
    )
    assert rewards == [0.0, 1.0, 1.0, 0.0]


def test_module_loads_from_its_file_path_as_verl_loads_it(env):
    # verl >= 0.7 executes the file under a made-up name, without adding it to sys.modules
    path = verl.verl_reward_config()["custom_reward_function.path"]
    spec = importlib.util.spec_from_file_location(f"custom_module_{hash(path)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        rewards = module.compute_score_batch(**verl_batch(INTERLEAVED))
        assert rewards == [1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0]
    finally:
        module.reset()


def test_compute_score_from_many_threads_shares_one_judge(env):
    # verl >= 0.9 runs the per-rollout hook in an executor's threads
    texts = ["striped red circle", "red circle", "circle", "none", "blue square"] * 8
    results = [None] * len(texts)

    def work(i):
        results[i] = verl.compute_score("synthetic", answer(texts[i]), STRIPED, {"sample_id": i})

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1.0, 0.0, 0.0, 0.0, 0.0] * 8


def test_verdicts_are_shared_through_redis(env, redis_server):
    env.setenv(verl.ENV_CACHE, redis_server.url)
    env.setenv("SPECIARL_REDIS_PASSWORD", redis_server.password)
    assert verl.compute_score_batch(**verl_batch(INTERLEAVED))[:4] == [1.0, 0.0, 0.0, 1.0]
    assert redis_server.client().dbsize() > 0
    verl.reset()  # another worker process: a new judge, the same verdicts
    cached = verl.get_judge().judge([Pair(STRIPED, "red circle")])[0]
    assert cached.verdict is Verdict.LESS_SPECIFIC
    assert cached.cached


def test_a_verl_layout_build_feeds_compute_score_batch(tmp_path, monkeypatch):
    """`speciarl data build --layout verl` writes what verl's batch manager hands the hook."""
    import pyarrow.parquet as pq

    from speciarl.data.build import build_split
    from speciarl.data.prepare import select_samples
    from speciarl.prompts import load_prompt

    monkeypatch.setenv("SPECIARL_JUDGE_HIERARCHY", "synthetic")
    verl.reset()
    samples = select_samples("synthetic", "test", subset=3)
    build_split(samples, tmp_path, load_prompt("general"), layout="verl")
    rows = pq.read_table(tmp_path / "data.parquet").to_pylist()
    assert rows[0]["prompt"][0]["content"].startswith("<image>")
    assert len(rows[0]["images"]) == 1 and rows[0]["images"][0]["bytes"]
    assert rows[0]["extra_info"]["sample_id"] == samples[0].sample_id
    repeated = [row for row in rows for _ in range(2)]  # two rollouts per prompt
    scores = verl.compute_score_batch(
        data_sources=[row["data_source"] for row in repeated],
        solution_strs=[
            f"<answer>{row['reward_model']['ground_truth']}</answer>" for row in repeated
        ],
        ground_truths=[row["reward_model"]["ground_truth"] for row in repeated],
        extra_infos=[row["extra_info"] for row in repeated],
    )
    assert scores == [1.0] * 6
    verl.reset()
