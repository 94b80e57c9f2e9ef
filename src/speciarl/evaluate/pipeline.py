"""What ``speciarl predict/verify/report/compare/eval`` do, as library calls over a folder.

Everything a run needs is checked before its first prediction or verdict (`EvalPlan.check`,
`Judging.check`): a run that would stop on its fifth dataset or its judge stops at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from speciarl.data.sample import Sample
from speciarl.echo import Echo
from speciarl.evaluate.judging import Judging
from speciarl.evaluate.manifest import read_manifest, record_judge_setup, record_predictions
from speciarl.evaluate.plan import EvalPlan
from speciarl.evaluate.predict import BACKENDS, Completion, predict
from speciarl.evaluate.run import evaluated_datasets, prediction_store, verdict_store, write_report
from speciarl.evaluate.store import exclusive
from speciarl.evaluate.verify import verify


def run_predictions(
    plan: EvalPlan,
    out: Path,
    *,
    samples: Mapping[str, list[Sample]] | None = None,
    repair: bool = False,
    echo: Echo = print,
) -> None:
    """Predict every dataset of ``plan`` into ``out``; ``samples`` are the plan's checked
    samples when `EvalPlan.check` already ran, else it runs first."""
    if samples is None:
        samples = plan.check()
    with exclusive(out):
        record_predictions(out, plan.settings())
        backend = _LazyBackend(lambda: _load_backend(plan))
        for name, chosen in samples.items():
            summary = predict(
                chosen,
                backend,
                prediction_store(out, name),
                plan.generation,
                model_name=plan.model,
                progress=_bar(len(chosen), f"predicting {name}"),
                repair=repair,
            )
            if summary.written == 0:
                echo(f"{name}: all {len(chosen)} images already predicted")
            else:
                echo(
                    f"{name}: {summary.written} predictions written "
                    f"({summary.errors} failed, {summary.already_done} done before)"
                )


def _load_backend(plan: EvalPlan) -> Any:
    """The policy, loaded; a checkpoint that cannot be loaded is a one-line error."""
    from speciarl.policy.image_budget import ImageBudgetError

    try:
        return BACKENDS[plan.backend](plan.model, plan.adapter, image_budget=plan.image_budget)
    except ImageBudgetError as error:
        raise ValueError(f"--min-pixels/--max-pixels: {error}") from None
    except (OSError, ValueError) as error:
        first = (str(error).strip() or type(error).__name__).splitlines()[0]
        adapter = f" with --adapter {plan.adapter}" if plan.adapter else ""
        raise ValueError(f"--model {plan.model}{adapter}: cannot load it ({first})") from None


class _LazyBackend:
    """Loads the policy on the first generation, so a finished run never loads it, and shares
    it across datasets."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._backend: Any = None

    @property
    def name(self) -> str:
        return self._real().name

    def generate(self, *arguments: Any) -> list[list[Completion]]:
        return self._real().generate(*arguments)

    def _real(self) -> Any:
        if self._backend is None:
            self._backend = self._load()
        return self._backend


def run_verification(
    out: Path, judging: Judging | None = None, *, repair: bool = False, echo: Echo = print
) -> None:
    """Judge every dataset's predictions with ``judging`` (by default the lexical and taxonomy
    judges), each judge into its own store, and record the set-up in the manifest. First, for
    each dataset, warn of its labels that the judge's hierarchy lacks (`Judging.warn`)."""
    from speciarl.judges.describe import describe_judge, judge_id, judge_summary

    if not out.is_dir():
        raise ValueError(f"--out {out}: no such folder (run speciarl predict first)")
    judging = judging or Judging()
    judging.check()
    with exclusive(out):
        datasets = evaluated_datasets(out)
        if not datasets:
            raise ValueError(f"{out}: no predictions to verify")
        for name in datasets:  # labels missing from the judge's hierarchy, or no hierarchy
            stored = prediction_store(out, name).load(repair=repair)
            judging.warn(name, (record["label"] for record in stored.values()), echo)
        judges = {name: judging.judge_for(name) for name in datasets}
        record_judge_setup(
            out,
            judging.setup_id,
            judging.llm_description(),
            {
                name: {
                    "judge_id": judge_id(judge),
                    "summary": judge_summary(judge),
                    "description": describe_judge(judge),
                    "identity": judge.identity,
                    "hierarchy": judging.hierarchy_source(name),
                }
                for name, judge in judges.items()
            },
        )
        echo(f"judge set-up {judging.setup_id}")
        for name, judge in judges.items():
            summary = verify(
                prediction_store(out, name),
                verdict_store(out, name, judge_id(judge)),
                judge,
                progress=lambda total, name=name: _bar(total, f"judging {name}"),
                repair=repair,
            )
            echo(
                f"{name} ({judge_summary(judge)}): {summary.judged} judged, "
                f"{summary.format_failures} format failures "
                f"({summary.truncations} cut off at --max-new-tokens), "
                f"{summary.undecided} undecided (retried next run), "
                f"{summary.prediction_errors} failed predictions"
            )


def run_report(
    out: Path,
    *,
    name: str | None = None,
    judge: str | None = None,
    resamples: int = 1000,
    text_scorers: list[Any] | None = None,
    samples: Mapping[str, list[Sample]] | None = None,
    image_root: Path | None = None,
) -> str:
    """Write the folder's report; ``judge`` picks a judge set-up (default: the latest).
    ``report.html`` shows the images of ``samples`` (those ``eval`` predicted), else those of
    the shipped datasets under ``image_root``."""
    from speciarl.evaluate.report import render_markdown
    from speciarl.evaluate.run import render_text_metrics

    manifest = read_manifest(out)
    if name is None and manifest is not None and manifest.predictions is not None:
        name = manifest.predictions["adapter"] or manifest.predictions["model"]
    report = write_report(
        out,
        name or out.name,
        judge=judge,
        resamples=resamples,
        text_scorers=text_scorers or [],
        samples=[sample for chosen in (samples or {}).values() for sample in chosen],
        image_root=image_root,
    )
    return render_markdown(report) + "\n" + render_text_metrics(report)


def check_text_metrics(
    embedding_model: str | None, inclusion_endpoint: str | None, inclusion_model: str | None
) -> None:
    """The optional text metrics' options, checked without loading a model."""
    from speciarl.judges.endpoint import check_judge_endpoint
    from speciarl.policy.checkpoint import check_checkpoint

    if (inclusion_endpoint is None) != (inclusion_model is None):
        raise ValueError("LLM inclusion needs both --inclusion-endpoint and --inclusion-model")
    if embedding_model is not None:
        check_checkpoint(embedding_model, "--embedding-model", "config.json")
    if inclusion_endpoint is not None and inclusion_model is not None:
        check_judge_endpoint(
            inclusion_endpoint,
            inclusion_model,
            endpoint_key="--inclusion-endpoint",
            model_key="--inclusion-model",
        )


def text_scorers(
    embedding_model: str | None, inclusion_endpoint: str | None, inclusion_model: str | None
) -> list[Any]:
    """The optional text metrics asked for: semantic similarity, LLM inclusion."""
    from speciarl.evaluate.text_metrics import LLMInclusion, SemanticSimilarity
    from speciarl.judges.llm import LLMJudgeSettings

    check_text_metrics(embedding_model, inclusion_endpoint, inclusion_model)
    scorers: list[Any] = []
    if embedding_model is not None:
        scorers.append(SemanticSimilarity(embedding_model))
    if inclusion_endpoint is not None and inclusion_model is not None:
        settings = LLMJudgeSettings(endpoint=inclusion_endpoint, model=inclusion_model)
        scorers.append(LLMInclusion(settings))
    return scorers


def compare_runs(paths: list[Path], *, allow_mixed: bool = False) -> str:
    """The comparison table of several runs' reports (folders or report.json files)."""
    from speciarl.evaluate.compare import compare_table

    reports = []
    for path in paths:
        file = path / "report.json" if path.is_dir() else path
        if not file.is_file():
            raise ValueError(f"{file}: no report (run speciarl report --out {path})")
        try:
            reports.append(json.loads(file.read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise ValueError(f"{file}: not valid JSON ({error.msg}, line {error.lineno})") from None
    return compare_table(reports, sources=[str(path) for path in paths], allow_mixed=allow_mixed)


def _bar(total: int, description: str) -> Callable[[int], object]:
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="item", leave=False).update
