"""Decoding lengths that fit reasoning: the paper's 2,048-token default, and truncations (a
completion cut off at the limit before closing its answer) reported apart from other format
failures."""

import inspect
import json
import shutil
from types import SimpleNamespace

import pytest

from eval_folders import cli
from speciarl.cli.evaluate import eval_command, predict_command
from speciarl.data.registry import get_dataset
from speciarl.evaluate.manifest import record_predictions
from speciarl.evaluate.plan import EvalPlan
from speciarl.evaluate.predict import (
    Completion,
    GenerationSettings,
    TransformersBackend,
    predict,
    vllm_completions,
)
from speciarl.evaluate.report import DatasetResult, build_report
from speciarl.evaluate.run import prediction_store


def test_prediction_decodes_up_to_the_papers_2048_tokens_by_default():
    assert GenerationSettings().max_new_tokens == 2048
    for command in (predict_command, eval_command):
        assert inspect.signature(command).parameters["max_new_tokens"].default == 2048


def test_the_transformers_backend_tells_a_cut_off_completion_from_an_ended_one(
    tiny_model, tmp_path
):
    image = get_dataset("synthetic").load("test")[0].image()
    settings = GenerationSettings(max_new_tokens=3)
    [[cut]] = TransformersBackend(str(tiny_model)).generate([image], "name it", settings, [0])
    assert cut.truncated  # the random tiny model does not end within 3 tokens

    # The same model where every token ends a sequence stops after its first token.
    stopping = tmp_path / "stopping"
    shutil.copytree(tiny_model, stopping)
    generation = json.loads((stopping / "generation_config.json").read_text())
    vocabulary = json.loads((stopping / "config.json").read_text())["text_config"]["vocab_size"]
    generation["eos_token_id"] = list(range(vocabulary))
    (stopping / "generation_config.json").write_text(json.dumps(generation))
    sampled = GenerationSettings(n=2, temperature=1.0, max_new_tokens=3)
    [ended] = TransformersBackend(str(stopping)).generate([image], "name it", sampled, [0])
    assert [completion.truncated for completion in ended] == [False, False]


def test_vllm_choices_that_finished_for_length_are_truncations():
    """vLLM is not installed here: its outputs are shaped as ``RequestOutput.outputs`` holds
    ``CompletionOutput``s (``text``, ``finish_reason`` of ``stop`` or ``length``)."""
    outputs = [
        SimpleNamespace(
            outputs=[
                SimpleNamespace(text="<think>a</think><answer>b</answer>", finish_reason="stop"),
                SimpleNamespace(text="<think>a very long", finish_reason="length"),
            ]
        )
    ]
    assert vllm_completions(outputs) == [
        [
            Completion("<think>a</think><answer>b</answer>", False),
            Completion("<think>a very long", True),
        ]
    ]


class Scripted:
    """One well-formed answer, one reasoning cut off at the limit, one answer without tags."""

    name = "scripted"
    completions = (
        Completion("<think>x</think><answer>circle</answer>", False),
        Completion("<think>the shape has a rim and a dot and", True),
        Completion("circle", False),
    )

    def generate(self, images, prompt, settings, seeds):
        return [[self.completions[k] for k in range(settings.n)] for _ in images]


def predicted(out, backend, n=3):
    plan = EvalPlan.create(
        model="scripted",
        adapter=None,
        datasets="synthetic",
        split="test",
        subset=4,
        source="local",
        backend="transformers",
        n=n,
        temperature=1.0,
    )
    out.mkdir(parents=True)
    record_predictions(out, plan.settings())
    samples = get_dataset("synthetic").load("test")[:4]
    predict(samples, backend, prediction_store(out, "synthetic"), plan.generation, model_name="s")
    return out


def test_truncations_are_reported_beside_the_format_failures(tmp_path):
    out = predicted(tmp_path / "eval", Scripted())
    records = prediction_store(out, "synthetic").load().values()
    assert sorted(record["truncated"] for record in records) == [False] * 8 + [True] * 4
    verified = cli("verify", "--out", out)
    assert "8 format failures (4 cut off at --max-new-tokens)" in verified.stderr
    cli("report", "--out", out, "--resamples", "20")
    section = json.loads((out / "report.json").read_text())["datasets"]["synthetic"]
    assert section["format_failures"] == 8 and section["format_failure_rate"] == 8 / 12
    assert section["truncations"] == 4 and section["truncation_rate"] == 4 / 12
    overall = json.loads((out / "report.json").read_text())["overall"]
    assert overall["truncation_rate"] == 4 / 12
    text = (out / "report.md").read_text()
    assert "| format failures | of which truncated |" in text
    assert "| 66.7 % (8) | 33.3 % (4) |" in text


def test_predictions_from_before_truncations_were_recorded_report_none(tmp_path):
    out = predicted(tmp_path / "eval", Scripted())
    store = out / "synthetic" / "predictions.jsonl"
    older = [json.loads(line) for line in store.read_text().splitlines()]
    for record in older:
        del record["truncated"]
    store.write_text("".join(json.dumps(record) + "\n" for record in older))
    cli("verify", "--out", out)
    cli("report", "--out", out, "--resamples", "20")
    section = json.loads((out / "report.json").read_text())["datasets"]["synthetic"]
    assert section["truncations"] is None and section["truncation_rate"] is None
    assert "| 66.7 % (8) | — |" in (out / "report.md").read_text()


def test_truncations_cannot_outnumber_the_format_failures():
    result = DatasetResult("x", [[None, None]], 1, 2, truncations=2)
    with pytest.raises(ValueError, match=r"truncations must be within 0\.\.1"):
        build_report([result], model="m", resamples=10)
