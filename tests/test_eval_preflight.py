"""``eval``, ``predict`` and ``verify`` check every input before the first prediction or verdict.

Each mistake stops the command with one line naming the option, and leaves no folder behind.
"""

import importlib.util
import json
import shutil
import socket

import pytest

from data_fixtures import make_cub
from eval_folders import cli, error_of, predicted_folder
from speciarl.testing.openai_server import Reply, ScriptedOpenAIServer

JUDGE = "Qwen/Qwen3-8B"


def eval_args(model, out, *extra):
    small = ["--subset", "2", "--max-new-tokens", "4"]
    return ["eval", "--model", model, "--out", out, *small, *extra]


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        # cub200 comes second: synthetic must not be predicted before its missing root stops us
        (["--datasets", "synthetic,cub200"], "--root: cub200 is read from its dataset folder"),
        (["--datasets", "synthetic,cub200", "--root", "EMPTY"], "--root EMPTY: cub200: cannot"),
        (["--datasets", "synthetic,nope"], "--datasets: unknown dataset 'nope'"),
        (["--datasets", "synthetic", "--split", "validation"], "--split validation: synthetic"),
        (["--datasets", "synthetic", "--subset", "5000"], "--subset 5000: synthetic test has only"),
        (["--datasets", "synthetic", "--backend", "tgi"], "--backend 'tgi': choose one of"),
        (["--datasets", "synthetic", "--judge-model", JUDGE], "--judge-model needs --endpoint"),
        (["--datasets", "synthetic", "--judge-prompt", "strict"], "--judge-prompt is the LLM"),
        (
            ["--datasets", "synthetic", "--cache", "c.db", "--redis", "redis://x"],
            "--cache and --redis",
        ),
    ],
)
def test_a_bad_option_stops_eval_before_anything_is_written(tmp_path, tiny_model, extra, expected):
    (tmp_path / "EMPTY").mkdir()
    extra = [str(tmp_path / "EMPTY") if value == "EMPTY" else value for value in extra]
    out = tmp_path / "out"
    result = cli(*eval_args(tiny_model, out, *extra), code=2)
    assert error_of(result).startswith(expected.replace("EMPTY", str(tmp_path / "EMPTY")))
    assert result.stderr.count("\n") == 1  # nothing predicted, nothing else said
    assert not out.exists()


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_the_vllm_backend_without_vllm_is_one_line_before_anything_is_written(tmp_path, tiny_model):
    out = tmp_path / "out"
    for command in ("eval", "predict"):
        args = [command, "--model", tiny_model, "--datasets", "synthetic", "--out", out]
        result = cli(*args, "--backend", "vllm", code=2)
        assert error_of(result).startswith("--backend vllm: vLLM is not installed")
        assert "pip install vllm" in result.stderr
        assert not out.exists()


def test_a_missing_model_or_adapter_folder_is_named(tmp_path, tiny_model):
    out = tmp_path / "out"
    missing = tmp_path / "no-such-model"
    result = cli("predict", "--model", missing, "--datasets", "synthetic", "--out", out, code=2)
    assert error_of(result) == f"--model {missing}: no such folder"
    (tmp_path / "runs").mkdir()
    beside = tmp_path / "runs" / "model"  # "runs/model" would pass for a Hub id: say why not
    result = cli("predict", "--model", beside, "--datasets", "synthetic", "--out", out, code=2)
    assert error_of(result).startswith(f"--model {beside}: no such folder")
    args = eval_args(tiny_model, out, "--datasets", "synthetic", "--adapter", tmp_path)
    result = cli(*args, code=2)
    assert error_of(result) == f"--adapter {tmp_path}: no adapter_config.json in this folder"
    assert not out.exists()


def test_the_judge_is_checked_before_the_first_prediction(tmp_path, tiny_model):
    out = tmp_path / "out"
    down = closed_port_url()
    args = eval_args(tiny_model, out, "--datasets", "synthetic", "--judge-model", JUDGE)
    result = cli(*args, "--endpoint", down, code=2)
    assert error_of(result).startswith(f"--endpoint {down}: no answer")
    with ScriptedOpenAIServer(lambda body: Reply("specific"), models=["Qwen/Qwen3-32B"]) as server:
        result = cli(*args, "--endpoint", server.base_url, code=2)
        assert error_of(result) == (
            f"--judge-model {JUDGE!r} is not served at {server.base_url} "
            "(it serves: Qwen/Qwen3-32B)"
        )
        assert server.requests == []  # only GET /models was asked
    assert not out.exists()


def test_verify_checks_the_judge_before_judging_anything(tmp_path):
    out = predicted_folder(tmp_path / "out", ["circle"])
    manifest = (out / "manifest.json").read_text()
    down = closed_port_url()
    result = cli("verify", "--out", out, "--endpoint", down, "--judge-model", JUDGE, code=2)
    assert error_of(result).startswith(f"--endpoint {down}: no answer")
    assert not list((out / "synthetic").glob("verdicts*"))
    assert (out / "manifest.json").read_text() == manifest


def test_every_dataset_is_checked_then_all_are_predicted(tmp_path, tiny_model):
    make_cub(tmp_path / "data")
    out = tmp_path / "out"
    cli(*eval_args(tiny_model, out, "--datasets", "synthetic,cub200", "--root", tmp_path / "data"))
    report = json.loads((out / "report.json").read_text())
    assert {name: data["n_images"] for name, data in report["datasets"].items()} == {
        "cub200": 2,
        "synthetic": 2,
    }


def test_a_root_without_its_images_is_named(tmp_path, tiny_model):
    folder = make_cub(tmp_path / "data")
    shutil.rmtree(folder / "images")  # the annotation files alone
    out = tmp_path / "out"
    args = eval_args(tiny_model, out, "--datasets", "cub200", "--root", tmp_path / "data")
    result = cli(*args, code=2)
    assert error_of(result).startswith(f"--root {tmp_path / 'data'}: cub200/test/0: cannot read")
    assert not out.exists()
