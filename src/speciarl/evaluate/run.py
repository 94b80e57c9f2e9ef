"""An evaluation folder: one sub-folder per dataset with its stores, and the report beside them.

OUT/manifest.json                         how predictions were made, who judged (`manifest`)
OUT/<dataset>/predictions.jsonl           one record per (sample, prediction index)
OUT/<dataset>/verdicts-<judge id>.jsonl   one record per prediction that judge judged
OUT/report.json, report.md, verdict_bars.png, tradeoff.png, report.html

Folders from before judges were recorded hold one ``<dataset>/verdicts.jsonl``; reports still
read it and say that its judge is not recorded.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from speciarl.atomic import atomic_write
from speciarl.data.sample import Sample
from speciarl.evaluate.manifest import FORMAT, read_manifest
from speciarl.evaluate.predict import PREDICTION_FIELDS
from speciarl.evaluate.report import DECIDERS, DatasetResult
from speciarl.evaluate.store import Key, RecordStore
from speciarl.evaluate.verify import VERDICT_FIELDS
from speciarl.verdict import Verdict

UNRECORDED_VERDICTS = "verdicts.jsonl"
"""The single verdict store of a folder from before judges were recorded."""
_UNRECORDED_FIELDS = ("answer_status", "verdict", "judge")


def prediction_store(out_dir: Path, dataset: str) -> RecordStore:
    return RecordStore(out_dir / dataset / "predictions.jsonl", PREDICTION_FIELDS)


def verdict_store(out_dir: Path, dataset: str, judge_id: str) -> RecordStore:
    """The verdicts one judge (`speciarl.judges.describe.judge_id`) gave on a dataset."""
    return RecordStore(out_dir / dataset / f"verdicts-{judge_id}.jsonl", VERDICT_FIELDS)


@dataclass(frozen=True)
class ReportedJudges:
    """Which verdicts a report reads: a judge set-up of the manifest (``setup``, its manifest
    ``entry``) or, in a folder that records none, the one store each dataset holds."""

    setup: str | None
    entry: dict[str, Any] | None
    stores: dict[str, RecordStore | None]
    verified: tuple[str, ...] = ()
    """Every set-up the manifest lists, for the report to mention."""

    def summary(self) -> dict[str, Any]:
        """What ``report.json`` says about the judges (no times: a report depends on its data)."""
        return {
            "setup": self.setup,
            "llm": self.entry["llm"] if self.entry else None,
            "verified_setups": list(self.verified),
        }


def reported_judges(
    out_dir: Path, datasets: Sequence[str], wanted: str | None = None
) -> ReportedJudges:
    """The set-up ``wanted`` (``report --judge``), else the one verified last; in a folder that
    records no set-ups, each dataset's only verdict store."""
    manifest = read_manifest(out_dir)
    if manifest is not None and manifest.format == FORMAT:
        chosen = manifest.judge_setup(wanted)
        if chosen is None:
            return ReportedJudges(None, None, dict.fromkeys(datasets))
        setup, entry = chosen
        judged = entry["datasets"]
        stores = {
            name: verdict_store(out_dir, name, judged[name]["judge_id"]) if name in judged else None
            for name in datasets
        }
        return ReportedJudges(setup, entry, stores, tuple(manifest.judges))
    if wanted is not None:
        raise ValueError(f"--judge {wanted}: {out_dir} records no judge set-ups")
    return ReportedJudges(None, None, {name: _only_store(out_dir, name) for name in datasets})


def _only_store(out_dir: Path, dataset: str) -> RecordStore | None:
    found = sorted((out_dir / dataset).glob("verdicts-*.jsonl"))
    unrecorded = out_dir / dataset / UNRECORDED_VERDICTS
    found += [unrecorded] if unrecorded.is_file() else []
    if len(found) > 1:
        raise ValueError(
            f"{out_dir / dataset} holds the verdicts of several judges "
            f"({', '.join(path.name for path in found)}) and no manifest.json says which to "
            "report; move all but one aside"
        )
    if not found:
        return None
    fields = _UNRECORDED_FIELDS if found[0] == unrecorded else VERDICT_FIELDS
    return RecordStore(found[0], fields)


def sample_ids_digest(sample_ids: Sequence[str]) -> str:
    """16 hex digits naming a set of images: equal digests, the same images."""
    joined = "\n".join(sorted(set(sample_ids)))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class StoredDataset:
    """One dataset's predictions and the verdicts the report reads, each store loaded once."""

    name: str
    predictions: dict[Key, dict[str, Any]]
    verdicts: dict[Key, dict[str, Any]]

    @classmethod
    def load(cls, out_dir: Path, name: str, verdicts: RecordStore | None) -> StoredDataset:
        return cls(
            name,
            prediction_store(out_dir, name).load(),
            verdicts.load() if verdicts is not None else {},
        )

    def result(self) -> DatasetResult:
        """The verdicts grouped by image; a prediction without a stored verdict (undecided,
        failed, or a format failure) counts as unjudged, format failures also apart, and among
        them the truncations (unknown for predictions from before they were recorded)."""
        groups: dict[str, list[tuple[int, Verdict | None]]] = {}
        failures = truncations = 0
        recorded = True
        for key, prediction in self.predictions.items():
            record = self.verdicts.get(key)
            if record is not None and record["answer_status"] != "ok":
                failures += 1
                truncated = prediction.get("truncated")
                recorded = recorded and truncated is not None
                truncations += bool(truncated)
            verdict = Verdict(record["verdict"]) if record and record["verdict"] else None
            groups.setdefault(key[0], []).append((key[1], verdict))
        ordered = [
            [v for _, v in sorted(items, key=lambda item: item[0])] for items in groups.values()
        ]
        splits = sorted({record["split"] for record in self.predictions.values()})
        return DatasetResult(
            self.name,
            ordered,
            failures,
            len(self.predictions),
            split="+".join(splits),
            sample_ids_sha256=sample_ids_digest(list(groups)),
            truncations=truncations if recorded else None,
        )

    def labels_and_answers(self) -> tuple[list[str], list[str | None]]:
        """Every prediction's label and parsed answer (None when it failed or broke the format)."""
        labels = [record["label"] for record in self.predictions.values()]
        answers = [(self.verdicts.get(key) or {}).get("answer") for key in self.predictions]
        return labels, answers

    def judge_section(self, judges: ReportedJudges) -> dict[str, Any]:
        """Who judged this dataset, and how many of its verdicts each judge (or the cache) gave."""
        recorded = (judges.entry or {}).get("datasets", {}).get(self.name)
        ids = {record.get("judge_id") for record in self.verdicts.values()}
        setups = {record.get("judge_setup") for record in self.verdicts.values()}
        if recorded is not None:
            judge_id, summary = recorded["judge_id"], recorded["summary"]
        elif len(ids) == 1 and None not in ids:
            judge_id, summary = ids.pop(), setups.pop()
        else:
            judge_id = None
            summary = "not recorded" if self.verdicts else "not verified"
        decided: Counter[str] = Counter(dict.fromkeys(DECIDERS, 0))
        for record in self.verdicts.values():
            if record["verdict"] is not None:
                decided["cache" if record.get("cached") else record["judge"]] += 1
        return {"judge_id": judge_id, "summary": summary, "decided_by": dict(decided)}


class TextScorer(Protocol):
    """A per-prediction text metric: ``name`` and ``scores(labels, answers)``."""

    name: str

    def scores(self, labels: list[str], answers: list[str | None]) -> list[Any]: ...


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


def load_datasets(out_dir: Path, judges: ReportedJudges) -> list[StoredDataset]:
    """Every evaluated dataset with the verdicts of ``judges``."""
    return [StoredDataset.load(out_dir, name, store) for name, store in judges.stores.items()]


def write_report(
    out_dir: Path,
    model: str,
    *,
    judge: str | None = None,
    text_scorers: Sequence[TextScorer] = (),
    samples: Iterable[Sample] = (),
    image_root: Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Build the report of everything evaluated in ``out_dir`` and write it with its plots and
    ``report.html`` (the answers to read, `speciarl.evaluate.html.report_page`).

    ``judge`` picks a judge set-up of the folder (by id or prefix); by default the one that
    verified last. Text inclusion (Conti et al.) is always added per dataset; ``text_scorers``
    add the optional semantic similarity and LLM inclusion. The page's images come from
    ``samples`` (those ``eval`` predicted), else from the shipped datasets under ``image_root``.
    """
    from speciarl.evaluate.html.report_page import write_report_html
    from speciarl.evaluate.plots import tradeoff_scatter, verdict_bars
    from speciarl.evaluate.report import build_report, render_markdown

    names = evaluated_datasets(out_dir)
    if not names:
        raise ValueError(f"{out_dir}: nothing evaluated yet (no <dataset>/predictions.jsonl)")
    judges = reported_judges(out_dir, names, judge)
    datasets = load_datasets(out_dir, judges)
    report = build_report([dataset.result() for dataset in datasets], model=model, **options)
    report["judge"] = judges.summary()
    for dataset in datasets:
        section = report["datasets"][dataset.name]
        section["text_metrics"] = text_metric_means(*dataset.labels_and_answers(), text_scorers)
        section["judge"] = dataset.judge_section(judges)
    with atomic_write(out_dir / "report.json") as stream:
        json.dump(report, stream, indent=2)
    with atomic_write(out_dir / "report.md") as stream:
        stream.write(render_markdown(report) + "\n" + render_text_metrics(report))
    verdict_bars([report], out_dir / "verdict_bars.png")
    tradeoff_scatter([report], out_dir / "tradeoff.png")
    write_report_html(out_dir, report=report, datasets=datasets, samples=samples, root=image_root)
    return report
