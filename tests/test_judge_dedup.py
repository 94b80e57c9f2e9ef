"""Each distinct pair is judged once per call, with or without a verdict cache, wherever a judge
is used: ``speciarl judge``, ``verify``, the training reward and the verl hooks.

The LLM is a real OpenAI-compatible server on loopback (`ScriptedOpenAIServer`) that answers
each pair with a verdict of its own choosing, so every row's verdict can be traced back to the
one request that decided it.
"""

import json
import math
import random
from collections import Counter

import pytest
from typer.testing import CliRunner

from data_fixtures import make_cub
from eval_folders import predicted_folder
from speciarl.cli import app
from speciarl.evaluate.judging import Judging
from speciarl.evaluate.pipeline import run_verification
from speciarl.evaluate.run import verdict_store
from speciarl.judges import Cascade, Pair
from speciarl.judges.base import Judgement, distinct
from speciarl.judges.describe import judge_id
from speciarl.judges.factory import build_judge
from speciarl.judges.llm import LLMJudge, LLMJudgeSettings
from speciarl.reward import group_rewards
from speciarl.testing.openai_server import (
    Reply,
    ScriptedOpenAIServer,
    judged_pairs,
    rule_responder,
)
from speciarl.train.config import RewardSettings
from speciarl.train.reward_fn import SpeciaRLReward
from speciarl.verdict import VERDICTS, Verdict

runner = CliRunner()
MODEL = "judge-model"

# 10 labels x 12 answers no lexical rule decides: 120 distinct pairs, all for the LLM.
LABELS = ["samoyed", "husky", "beagle", "poodle", "boxer", "collie", "pug", "corgi", "akita"]
LABELS.append("whippet")
ANSWERS = [f"dog kind {number}" for number in range(12)]
DISTINCT = [(label, answer) for label in LABELS for answer in ANSWERS]


def verdict_for(ground_truth: str, prediction: str) -> str:
    """The scripted LLM's verdict: fixed per pair, and all six verdicts occur."""
    index = LABELS.index(ground_truth) + ANSWERS.index(prediction)
    return VERDICTS[index % len(VERDICTS)].value


def rows_320() -> list[tuple[str, str]]:
    """320 rows: the first 100 distinct pairs three times each, the last 20 once, shuffled."""
    rows = [pair for i, pair in enumerate(DISTINCT) for _ in range(3 if i < 100 else 1)]
    random.Random(0).shuffle(rows)
    assert len(rows) == 320 and len(set(rows)) == 120
    return rows


def settings(server, **overrides) -> LLMJudgeSettings:
    values = {
        "endpoint": server.base_url,
        "model": MODEL,
        "output": "structured",
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.02,
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return LLMJudgeSettings(**values)


def sent_pairs(server) -> list[tuple[str, str]]:
    """Every (ground truth, prediction) the server was asked about, one per item of a request."""
    return [
        (item["ground_truth"], item["prediction"])
        for body in server.requests
        for item in judged_pairs(body)
    ]


# --- the building block ----------------------------------------------------------------------


def test_distinct_keeps_first_seen_order_and_maps_every_row():
    unique, slots = distinct(["b", "a", "b", "c", "a"])
    assert unique == ["b", "a", "c"]
    assert slots == [0, 1, 0, 2, 1]
    assert [unique[slot] for slot in slots] == ["b", "a", "b", "c", "a"]
    assert distinct([]) == ([], [])


# --- speciarl judge ----------------------------------------------------------------------------


def judge_command(pairs, out, server, kind, *extra):
    """``speciarl judge`` of ``pairs`` into ``out`` with the scripted server as its LLM."""
    arguments = ["--pairs", str(pairs), "--judge", kind, "--endpoint", server.base_url]
    arguments += ["--model", MODEL, "--out", str(out), *extra]
    return runner.invoke(app, ["judge", *arguments])


@pytest.mark.parametrize(
    ("kind", "cached"),
    [("llm", False), ("llm", True), ("cascade", False), ("cascade", True)],
)
def test_judge_command_asks_each_distinct_pair_once(tmp_path, kind, cached):
    rows = rows_320()
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "verdicts.jsonl"
    pairs.write_text(
        "".join(
            json.dumps({"row": i, "ground_truth": truth, "prediction": answer}) + "\n"
            for i, (truth, answer) in enumerate(rows)
        )
    )
    extra = ["--cache", str(tmp_path / "verdicts.sqlite")] if cached else []
    with ScriptedOpenAIServer(rule_responder(verdict_for), models=[MODEL]) as server:
        result = judge_command(pairs, out, server, kind, *extra)
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 120
    assert sorted(sent_pairs(server)) == sorted(DISTINCT)
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["row"] for row in written] == list(range(320))
    for row, (truth, answer) in zip(written, rows, strict=True):
        assert (row["ground_truth"], row["prediction"]) == (truth, answer)
        assert row["verdict"] == verdict_for(truth, answer)
        assert row["judge"] == "llm"
    summary = {
        line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1]
        for line in result.stderr.splitlines()
        if line.startswith(("LLM calls", "duplicates", "pairs sharing"))
    }
    assert summary["LLM calls"] == "120"
    saved = sum(int(value) for label, value in summary.items() if label != "LLM calls")
    assert saved == 200


def test_judge_command_fills_batched_requests_with_distinct_pairs(tmp_path):
    rows = rows_320()
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "verdicts.jsonl"
    pairs.write_text(
        "".join(json.dumps({"ground_truth": t, "prediction": p}) + "\n" for t, p in rows)
    )
    with ScriptedOpenAIServer(rule_responder(verdict_for), models=[MODEL]) as server:
        result = judge_command(
            pairs, out, server, "llm", "--batch-size", "4", "--output-mode", "json_schema"
        )
    assert result.exit_code == 0, result.output
    assert len(server.requests) == math.ceil(120 / 4)
    assert sorted(sent_pairs(server)) == sorted(DISTINCT)  # each distinct pair in one request
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["verdict"] for row in written] == [verdict_for(t, p) for t, p in rows]


# --- the LLM judge ----------------------------------------------------------------------------


def test_pairs_equal_once_sanitised_share_one_request():
    variants = [
        Pair("samoyed", "dog kind 1"),
        Pair("samoyed", "dog  kind 1"),  # whitespace collapsed
        Pair("samoyed", "dog\u200b kind 1\u202e"),  # zero-width space, bidi override
        Pair("samoyed ", "\tdog kind 1\n"),  # padding, in the label too
        Pair("samoyed", "dog kind 2"),  # another request
    ]
    with ScriptedOpenAIServer(rule_responder(verdict_for)) as server:
        judge = LLMJudge(settings(server))
        judgements = judge.judge(variants)
    assert sorted(sent_pairs(server)) == [("samoyed", "dog kind 1"), ("samoyed", "dog kind 2")]
    expected = [verdict_for("samoyed", "dog kind 1")] * 4 + [verdict_for("samoyed", "dog kind 2")]
    assert [j.verdict.value for j in judgements] == expected
    assert judge.counters["llm_calls"] == 2
    assert judge.counters["llm_duplicates"] == 3
    assert judge.counters["pairs"] == 5


@pytest.mark.parametrize("batch_size", [1, 4])
def test_llm_judge_sends_ceil_distinct_over_batch_size_requests(batch_size):
    rows = rows_320()
    finished = []
    with ScriptedOpenAIServer(rule_responder(verdict_for)) as server:
        judge = LLMJudge(settings(server, batch_size=batch_size))
        judge.progress = finished.append
        judgements = judge.judge([Pair(t, p) for t, p in rows])
    assert len(server.requests) == math.ceil(120 / batch_size)
    assert judge.counters["llm_calls"] == len(server.requests)
    assert judge.counters["llm_duplicates"] == 200
    assert Counter(sent_pairs(server)) == Counter(DISTINCT)
    assert [j.verdict.value for j in judgements] == [verdict_for(t, p) for t, p in rows]
    assert sum(finished) == 320  # progress counts the pairs given, duplicates included


def test_refused_and_failed_duplicates_are_counted_per_pair():
    rows = [Pair("samoyed", "x" * 5000)] * 3 + [Pair("samoyed", "dog kind 1")] * 4
    with ScriptedOpenAIServer(lambda body: Reply(status=503)) as server:
        judge = LLMJudge(settings(server, max_retries=1))
        judgements = judge.judge(rows)
    assert [j.verdict for j in judgements] == [Verdict.WRONG] * 3 + [None] * 4
    assert len(server.requests) == 2  # one distinct pair asked, retried once
    assert judge.counters["llm_refused_malformed"] == 3
    assert judge.counters["llm_failed"] == 4
    assert judge.counters["undecided"] == 4


def test_the_same_pairs_in_another_call_are_asked_again_without_a_cache():
    """Deduplication is per call; remembering across calls is the verdict cache's job."""
    with ScriptedOpenAIServer(rule_responder(verdict_for)) as server:
        judge = LLMJudge(settings(server))
        judge.judge([Pair("samoyed", "dog kind 1")] * 3)
        judge.judge([Pair("samoyed", "dog kind 1")] * 3)
    assert len(server.requests) == 2


# --- the cascade ------------------------------------------------------------------------------


class Recording:
    """A judge that decides every pair from a rule and records the batches it was given."""

    name = "recording"
    identity = "recording:v1"

    def __init__(self, rule=verdict_for) -> None:
        self.rule = rule
        self.counters: Counter[str] = Counter()
        self.seen: list[list[Pair]] = []

    def judge(self, pairs):
        self.seen.append(list(pairs))
        return [Judgement(Verdict(self.rule(*pair)), self.name) for pair in pairs]


def test_cascade_passes_each_distinct_pair_down_once_and_keeps_rows_aligned():
    rows = rows_320()
    member = Recording()
    cascade = Cascade([build_judge("lexical"), member])
    judgements = cascade.judge([Pair(t, p) for t, p in rows])
    assert len(member.seen) == 1 and sorted(member.seen[0]) == sorted(map(Pair._make, DISTINCT))
    assert [j.verdict.value for j in judgements] == [verdict_for(t, p) for t, p in rows]
    assert cascade.counters["batch_duplicates"] == 200
    assert cascade.counters["pairs"] == 320
    assert cascade.counters["decided_by:recording"] == 320


def test_cascade_keeps_raw_text_apart_for_the_lexical_judge():
    """Deduplication in the cascade is exact: 'robin/cardinal' and 'robin cardinal' normalise
    alike but only the first names several options."""
    member = Recording(lambda truth, prediction: "generic")
    cascade = Cascade([build_judge("lexical"), member])
    judgements = cascade.judge([Pair("robin", "robin/cardinal"), Pair("robin", "robin cardinal")])
    assert judgements[0].verdict is Verdict.WRONG and judgements[0].judge == "lexical"
    assert member.seen == [[Pair("robin", "robin cardinal")]]


# --- training and evaluation ------------------------------------------------------------------


def completion(answer: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": f"<think>looking</think><answer>{answer}</answer>"}]


def test_training_reward_call_asks_each_distinct_pair_once():
    # Three images, four rollouts each, answers repeated within and across groups.
    groups = {
        "a": ("samoyed", ["dog kind 1", "dog kind 1", "dog kind 2", "dog kind 1"]),
        "b": ("husky", ["dog kind 1", "dog kind 3", "dog kind 3", "dog kind 3"]),
        "c": ("samoyed", ["dog kind 2", "dog kind 2", "dog kind 1", "dog kind 2"]),
    }
    rows = [(sid, label, answer) for sid, (label, answers) in groups.items() for answer in answers]
    logged = {}
    with ScriptedOpenAIServer(rule_responder(verdict_for)) as server:
        judge = build_judge("cascade", llm=settings(server))
        reward = SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="general")
        rewards = reward(
            prompts=[None] * len(rows),
            completions=[completion(answer) for _, _, answer in rows],
            label=[label for _, label, _ in rows],
            sample_id=[sid for sid, _, _ in rows],
            log_metric=logged.__setitem__,
        )
    distinct_pairs = {(label, answer) for _, label, answer in rows}
    assert len(distinct_pairs) == 4
    assert len(server.requests) == 4
    assert sorted(sent_pairs(server)) == sorted(distinct_pairs)
    assert logged["speciarl/judge/llm_calls"] == 4
    expected = [
        reward
        for label, answers in groups.values()
        for reward in group_rewards([Verdict(verdict_for(label, a)) for a in answers])
    ]
    assert rewards == expected


def test_verl_batch_hook_asks_each_distinct_pair_once(monkeypatch):
    from speciarl.integrations import verl

    for name in (verl.ENV_HIERARCHY, verl.ENV_CACHE, verl.ENV_PROMPT, verl.ENV_REWARD_SCHEME):
        monkeypatch.delenv(name, raising=False)
    truths = ["samoyed"] * 4 + ["husky"] * 4
    answers = ["dog kind 1", "dog kind 1", "dog kind 2", "dog kind 1"] * 2
    with ScriptedOpenAIServer(rule_responder(verdict_for)) as server:
        monkeypatch.setenv(verl.ENV_ENDPOINT, server.base_url)
        monkeypatch.setenv(verl.ENV_MODEL, MODEL)
        verl.reset()
        try:
            verl.compute_score_batch(
                ["dogs"] * 8,
                [f"<think>x</think><answer>{answer}</answer>" for answer in answers],
                truths,
                [{"sample_id": truth} for truth in truths],
            )
        finally:
            verl.reset()
    assert len(server.requests) == 4
    assert sorted(sent_pairs(server)) == sorted(set(zip(truths, answers, strict=True)))


def test_verification_of_an_eval_folder_asks_each_distinct_pair_once(tmp_path):
    # CUB-200 has an open-world hierarchy: these answers are left to the LLM.
    answers = ["a winged creature", "a winged creature", "some feathered thing"] * 2
    root = tmp_path / "data"
    make_cub(root)
    out = predicted_folder(tmp_path / "out", answers, dataset="cub200", subset=None, root=root)
    rule = {"a winged creature": "generic", "some feathered thing": "less specific"}
    with ScriptedOpenAIServer(rule_responder(lambda t, p: rule[p]), models=[MODEL]) as server:
        judging = Judging(endpoint=server.base_url, judge_model=MODEL)
        run_verification(out, judging, echo=lambda line: None)
    labels = {truth for truth, _ in sent_pairs(server)}
    assert len(labels) == 2  # the two test images
    assert len(server.requests) == 2 * 2
    assert sorted(sent_pairs(server)) == sorted(
        (label, answer) for label in labels for answer in rule
    )
    records = verdict_store(out, "cub200", judge_id(judging.judge_for("cub200"))).load().values()
    assert len(records) == 2 * len(answers)
    assert all(r["verdict"] == rule[r["answer"]] and r["judge"] == "llm" for r in records)
