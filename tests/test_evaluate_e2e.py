"""predict -> verify -> report on the tiny model and the synthetic benchmark, killed and resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.data.registry import get_dataset
from speciarl.data.sample import Sample
from speciarl.evaluate.predict import Completion, GenerationSettings, predict, request_seed
from speciarl.evaluate.run import load_datasets, prediction_store, reported_judges, verdict_store
from speciarl.evaluate.verify import verify
from speciarl.judges.describe import judge_id
from speciarl.judges.factory import build_judge

runner = CliRunner()
IMAGES = 16


def eval_args(model: Path, out: Path) -> list[str]:
    return [
        "eval",
        "--model",
        str(model),
        "--datasets",
        "synthetic",
        "--subset",
        str(IMAGES),
        "--out",
        str(out),
        "--batch-size",
        "2",
        "--max-new-tokens",
        "12",
        "--n",
        "2",
        "--temperature",
        "1.0",
        "--name",
        "tiny",
    ]


def test_killed_and_resumed_evaluation_gives_the_same_report(tmp_path, tiny_model):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    result = runner.invoke(app, eval_args(tiny_model, whole))
    assert result.exit_code == 0, result.output

    command = [sys.executable, "-m", "speciarl.cli", *eval_args(tiny_model, resumed)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    predictions = resumed / "synthetic" / "predictions.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if predictions.is_file() and predictions.read_text().count("\n") >= 8:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    written = predictions.read_text().count("\n")
    assert 8 <= written < 2 * IMAGES, "the run must be killed mid-way"

    again = subprocess.run(command, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((resumed / "report.json").read_text()) == json.loads(
        (whole / "report.json").read_text()
    )
    store = prediction_store(resumed, "synthetic").load()
    assert len(store) == 2 * IMAGES  # no gaps, no duplicates
    assert store == prediction_store(whole, "synthetic").load()
    for plot in ("verdict_bars.png", "tradeoff.png"):
        with Image.open(resumed / plot) as image:
            assert image.format == "PNG" and image.width > 300


def test_a_corrupt_line_is_detected_and_reported(tmp_path, tiny_model):
    out = tmp_path / "eval"
    assert runner.invoke(app, eval_args(tiny_model, out)).exit_code == 0
    [verdicts] = (out / "synthetic").glob("verdicts-*.jsonl")
    with verdicts.open("a") as stream:
        stream.write("{broken\n")
    result = runner.invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 2
    assert f"{verdicts.name}:" in result.stderr and "--repair" in result.stderr
    repaired = runner.invoke(app, ["verify", "--out", str(out), "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert runner.invoke(app, ["report", "--out", str(out)]).exit_code == 0
    assert verdicts.with_name(f"{verdicts.name}.corrupt").is_file()


def test_other_settings_in_the_same_folder_are_refused(tmp_path, tiny_model):
    out = tmp_path / "eval"
    assert runner.invoke(app, eval_args(tiny_model, out)).exit_code == 0
    changed = [*eval_args(tiny_model, out)]
    changed[changed.index("--temperature") + 1] = "0.5"
    result = runner.invoke(app, changed)
    assert result.exit_code == 2
    assert "other settings (generation.temperature: 1.0 here, 0.5 asked)" in result.stderr


class ScriptedBackend:
    """Answers from a table, to test predict/verify/report without a model."""

    name = "scripted"

    def __init__(self, answers):
        self.answers = answers
        self.calls = 0

    def generate(self, images, prompt, settings, seeds):
        self.calls += 1
        return [
            [
                Completion(
                    f"<think>x</think><answer>{self.answers[i % len(self.answers)]}</answer>", False
                )
                for i in range(settings.n)
            ]
            for _ in images
        ]


def test_predict_verify_and_load_results_with_a_scripted_backend(tmp_path):
    samples = get_dataset("synthetic").load("test")[:4]
    broken = Sample("synthetic", "test", 99, "plain red circle", "x", lambda: b"not an image", "x")
    backend = ScriptedBackend(["plain red circle", "red circle"])
    settings = GenerationSettings(n=2, temperature=1.0, batch_size=4)
    store = prediction_store(tmp_path, "synthetic")
    summary = predict([*samples, broken], backend, store, settings, model_name="scripted")
    assert summary.written == 10 and summary.errors == 2
    errors = [r for r in store.load().values() if r["error"]]
    assert {r["sample_id"] for r in errors} == {"synthetic/test/99"}
    assert "corrupt image" in errors[0]["error"]
    again = predict([*samples, broken], backend, store, settings, model_name="scripted")
    assert again.written == 0  # everything was done; the unreadable image is recorded, not retried

    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    checked = verify(store, verdict_store(tmp_path, "synthetic", judge_id(judge)), judge)
    assert checked.judged == 8 and checked.prediction_errors == 2
    [dataset] = load_datasets(tmp_path, reported_judges(tmp_path, ["synthetic"]))
    result = dataset.result()
    assert result.n_predictions == 10 and len(result.groups) == 5
    assert result.groups[-1] == [None, None]  # the failed image counts as unjudged
    assert request_seed(0, "a") == request_seed(0, "a") != request_seed(1, "a")


def test_sampling_is_seeded_per_image_whatever_the_batch(tmp_path, tiny_model):
    from speciarl.evaluate.predict import TransformersBackend

    backend = TransformersBackend(str(tiny_model))
    images = [s.image() for s in get_dataset("synthetic").load("test")[:3]]
    settings = GenerationSettings(n=2, temperature=1.0, max_new_tokens=8)
    seeds = [11, 12, 13]
    together = backend.generate(images, "name it", settings, seeds)
    alone = backend.generate(images[1:2], "name it", settings, seeds[1:2])
    assert together[1] == alone[0]
    assert len(together) == 3 and all(len(c) == 2 for c in together)


def test_report_carries_text_inclusion_and_optional_llm_inclusion(tmp_path):
    from speciarl.testing.openai_server import ScriptedOpenAIServer, rule_responder

    samples = get_dataset("synthetic").load("test")[:3]
    backend = ScriptedBackend([samples[0].label])
    store = prediction_store(tmp_path, "synthetic")
    predict(samples, backend, store, GenerationSettings(), model_name="scripted")
    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    verify(store, verdict_store(tmp_path, "synthetic", judge_id(judge)), judge)
    with ScriptedOpenAIServer(rule_responder(lambda gt, pred: "yes"), models=["m"]) as server:
        result = runner.invoke(
            app,
            [
                "report",
                "--out",
                str(tmp_path),
                "--inclusion-endpoint",
                server.base_url,
                "--inclusion-model",
                "m",
                "--resamples",
                "50",
            ],
        )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "report.json").read_text())["datasets"]["synthetic"][
        "text_metrics"
    ]
    same = sum(s.label == samples[0].label for s in samples)
    assert metrics["text_inclusion"] == pytest.approx(same / 3)
    assert metrics["llm_inclusion"] == 1.0
    assert "Text metrics" in result.stdout
