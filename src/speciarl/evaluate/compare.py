"""The paper-style comparison of several models' reports, as one Markdown table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from speciarl.evaluate.report import GROUPS, METRICS, OVERALL

_SHORT = {"specificity": "spec", "correctness": "corr", "hm": "HM"}


def _section(report: Mapping[str, Any], column: str) -> Mapping[str, Any] | None:
    if column == OVERALL:
        return report.get(OVERALL)
    return report.get("groups", {}).get(column)


def compare_table(reports: Sequence[Mapping[str, Any]]) -> str:
    """One row per model; specificity / correctness / HM for the fine-grained group, the very
    fine-grained group and the overall average (as `build_report` stores them).

    A column appears when at least one report has it; a report without it shows "—". The best
    HM of every column (at the printed precision; ties included) is in bold. When the overall
    averages of the reports cover different datasets, a note under the table says so.
    """
    if not reports:
        raise ValueError("no reports given")
    columns = [
        column
        for column in (*GROUPS, OVERALL)
        if any(_section(report, column) is not None for report in reports)
    ]
    if not columns:
        raise ValueError("no report has a group or overall section")

    best: dict[str, str] = {}
    for column in columns:
        values = [
            f"{section['hm']['value']:.3f}"
            for report in reports
            if (section := _section(report, column)) is not None
        ]
        best[column] = max(values, key=float)

    header = ["model"] + [f"{column} {_SHORT[m]}" for column in columns for m in METRICS]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for report in reports:
        cells = [str(report["model"])]
        for column in columns:
            section = _section(report, column)
            for metric in METRICS:
                if section is None:
                    cells.append("—")
                    continue
                text = f"{section[metric]['value']:.3f}"
                cells.append(f"**{text}**" if metric == "hm" and text == best[column] else text)
        lines.append("| " + " | ".join(cells) + " |")

    if OVERALL in columns:
        covered = {
            frozenset(report[OVERALL]["datasets"]) for report in reports if OVERALL in report
        }
        if len(covered) > 1:
            lines += [
                "",
                f"Note: the {OVERALL} averages cover different datasets: "
                + "; ".join(
                    f"{report['model']}: {', '.join(report[OVERALL]['datasets'])}"
                    for report in reports
                    if OVERALL in report
                ),
            ]
    return "\n".join(lines) + "\n"
