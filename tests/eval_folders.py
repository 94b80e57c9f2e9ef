"""Evaluation folders for the CLI tests, made in milliseconds: a scripted policy's predictions.

The folder is what ``speciarl predict`` leaves (manifest and prediction store); the tests then
run the real ``verify``, ``report`` and ``compare`` commands on it.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.data.prepare import select_samples
from speciarl.evaluate.manifest import record_predictions
from speciarl.evaluate.plan import EvalPlan
from speciarl.evaluate.predict import Completion, predict
from speciarl.evaluate.run import prediction_store

runner = CliRunner()


class ScriptedPolicy:
    """Answers the k-th prediction of every image with ``answers[k % len(answers)]``."""

    name = "scripted"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    def generate(self, images, prompt, settings, seeds):
        return [
            [
                Completion(
                    f"<think>x</think><answer>{self.answers[k % len(self.answers)]}</answer>", False
                )
                for k in range(settings.n)
            ]
            for _ in images
        ]


def predicted_folder(
    out: Path,
    answers: list[str],
    *,
    dataset: str = "synthetic",
    split: str = "test",
    subset: int | None = 6,
    root: Path | None = None,
    seed: int = 0,
) -> Path:
    """``out`` holding one prediction per answer for each image, as ``predict`` writes it."""
    plan = EvalPlan.create(
        model="scripted-policy",
        adapter=None,
        datasets=dataset,
        split=split,
        subset=subset,
        root=root,
        source="local",
        backend="transformers",
        n=len(answers),
        temperature=1.0 if len(answers) > 1 else 0.0,
        seed=seed,
    )
    samples = select_samples(dataset, split, root=root, subset=subset, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    record_predictions(out, plan.settings())
    store = prediction_store(out, dataset)
    predict(samples, ScriptedPolicy(answers), store, plan.generation, model_name=plan.model)
    return out


def cli(*arguments: str | Path, code: int = 0):
    """Run ``speciarl ARGUMENTS`` and check its exit code; an error (code 2) must be one line
    starting ``error:``, the last one printed, with no traceback."""
    result = runner.invoke(app, [str(argument) for argument in arguments])
    assert result.exit_code == code, result.output
    if code == 2:
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("error: "), result.stderr
        assert [line for line in lines if line.startswith("error")] == lines[-1:]
        assert "Traceback" not in result.output
    return result


def error_of(result) -> str:
    """The error line of a failed command, without ``error: ``."""
    return result.stderr.strip().splitlines()[-1].removeprefix("error: ")
