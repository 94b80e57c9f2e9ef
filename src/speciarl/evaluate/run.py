"""An evaluation folder: one sub-folder per dataset with its stores, and the report beside them.

OUT/manifest.json                 what was evaluated and how (checked on every restart)
OUT/<dataset>/predictions.jsonl   one record per (sample, prediction index)
OUT/<dataset>/verdicts.jsonl      one record per judged prediction
OUT/report.json, report.md, verdict_bars.png, tradeoff.png
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from speciarl.atomic import atomic_write
from speciarl.evaluate.predict import PREDICTION_FIELDS
from speciarl.evaluate.report import DatasetResult
from speciarl.evaluate.store import RecordStore
from speciarl.evaluate.verify import VERDICT_FIELDS
from speciarl.verdict import Verdict

MANIFEST = "manifest.json"


def prediction_store(out_dir: Path, dataset: str) -> RecordStore:
    return RecordStore(out_dir / dataset / "predictions.jsonl", PREDICTION_FIELDS)


def verdict_store(out_dir: Path, dataset: str) -> RecordStore:
    return RecordStore(out_dir / dataset / "verdicts.jsonl", VERDICT_FIELDS)


def check_manifest(out_dir: Path, settings: dict[str, Any]) -> None:
    """Write the run's settings, or refuse to mix them with different ones already there."""
    path = out_dir / MANIFEST
    if path.is_file():
        existing = json.loads(path.read_text(encoding="utf-8"))
        if existing != settings:
            changed = sorted(
                k for k in {*existing, *settings} if existing.get(k) != settings.get(k)
            )
            raise ValueError(
                f"{out_dir} holds predictions made with other settings ({', '.join(changed)}); "
                "use another --out folder"
            )
        return
    with atomic_write(path) as stream:
        json.dump(settings, stream, indent=2, sort_keys=True)


class TextScorer(Protocol):
    """A per-prediction text metric: ``name`` and ``scores(labels, answers)``."""

    name: str

    def scores(self, labels: list[str], answers: list[str | None]) -> list[Any]: ...


def _labels_and_answers(out_dir: Path, dataset: str) -> tuple[list[str], list[str | None]]:
    """Every prediction's label and parsed answer (None when it failed or broke the format)."""
    predictions = prediction_store(out_dir, dataset).load()
    verdicts = verdict_store(out_dir, dataset).load()
    labels = [record["label"] for record in predictions.values()]
    answers = [(verdicts.get(key) or {}).get("answer") for key in predictions]
    return labels, answers


def text_metric_means(
    labels: list[str], answers: list[str | None], scorers: Sequence[TextScorer]
) -> dict[str, Any]:
    """Mean of each text metric over predictions; undecided (None) scores are counted apart."""
    from speciarl.evaluate.text_metrics import text_inclusion

    means: dict[str, Any] = {
        "text_inclusion": sum(map(text_inclusion, labels, answers)) / max(len(labels), 1)
    }
    for scorer in scorers:
        scores = scorer.scores(labels, answers)
        decided = [float(score) for score in scores if score is not None]
        means[scorer.name] = sum(decided) / len(decided) if decided else None
        if len(decided) < len(scores):
            means[f"{scorer.name}_undecided"] = len(scores) - len(decided)
    return means


def render_text_metrics(report: dict[str, Any]) -> str:
    """A Markdown table of the text metrics of every dataset."""
    rows = {name: data.get("text_metrics", {}) for name, data in report["datasets"].items()}
    names = sorted({key for metrics in rows.values() for key in metrics})
    lines = [
        "## Text metrics (Conti et al.)",
        "",
        "| dataset | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for dataset, metrics in rows.items():
        cells = [_cell(metrics.get(name)) for name in names]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def evaluated_datasets(out_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in out_dir.glob("*/predictions.jsonl"))


def load_results(out_dir: Path, datasets: Sequence[str] | None = None) -> list[DatasetResult]:
    """Every evaluated dataset's verdicts grouped by image, for the report.

    A prediction without a stored verdict (undecided, failed, or a format failure) counts as
    unjudged; format failures are also counted apart.
    """
    results = []
    for dataset in datasets or evaluated_datasets(out_dir):
        predictions = prediction_store(out_dir, dataset).load()
        verdicts = verdict_store(out_dir, dataset).load()
        groups: dict[str, list[tuple[int, Verdict | None]]] = {}
        failures = 0
        for key in predictions:
            record = verdicts.get(key)
            failures += record is not None and record["answer_status"] != "ok"
            verdict = Verdict(record["verdict"]) if record and record["verdict"] else None
            groups.setdefault(key[0], []).append((key[1], verdict))
        ordered = [
            [v for _, v in sorted(items, key=lambda item: item[0])] for items in groups.values()
        ]
        results.append(DatasetResult(dataset, ordered, failures, len(predictions)))
    return results


def write_report(
    out_dir: Path, model: str, *, text_scorers: Sequence[TextScorer] = (), **options: Any
) -> dict[str, Any]:
    """Build the report of everything evaluated in ``out_dir`` and write it with its plots.

    Text inclusion (Conti et al.) is always added per dataset; ``text_scorers`` add the optional
    semantic similarity and LLM inclusion.
    """
    from speciarl.evaluate.plots import tradeoff_scatter, verdict_bars
    from speciarl.evaluate.report import build_report, render_markdown

    results = load_results(out_dir)
    if not results:
        raise ValueError(f"{out_dir}: nothing evaluated yet (no <dataset>/predictions.jsonl)")
    report = build_report(results, model=model, **options)
    for result in results:
        labels, answers = _labels_and_answers(out_dir, result.dataset)
        report["datasets"][result.dataset]["text_metrics"] = text_metric_means(
            labels, answers, text_scorers
        )
    with atomic_write(out_dir / "report.json") as stream:
        json.dump(report, stream, indent=2)
    with atomic_write(out_dir / "report.md") as stream:
        stream.write(render_markdown(report) + "\n" + render_text_metrics(report))
    verdict_bars([report], out_dir / "verdict_bars.png")
    tradeoff_scatter([report], out_dir / "tradeoff.png")
    return report
