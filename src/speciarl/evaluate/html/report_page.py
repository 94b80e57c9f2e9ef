"""``report.html``: the report's tables and plots, and per dataset a gallery of what the model
answered — each image with its ground truth and predictions (answer, verdict, reasoning).

Written beside ``report.md`` by `speciarl.evaluate.run.write_report`. Per dataset it embeds at
most `EXAMPLES_PER_VERDICT` images per verdict (images with a prediction of that verdict, spread
evenly in sample-id order), so the page stays small for any evaluation size; the page's script
filters them by verdict, searches them by label and answer, and shows them a page at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from speciarl.evaluate.html.examples import (
    EXAMPLES_PER_VERDICT,
    PREDICTIONS_PER_IMAGE,
    check_verdicts,
    image_view,
    images_of,
    spread,
    verdict_label,
)
from speciarl.evaluate.html.images import ImageFinder
from speciarl.evaluate.html.shared import PAGE_SIZE, png_file_uri, render_page, write_page
from speciarl.evaluate.report import LABELS, METRICS, OVERALL, format_ci, judge_setup_line

if TYPE_CHECKING:
    from speciarl.data.sample import Sample
    from speciarl.evaluate.run import StoredDataset

REPORT_HTML = "report.html"
PLOTS = {"verdict distribution": "verdict_bars.png", "specificity vs correctness": "tradeoff.png"}
"""The plots `write_report` draws, embedded in the page by title."""


def write_report_html(
    out_dir: Path,
    *,
    report: Mapping[str, Any] | None = None,
    datasets: Sequence[StoredDataset] | None = None,
    samples: Iterable[Sample] = (),
    root: Path | None = None,
    per_verdict: int = EXAMPLES_PER_VERDICT,
) -> Path:
    """Write ``out_dir/report.html`` and return its path.

    ``report`` and ``datasets`` are what `write_report` just built and loaded; without them the
    folder's ``report.json`` and the stores of the judge set-up it reports are read. Images come
    from ``samples`` (those ``eval`` predicted), else from the shipped dataset each sample id
    names, read under ``root`` with the source the manifest records.
    """
    if per_verdict < 1:
        raise ValueError(f"examples per verdict must be positive, got {per_verdict}")
    if report is None or datasets is None:
        report, datasets = read_evaluation(out_dir)
    finder = ImageFinder(samples=samples, root=root, source=recorded_source(out_dir))
    galleries = [_gallery(dataset, finder, per_verdict) for dataset in datasets]
    html = render_page(
        "report.html.j2",
        title=f"Evaluation report: {report['model']}",
        report=report,
        judge=judge_setup_line(report["judge"]) if "judge" in report else "not recorded",
        results=_result_rows(report),
        shares=_share_rows(report),
        plots={title: png_file_uri(out_dir / name) for title, name in PLOTS.items()},
        galleries=galleries,
        images=finder.note(),
        per_verdict=per_verdict,
        predictions_per_image=PREDICTIONS_PER_IMAGE,
        page_data={"labels": list(LABELS), "galleries": galleries, "page_size": PAGE_SIZE},
    )
    return write_page(out_dir / REPORT_HTML, html)


def read_evaluation(out_dir: Path) -> tuple[dict[str, Any], list[StoredDataset]]:
    """An evaluation folder's ``report.json`` and the stores it was made from: its datasets,
    with the verdicts of the judge set-up it reports (each one of the six, or an error naming
    the record)."""
    from speciarl.evaluate.run import load_datasets, reported_judges

    path = out_dir / "report.json"
    if not path.is_file():
        raise ValueError(f"{path}: no report (run speciarl report --out {out_dir})")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    setup = (report.get("judge") or {}).get("setup")
    judges = reported_judges(out_dir, list(report["datasets"]), setup)
    datasets = load_datasets(out_dir, judges)
    for dataset in datasets:
        store = judges.stores[dataset.name]
        if store is not None:
            check_verdicts(dataset.verdicts, store.path)
    return report, datasets


def recorded_source(out_dir: Path) -> str:
    """Where the folder's predictions read shipped datasets from (local or hub)."""
    from speciarl.evaluate.manifest import read_manifest

    manifest = read_manifest(out_dir)
    return ((manifest.predictions if manifest else None) or {}).get("source") or "local"


def _gallery(dataset: StoredDataset, finder: ImageFinder, per_verdict: int) -> dict[str, Any]:
    """One dataset's embedded examples, their thumbnails and how many images it has in all."""
    grouped = images_of(dataset.predictions)
    by_verdict: dict[str, list[str]] = {label: [] for label in LABELS}
    for sample_id, keys in grouped.items():
        for label in dict.fromkeys(verdict_label(dataset.verdicts.get(key)) for key in keys):
            by_verdict[label].append(sample_id)
    chosen = sorted({sid for ids in by_verdict.values() for sid in spread(ids, per_verdict)})
    items = [image_view(grouped[sid], dataset.predictions, dataset.verdicts) for sid in chosen]
    return {
        "name": dataset.name,
        "n_images": len(grouped),
        "options": [
            (label, f"{label} ({len(ids):,} images)") for label, ids in by_verdict.items() if ids
        ],
        "examples": items,
        "thumbnails": finder.thumbnails(chosen),
    }


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def _sections(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], bool]]:
    """(name, section, is a macro average) for every dataset, group and the overall row."""
    rows = [(name, section, False) for name, section in report["datasets"].items()]
    rows += [(name, section, True) for name, section in report.get("groups", {}).items()]
    if OVERALL in report:
        rows.append((OVERALL, report[OVERALL], True))
    return rows


def _result_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, section, macro in _sections(report):
        oracle = section.get("best_of_n")
        rows.append(
            {
                "name": f"{name} (mean of {len(section['datasets'])})" if macro else name,
                "macro": macro,
                "images": f"{section['n_images']:,}",
                "predictions": f"{section['n_predictions']:,}",
                "metrics": [format_ci(section[metric]) for metric in METRICS],
                "format_failures": _percent(section["format_failure_rate"]),
                "best_of_n": format_ci(oracle["hm"]) if oracle else "—",
            }
        )
    return rows


def _share_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "macro": macro,
            "shares": [_percent(section["shares"][label]) for label in LABELS],
        }
        for name, section, macro in _sections(report)
    ]
