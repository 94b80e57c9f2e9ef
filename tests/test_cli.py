import csv
import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.selfcheck import EXAMPLE_HIERARCHY

runner = CliRunner()

PAIRS = [
    {"ground_truth": "golden-winged warbler", "prediction": "warbler", "sample_id": "a"},
    {"ground_truth": "samoyed", "prediction": "dog", "sample_id": "b"},
    {"ground_truth": "samoyed", "prediction": "Samoyed", "sample_id": "c"},
    {"ground_truth": "samoyed", "prediction": "none", "sample_id": "d"},
    {"ground_truth": "samoyed", "prediction": "samoyed or cat", "sample_id": "e"},
    {"ground_truth": "samoyed", "prediction": "a fluffy thing", "sample_id": "f"},
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_judge_cascade_writes_one_line_per_pair_in_order(tmp_path):
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "out" / "verdicts.jsonl"
    write_jsonl(pairs, PAIRS)
    result = runner.invoke(
        app,
        [
            "judge",
            "--pairs",
            str(pairs),
            "--judge",
            "cascade",
            "--hierarchy",
            str(EXAMPLE_HIERARCHY),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert [r["sample_id"] for r in rows] == ["a", "b", "c", "d", "e", "f"]
    assert [r["verdict"] for r in rows] == [
        "less specific",
        "generic",
        "specific",
        "abstain",
        "wrong",
        None,
    ]
    assert [r["judge"] for r in rows] == [
        "taxonomy",
        "taxonomy",
        "lexical",
        "lexical",
        "lexical",
        None,
    ]
    assert rows[0]["ground_truth"] == "golden-winged warbler"
    assert "undecided" in result.stderr
    assert "decided by taxonomy" in result.stderr


def test_judge_lexical_reads_csv(tmp_path):
    pairs, out = tmp_path / "pairs.csv", tmp_path / "verdicts.jsonl"
    with pairs.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=["ground_truth", "prediction"])
        writer.writeheader()
        writer.writerows({k: p[k] for k in ("ground_truth", "prediction")} for p in PAIRS)
    result = runner.invoke(
        app, ["judge", "--pairs", str(pairs), "--judge", "lexical", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert [r["verdict"] for r in read_jsonl(out)] == [
        None,
        None,
        "specific",
        "abstain",
        "wrong",
        None,
    ]


def test_judge_with_cache_reuses_verdicts_across_runs(tmp_path):
    pairs, out, cache = tmp_path / "p.jsonl", tmp_path / "o.jsonl", tmp_path / "v.sqlite"
    write_jsonl(pairs, PAIRS)
    args = [
        "judge",
        "--pairs",
        str(pairs),
        "--judge",
        "taxonomy",
        "--hierarchy",
        str(EXAMPLE_HIERARCHY),
        "--out",
        str(out),
        "--cache",
        str(cache),
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert not any(r["cached"] for r in read_jsonl(out))
    out.unlink()  # into the same --out, a rerun would resume (and find nothing left to judge)
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    rows = read_jsonl(out)
    assert [r["cached"] for r in rows] == [r["verdict"] is not None for r in rows]
    assert "cache hits" in second.stderr


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ('{"ground_truth": "a"}\n', ".jsonl", "p.jsonl:1: missing field 'prediction'"),
        (
            '{"ground_truth": "a", "prediction": "b"}\nnot json\n',
            ".jsonl",
            "p.jsonl:2: not valid JSON",
        ),
        ("[1, 2]\n", ".jsonl", "expected a JSON object"),
        ('{"ground_truth": 707, "prediction": "b"}\n', ".jsonl", "must be a string, got int"),
        ("ground_truth,label\na,b\n", ".csv", "header lacks column(s) prediction"),
        ("ground_truth,prediction\na,b,c\n", ".csv", "p.csv:2: more values than header"),
        ("whatever", ".txt", "unknown pairs format '.txt'"),
    ],
)
def test_judge_names_what_is_wrong_with_the_input(tmp_path, content, suffix, message):
    pairs, out = tmp_path / f"p{suffix}", tmp_path / "o.jsonl"
    pairs.write_text(content, encoding="utf-8")
    result = runner.invoke(
        app, ["judge", "--pairs", str(pairs), "--judge", "lexical", "--out", str(out)]
    )
    assert result.exit_code != 0
    assert message in result.stderr
    assert not out.exists()


def test_taxonomy_judge_needs_a_hierarchy(tmp_path):
    pairs = tmp_path / "p.jsonl"
    write_jsonl(pairs, PAIRS)
    result = runner.invoke(
        app, ["judge", "--pairs", str(pairs), "--judge", "taxonomy", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert "needs a label hierarchy" in result.stderr


def test_missing_pairs_file_is_named(tmp_path):
    result = runner.invoke(
        app, ["judge", "--pairs", str(tmp_path / "absent.jsonl"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code != 0
    assert "absent.jsonl: no such file" in result.stderr


def test_selfcheck_passes_through_the_installed_command():
    completed = subprocess.run(
        [sys.executable, "-m", "speciarl.cli", "selfcheck"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "self-check passed" in completed.stdout
    assert "FAIL" not in completed.stdout


def test_judge_cascade_with_an_llm_endpoint_and_cache(tmp_path):
    from speciarl.testing.openai_server import ScriptedOpenAIServer, rule_responder

    pairs, out, cache = tmp_path / "p.jsonl", tmp_path / "o.jsonl", tmp_path / "v.sqlite"
    write_jsonl(pairs, PAIRS)
    asked = []

    def rule(ground_truth, prediction):
        asked.append(prediction)
        return "generic" if prediction == "a fluffy thing" else "wrong"

    with ScriptedOpenAIServer(rule_responder(rule), models=["judge"]) as server:
        args = [
            "judge",
            "--pairs",
            str(pairs),
            "--judge",
            "cascade",
            "--hierarchy",
            str(EXAMPLE_HIERARCHY),
            "--endpoint",
            server.base_url,
            "--model",
            "judge",
            "--cache",
            str(cache),
            "--out",
            str(out),
        ]
        first = runner.invoke(app, args)
        out.unlink()  # into the same --out, a rerun would resume (and find nothing left to judge)
        second = runner.invoke(app, args)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    rows = read_jsonl(out)
    assert rows[-1]["verdict"] == "generic" and rows[-1]["judge"] == "llm"
    assert asked == ["a fluffy thing"]  # the deterministic judges and the cache saved the rest
    assert "LLM calls" in first.stderr and "cache hits" in second.stderr


def test_llm_judge_needs_endpoint_and_model(tmp_path):
    pairs = tmp_path / "p.jsonl"
    write_jsonl(pairs, PAIRS)
    result = runner.invoke(
        app, ["judge", "--pairs", str(pairs), "--judge", "llm", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert "needs an endpoint and a model" in result.stderr
    half = runner.invoke(
        app,
        [
            "judge",
            "--pairs",
            str(pairs),
            "--judge",
            "llm",
            "--model",
            "m",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert half.exit_code == 2 and "both --endpoint and --model" in half.stderr


RAW = [
    {
        "ground_truth": "golden-winged warbler",
        "prediction": "<think>x</think><answer>warbler</answer>",
    },
    {"ground_truth": "samoyed", "prediction": "<think>a white dog</think>  <answer> Dog </answer>"},
    {"ground_truth": "samoyed", "prediction": "I think it is a samoyed"},
    {"ground_truth": "samoyed", "prediction": "<answer>samoyed</answer><answer>cat</answer>"},
]


def _llm_judge_args(pairs, out, server, *extra):
    return [
        "judge",
        "--pairs",
        str(pairs),
        "--judge",
        "llm",
        "--endpoint",
        server.base_url,
        "--model",
        "judge",
        "--out",
        str(out),
        *extra,
    ]


def test_judge_extracts_answers_from_raw_completions_before_the_llm_sees_them(tmp_path):
    from speciarl.testing.openai_server import ScriptedOpenAIServer, rule_responder

    pairs, out = tmp_path / "raw.jsonl", tmp_path / "o.jsonl"
    write_jsonl(pairs, RAW)
    asked = []

    def rule(ground_truth, prediction):
        asked.append(prediction)
        return "less specific" if prediction == "warbler" else "generic"

    with ScriptedOpenAIServer(rule_responder(rule), models=["judge"]) as server:
        result = runner.invoke(app, _llm_judge_args(pairs, out, server))
    assert result.exit_code == 0, result.output
    assert sorted(asked) == ["Dog", "warbler"]  # only well-formed answers, tags removed
    rows = read_jsonl(out)
    assert [r["answer_status"] for r in rows] == ["ok", "ok", "missing", "repeated"]
    assert [r["answer"] for r in rows] == ["warbler", "Dog", None, None]
    assert [r["verdict"] for r in rows] == ["less specific", "generic", None, None]
    assert "judging the extracted answers" in result.stderr
    counts = {
        label.strip(): int(count)
        for label, count in re.findall(r"^(\s*[a-z ]+?)\s+(\d+)\s", result.stderr, re.MULTILINE)
    }
    assert counts["format failures"] == 2
    assert counts["answer missing"] == 1 and counts["answer repeated"] == 1
    assert counts["undecided"] == 0  # format failures were never judged, so not undecided


def test_judge_text_as_it_is_when_told_and_extract_when_told(tmp_path):
    from speciarl.testing.openai_server import ScriptedOpenAIServer, rule_responder

    raw, plain = tmp_path / "raw.jsonl", tmp_path / "plain.jsonl"
    write_jsonl(raw, RAW[:1])
    write_jsonl(plain, [{"ground_truth": "samoyed", "prediction": "dog"}])
    asked = []

    def rule(ground_truth, prediction):
        asked.append(prediction)
        return "wrong"

    with ScriptedOpenAIServer(rule_responder(rule), models=["judge"]) as server:
        as_is = runner.invoke(
            app, _llm_judge_args(raw, tmp_path / "a.jsonl", server, "--no-extract-answer")
        )
        forced = runner.invoke(
            app, _llm_judge_args(plain, tmp_path / "b.jsonl", server, "--extract-answer")
        )
    assert as_is.exit_code == 0 and forced.exit_code == 0, as_is.output + forced.output
    assert asked == ["<think>x</think><answer>warbler</answer>"]  # the plain "dog" had no tags
    assert "answer_status" not in read_jsonl(tmp_path / "a.jsonl")[0]
    assert read_jsonl(tmp_path / "b.jsonl")[0]["answer_status"] == "missing"


def test_judge_stops_before_judging_when_the_llm_endpoint_is_down_or_misnamed(tmp_path):
    from speciarl.testing.openai_server import Reply, ScriptedOpenAIServer

    pairs, out = tmp_path / "p.jsonl", tmp_path / "o.jsonl"
    write_jsonl(pairs, PAIRS)
    server = ScriptedOpenAIServer(lambda body: Reply("wrong"), models=["other-model"])
    with server:
        misnamed = runner.invoke(app, _llm_judge_args(pairs, out, server))
        url = server.base_url
    assert misnamed.exit_code == 2
    assert misnamed.stderr.strip() == (
        f"error: --model 'judge' is not served at {url} (it serves: other-model)"
    )
    assert server.requests == []  # not one pair was sent
    down = runner.invoke(app, _llm_judge_args(pairs, out, server))  # the server is gone now
    assert down.exit_code == 2
    assert down.stderr.startswith(f"error: --endpoint {url}: no answer")
    assert len(down.stderr.strip().splitlines()) == 1
    assert not out.exists()
