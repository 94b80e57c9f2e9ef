"""The paper-style comparison of several runs' reports, as one Markdown table.

Numbers are comparable only on the same images: the same datasets, splits and sample ids (each
report stores a digest of its ids). `compare_table` refuses runs on different images unless
``allow_mixed``; it then says what differs above the table and marks no best value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from speciarl.evaluate.report import GROUPS, METRICS, OVERALL, format_ci, judge_setup_line

_SHORT = {"specificity": "spec", "correctness": "corr", "hm": "HM"}
_NOT_RECORDED = "not recorded"


def _section(report: Mapping[str, Any], column: str) -> Mapping[str, Any] | None:
    if column == OVERALL:
        return report.get(OVERALL)
    return report.get("groups", {}).get(column)


def _oracle_section(report: Mapping[str, Any], column: str) -> Mapping[str, Any] | None:
    return (_section(report, column) or {}).get("best_of_n")


Row = tuple[str, Mapping[str, Any], Callable[[Mapping[str, Any], str], Mapping[str, Any] | None]]
"""A table row: its name, its report and where its figures of a column are."""


def _rows(reports: Sequence[Mapping[str, Any]]) -> list[Row]:
    """One row per run; a run with several predictions per image gets two, each named for what
    it is: the plain metrics (every sample counted) and the best-of-N oracle's."""
    rows: list[Row] = []
    for report in reports:
        name = str(report["model"])
        oracles = [
            section["best_of_n"]
            for section in (report.get(OVERALL), *report.get("groups", {}).values())
            if section is not None and "best_of_n" in section
        ]
        if not oracles:
            rows.append((name, report, _section))
            continue
        n = oracles[0]["n"]
        count = n if isinstance(n, int) else "/".join(str(value) for value in sorted(set(n)))
        rows.append((f"{name} (mean of {count} samples)", report, _section))
        rows.append((f"{name} (oracle best of {count})", report, _oracle_section))
    return rows


def _images(report: Mapping[str, Any]) -> dict[str, tuple[Any, int, Any]]:
    """Per dataset: split, image count, digest of the sample ids."""
    return {
        name: (section.get("split"), section["n_images"], section.get("sample_ids_sha256"))
        for name, section in report["datasets"].items()
    }


def image_differences(reports: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> list[str]:
    """What differs between the images of the first report and those of every other one."""
    first, base = labels[0], _images(reports[0])
    found = []
    for label, report in zip(labels[1:], reports[1:], strict=True):
        other = _images(report)
        if set(other) != set(base):
            found.append(
                f"datasets: {', '.join(sorted(base))} in {first}, "
                f"{', '.join(sorted(other))} in {label}"
            )
        for name in sorted(set(base) & set(other)):
            (split, count, ids), (other_split, other_count, other_ids) = base[name], other[name]
            if split != other_split:
                found.append(f"{name} split: {split} in {first}, {other_split} in {label}")
            if count != other_count:
                found.append(f"{name} images: {count} in {first}, {other_count} in {label}")
            if split == other_split and count == other_count and ids != other_ids:
                found.append(f"{name}: other sample ids in {first} than in {label}")
    return found


def _unrecorded(reports: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> list[str]:
    """The runs whose report does not say which images it covers (older speciarl)."""
    return [
        label
        for label, report in zip(labels, reports, strict=True)
        if any(section.get("sample_ids_sha256") is None for section in report["datasets"].values())
    ]


def compare_table(
    reports: Sequence[Mapping[str, Any]],
    *,
    sources: Sequence[str] | None = None,
    allow_mixed: bool = False,
) -> str:
    """One row per run: split, images, then specificity / correctness / HM with their 95 %
    intervals for the fine-grained group, the very fine-grained group and the overall average.

    ``sources`` name the runs in messages (their folders); by default their model names. Runs on
    different images are refused unless ``allow_mixed``. A column appears when at least one
    report has it; a report without it shows "—". A run with several predictions per image has
    two rows: the mean over its samples and the best-of-N oracle (which picks by the true label,
    an upper bound rather than a method, so it is never marked best). On comparable runs the
    best HM of every column (at the printed precision; ties included) is in bold.
    """
    if not reports:
        raise ValueError("no reports given")
    labels = list(sources) if sources is not None else [str(r["model"]) for r in reports]
    unrecorded = _unrecorded(reports, labels)
    differences = image_differences(reports, labels)
    if not allow_mixed and unrecorded:
        raise ValueError(
            f"{', '.join(unrecorded)}: the report does not record which images it evaluated "
            "(made by an older speciarl); rerun `speciarl report` on it, or give --allow-mixed"
        )
    if not allow_mixed and differences:
        raise ValueError(
            f"the runs were evaluated on different images ({'; '.join(differences)}); "
            "give --allow-mixed to put them in one table anyway"
        )
    columns = [
        column
        for column in (*GROUPS, OVERALL)
        if any(_section(report, column) is not None for report in reports)
    ]
    if not columns:
        raise ValueError("no report has a group or overall section")

    mixed = bool(differences or unrecorded)
    lines = []
    if mixed:
        reasons = differences + [f"images not recorded in {label}" for label in unrecorded]
        lines += [
            f"**Mixed runs, not comparable**: {'; '.join(reasons)}. No best value is marked.",
            "",
        ]
    lines += _table(reports, columns, bold=not mixed)
    judges = [judge_setup_line(r["judge"]) if "judge" in r else _NOT_RECORDED for r in reports]
    if len(set(judges)) > 1:
        lines += [
            "",
            "Note: the runs were judged by different judge set-ups: "
            + "; ".join(f"{label}: {judge}" for label, judge in zip(labels, judges, strict=True)),
        ]
    return "\n".join(lines) + "\n"


def _table(reports: Sequence[Mapping[str, Any]], columns: list[str], *, bold: bool) -> list[str]:
    best: dict[str, str] = {}
    for column in columns:
        values = [
            f"{section['hm']['value']:.3f}"
            for report in reports
            if (section := _section(report, column)) is not None
        ]
        best[column] = max(values, key=float)
    counts = [{name: s["n_images"] for name, s in r["datasets"].items()} for r in reports]
    several = any(len(count) > 1 for count in counts)
    per_dataset = several and any(count != counts[0] for count in counts)

    header = ["model", "split", "images"]
    header += [f"{column} {_SHORT[m]}" for column in columns for m in METRICS]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---:" + "|---:" * (len(header) - 3) + "|"]
    for name, report, figures in _rows(reports):
        count = {dataset: s["n_images"] for dataset, s in report["datasets"].items()}
        cells = [name, _splits(report), _image_cell(count, per_dataset)]
        for column in columns:
            section = figures(report, column)
            for metric in METRICS:
                if section is None:
                    cells.append("—")
                    continue
                text = format_ci(section[metric])
                value = text.split(" ", 1)[0]
                if bold and figures is _section and metric == "hm" and value == best[column]:
                    text = f"**{value}**{text[len(value) :]}"
                cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _splits(report: Mapping[str, Any]) -> str:
    splits = {name: s.get("split") or "?" for name, s in report["datasets"].items()}
    if len(set(splits.values())) == 1:
        return next(iter(splits.values()))
    return ", ".join(f"{name} {split}" for name, split in splits.items())


def _image_cell(counts: Mapping[str, int], per_dataset: bool) -> str:
    total = f"{sum(counts.values()):,}"
    if not per_dataset:
        return total
    return f"{total} ({', '.join(f'{name} {count:,}' for name, count in counts.items())})"
