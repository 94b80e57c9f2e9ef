"""Stored verdicts say who gave them; each judge set-up keeps its own; reports name the judges.

CUB-200 (a two-image fixture) has an open-world hierarchy, so every member of the cascade gets
work: the lexical judge (exact names, abstentions), the taxonomy judge (names in the hierarchy)
and the LLM (the rest), here a real OpenAI-compatible server on loopback.
"""

import json

import pytest

from data_fixtures import make_cub
from eval_folders import cli, error_of, predicted_folder
from speciarl.data.registry import get_dataset
from speciarl.evaluate.run import prediction_store, verdict_store
from speciarl.evaluate.verify import verify
from speciarl.judges.describe import judge_id
from speciarl.judges.factory import build_judge
from speciarl.judges.llm import LLMJudgeSettings
from speciarl.testing.openai_server import Reply, ScriptedOpenAIServer, rule_responder

JUDGE = "Qwen/Qwen3-8B"
ANSWERS = ["Black footed Albatross", "bird", "a winged creature", "I don't know"]
# Test images: an albatross and an indigo bunting, four answers each. The lexical judge decides
# the exact name (albatross) and both abstentions; the taxonomy judge "bird" twice and the
# albatross named on the bunting; "a winged creature" is for the LLM.
HIERARCHY_COUNTS = {"lexical": 3, "taxonomy": 3, "llm": 0, "cache": 0}


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "data"
    make_cub(root)
    return predicted_folder(tmp_path / "out", ANSWERS, dataset="cub200", subset=None, root=root)


def report_of(out, *extra):
    cli("report", "--out", out, "--resamples", "20", *extra)
    return json.loads((out / "report.json").read_text())


def verify_with_llm(out, server, *extra):
    args = ["--endpoint", server.base_url, "--judge-model", JUDGE, "--judge-prompt", "strict"]
    return cli("verify", "--out", out, *args, *extra)


def test_another_judge_set_up_judges_again_into_its_own_store(folder):
    cli("verify", "--out", folder)
    [hierarchy_store] = (folder / "cub200").glob("verdicts-*.jsonl")
    first = hierarchy_store.read_text()
    records = [json.loads(line) for line in first.splitlines()]
    assert len(records) == 6  # the two LLM pairs are undecided: not stored, asked again
    stored_id = hierarchy_store.stem.removeprefix("verdicts-")
    assert {r["judge_id"] for r in records} == {stored_id}
    assert {r["judge_setup"] for r in records} == {"lexical > taxonomy[cub200]"}
    assert {r["judge"] for r in records} == {"lexical", "taxonomy"}
    report = report_of(folder)
    assert report["judge"] == {"setup": "hierarchy", "llm": None, "verified_setups": ["hierarchy"]}
    assert report["datasets"]["cub200"]["judge"] == {
        "judge_id": stored_id,
        "summary": "lexical > taxonomy[cub200]",
        "decided_by": HIERARCHY_COUNTS,
    }
    assert report["datasets"]["cub200"]["undecided"] == 2

    generic = rule_responder(lambda truth, prediction: "generic")
    with ScriptedOpenAIServer(generic, models=[JUDGE]) as server:
        verify_with_llm(folder, server)
        asked = {json.loads(r["messages"][-1]["content"])["prediction"] for r in server.requests}
    assert asked == {"a winged creature"}
    assert hierarchy_store.read_text() == first  # the earlier verdicts are kept as they were
    [llm_store] = set((folder / "cub200").glob("verdicts-*.jsonl")) - {hierarchy_store}
    assert len(llm_store.read_text().splitlines()) == 8

    report = report_of(folder)  # the latest set-up by default
    setup = report["judge"]["setup"]
    assert setup.startswith("llm-")
    assert report["judge"]["llm"] == {"model": JUDGE, "prompt": "strict", "prompt_version": 1}
    judged = report["datasets"]["cub200"]["judge"]
    assert judged["summary"] == f"lexical > taxonomy[cub200] > llm[{JUDGE}, prompt strict v1]"
    assert judged["decided_by"] == {"lexical": 3, "taxonomy": 3, "llm": 2, "cache": 0}
    assert report["datasets"]["cub200"]["undecided"] == 0
    markdown = (folder / "report.md").read_text()
    assert f"Judge set-up: {setup} (LLM {JUDGE}, prompt strict v1)." in markdown
    assert "Also verified in this folder: hierarchy" in markdown
    row = f"| {judged['summary']} | {llm_store.stem.removeprefix('verdicts-')} | 3 | 3 | 2 | 0 |"
    assert row in markdown

    earlier = report_of(folder, "--judge", "hierarchy")
    assert earlier["datasets"]["cub200"]["judge"]["decided_by"] == HIERARCHY_COUNTS
    result = cli("report", "--out", folder, "--judge", "gpt", code=2)
    assert error_of(result) == (
        f"--judge gpt: is not a judge set-up of this folder (verified: hierarchy, {setup})"
    )


def test_pairs_the_llm_left_undecided_are_asked_again_on_the_next_run(folder):
    broken = {"on": True}

    def respond(body):
        return Reply("no idea") if broken["on"] else Reply("specific")

    with ScriptedOpenAIServer(respond, models=[JUDGE]) as server:
        verify_with_llm(folder, server)
        [store] = (folder / "cub200").glob("verdicts-*.jsonl")
        assert len(store.read_text().splitlines()) == 6
        broken["on"] = False
        verify_with_llm(folder, server)
    assert len(store.read_text().splitlines()) == 8
    report = report_of(folder)
    assert report["datasets"]["cub200"]["judge"]["decided_by"]["llm"] == 2


def test_verdicts_from_the_cache_are_counted_as_such(folder, tmp_path):
    again = tmp_path / "again"
    # The same predictions in a second folder.
    predicted_folder(again, ANSWERS, dataset="cub200", subset=None, root=tmp_path / "data")
    cache = tmp_path / "verdicts.sqlite"
    generic = rule_responder(lambda truth, prediction: "generic")
    with ScriptedOpenAIServer(generic, models=[JUDGE]) as server:
        verify_with_llm(folder, server, "--cache", cache)
        asked = len(server.requests)
        verify_with_llm(again, server, "--cache", cache)
        assert len(server.requests) == asked  # all from the cache
    first, second = report_of(folder), report_of(again)
    assert first["datasets"]["cub200"]["judge"]["decided_by"]["cache"] == 0
    # The lexical judge stays in front of the cache; the rest comes back from it.
    assert second["datasets"]["cub200"]["judge"]["decided_by"] == {
        "lexical": 3,
        "taxonomy": 0,
        "llm": 0,
        "cache": 5,
    }
    assert second["datasets"]["cub200"]["counts"] == first["datasets"]["cub200"]["counts"]


def test_a_store_never_takes_the_verdicts_of_another_judge(folder):
    hierarchy = get_dataset("cub200").hierarchy()
    plain = build_judge("cascade", hierarchy=hierarchy)
    other = build_judge(
        "cascade", hierarchy=hierarchy, llm=LLMJudgeSettings(endpoint="http://x/v1", model=JUDGE)
    )
    store = verdict_store(folder, "cub200", judge_id(plain))
    verify(prediction_store(folder, "cub200"), store, plain)
    with pytest.raises(ValueError, match=r"holds verdicts of judge .* give each judge its own"):
        verify(prediction_store(folder, "cub200"), store, other)
