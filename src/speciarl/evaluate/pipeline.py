"""What ``speciarl predict/verify/report/compare/eval`` do, as library calls over a folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from speciarl.echo import Echo
from speciarl.evaluate.predict import GenerationSettings, TransformersBackend, VLLMBackend, predict
from speciarl.evaluate.run import (
    MANIFEST,
    check_manifest,
    prediction_store,
    verdict_store,
    write_report,
)
from speciarl.evaluate.store import exclusive
from speciarl.evaluate.verify import verify

BACKENDS = {"transformers": TransformersBackend, "vllm": VLLMBackend}


@dataclass(frozen=True)
class EvalPlan:
    """Which policy, which data, how to decode; stored in the folder's manifest."""

    model: str
    adapter: str | None
    datasets: tuple[str, ...]
    split: str
    subset: int | None
    root: str | None
    source: str
    backend: str
    generation: GenerationSettings

    @classmethod
    def create(
        cls, *, datasets: str, backend: str, root: Path | None = None, **options: Any
    ) -> EvalPlan:
        from speciarl.data.registry import get_dataset

        names = tuple(name.strip() for name in datasets.split(",") if name.strip())
        if not names:
            raise ValueError("give at least one dataset (--datasets a,b)")
        for name in names:
            get_dataset(name)
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        fields = {"n", "temperature", "top_p", "max_new_tokens", "seed", "batch_size", "prompt"}
        generation = GenerationSettings(**{k: v for k, v in options.items() if k in fields})
        rest = {k: v for k, v in options.items() if k not in fields}
        return cls(
            datasets=names,
            backend=backend,
            root=str(root) if root else None,
            generation=generation,
            **rest,
        )

    def manifest(self) -> dict[str, Any]:
        """Settings that make predictions comparable; batch size and root do not."""
        generation = asdict(self.generation)
        generation.pop("batch_size")
        return {
            "model": self.model,
            "adapter": self.adapter,
            "split": self.split,
            "subset": self.subset,
            "source": self.source,
            "generation": generation,
        }


def run_predictions(plan: EvalPlan, out: Path, *, repair: bool = False, echo: Echo = print) -> None:
    from speciarl.data.prepare import select_samples

    with exclusive(out):
        check_manifest(out, plan.manifest())
        backend = _LazyBackend(lambda: BACKENDS[plan.backend](plan.model, plan.adapter))
        for name in plan.datasets:
            samples = select_samples(
                name,
                plan.split,
                root=Path(plan.root) if plan.root else None,
                source=plan.source,
                subset=plan.subset,
                seed=plan.generation.seed,
            )
            summary = predict(
                samples,
                backend,
                prediction_store(out, name),
                plan.generation,
                model_name=plan.model,
                progress=_bar(len(samples), f"predicting {name}"),
                repair=repair,
            )
            if summary.written == 0:
                echo(f"{name}: all {len(samples)} images already predicted")
            else:
                echo(
                    f"{name}: {summary.written} predictions written "
                    f"({summary.errors} failed, {summary.already_done} done before)"
                )


class _LazyBackend:
    """Loads the policy on the first generation, so a finished run never loads it, and shares
    it across datasets."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load
        self._backend: Any = None

    @property
    def name(self) -> str:
        return self._real().name

    def generate(self, *arguments: Any) -> list[list[str]]:
        return self._real().generate(*arguments)

    def _real(self) -> Any:
        if self._backend is None:
            self._backend = self._load()
        return self._backend


def run_verification(
    out: Path,
    *,
    endpoint: str | None = None,
    judge_model: str | None = None,
    judge_prompt: str = "base",
    cache: Path | None = None,
    redis: str | None = None,
    repair: bool = False,
    echo: Echo = print,
) -> None:
    from speciarl.data.registry import get_dataset
    from speciarl.evaluate.run import evaluated_datasets
    from speciarl.judges.factory import build_judge, open_cache
    from speciarl.judges.llm import LLMJudgeSettings

    if (endpoint is None) != (judge_model is None):
        raise ValueError("the LLM judge needs both --endpoint and --judge-model")
    llm = (
        LLMJudgeSettings(endpoint=endpoint, model=judge_model, prompt=judge_prompt)
        if endpoint and judge_model
        else None
    )
    shared_cache = open_cache(cache, redis)
    with exclusive(out):
        datasets = evaluated_datasets(out)
        if not datasets:
            raise ValueError(f"{out}: no predictions to verify")
        for name in datasets:
            judge = build_judge(
                "cascade", hierarchy=get_dataset(name).hierarchy(), llm=llm, cache=shared_cache
            )
            summary = verify(
                prediction_store(out, name),
                verdict_store(out, name),
                judge,
                progress=lambda total, name=name: _bar(total, f"judging {name}"),
                repair=repair,
            )
            echo(
                f"{name}: {summary.judged} judged, {summary.format_failures} format failures, "
                f"{summary.undecided} undecided (retried next run), "
                f"{summary.prediction_errors} failed predictions"
            )


def run_report(
    out: Path,
    *,
    name: str | None = None,
    resamples: int = 1000,
    embedding_model: str | None = None,
    inclusion_endpoint: str | None = None,
    inclusion_model: str | None = None,
) -> str:
    from speciarl.evaluate.report import render_markdown
    from speciarl.evaluate.run import render_text_metrics

    manifest_path = out / MANIFEST
    if name is None and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        name = manifest["adapter"] or manifest["model"]
    scorers = text_scorers(embedding_model, inclusion_endpoint, inclusion_model)
    report = write_report(out, name or out.name, resamples=resamples, text_scorers=scorers)
    return render_markdown(report) + "\n" + render_text_metrics(report)


def text_scorers(
    embedding_model: str | None, inclusion_endpoint: str | None, inclusion_model: str | None
) -> list[Any]:
    """The optional text metrics asked for: semantic similarity, LLM inclusion."""
    from speciarl.evaluate.text_metrics import LLMInclusion, SemanticSimilarity
    from speciarl.judges.llm import LLMJudgeSettings

    if (inclusion_endpoint is None) != (inclusion_model is None):
        raise ValueError("LLM inclusion needs both --inclusion-endpoint and --inclusion-model")
    scorers: list[Any] = []
    if embedding_model is not None:
        scorers.append(SemanticSimilarity(embedding_model))
    if inclusion_endpoint is not None and inclusion_model is not None:
        settings = LLMJudgeSettings(endpoint=inclusion_endpoint, model=inclusion_model)
        scorers.append(LLMInclusion(settings))
    return scorers


def compare_runs(paths: list[Path]) -> str:
    from speciarl.evaluate.compare import compare_table

    reports = []
    for path in paths:
        file = path / "report.json" if path.is_dir() else path
        if not file.is_file():
            raise ValueError(f"{file}: no report (run speciarl report --out {path})")
        reports.append(json.loads(file.read_text(encoding="utf-8")))
    return compare_table(reports)


def _bar(total: int, description: str) -> Callable[[int], object]:
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="item", leave=False).update
