"""The paper's two figures, drawn from reports made by `speciarl.evaluate.report.build_report`.

- `verdict_bars` (Figure 2): for every (dataset, model), a horizontal bar split into the shares of
  the verdicts, worst to best, then the unjudged predictions.
- `tradeoff_scatter` (Figure 1): specificity against correctness for every model on every dataset
  and group, over iso-curves of their harmonic mean.

PNG files are written atomically; figures are closed after saving.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.legend
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from speciarl.atomic import atomic_path
from speciarl.evaluate.report import LABELS, OVERALL

VERDICT_COLOURS: dict[str, str] = {
    "wrong": "#c0392b",
    "abstain": "#e67e22",
    "generic": "#f4d03f",
    "less specific": "#a9d18e",
    "specific": "#3c9a4f",
    "more specific": "#1b5e20",
    "unjudged": "#9e9e9e",
}
"""Fixed colour of every verdict in `verdict_bars`, red (wrong) to dark green (more specific)."""

DARK_VERDICT_COLOURS: frozenset[str] = frozenset({"wrong", "specific", "more specific"})
"""The verdicts whose colour is dark enough that text on it is written in white (black on the
others, the grey of ``unjudged`` included)."""

HM_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9)
"""The harmonic-mean iso-curves drawn in `tradeoff_scatter`."""

TRADEOFF_PADDING = 0.05
"""How far the trade-off axes reach beyond 0 and 1: a point at specificity or correctness 1.0
(RFT answers everything at species level) shows its whole marker (about 0.02 across at the
figure's size)."""

_DATASET_MARKERS = ("o", "s", "^", "v", "D", "<", ">", "8", "p", "h")
_GROUP_MARKERS = ("*", "P", "X")


def _save(figure: plt.Figure, path: str | os.PathLike[str]) -> None:
    try:
        with atomic_path(path) as temporary:
            # Legends placed outside the axes count for the tight bounding box too.
            legends = figure.findobj(matplotlib.legend.Legend)
            figure.savefig(
                temporary, format="png", dpi=150, bbox_inches="tight", bbox_extra_artists=legends
            )
            os.chmod(temporary, 0o644)  # the temporary file is private; the figure is not
    finally:
        plt.close(figure)


def _check_reports(reports: Sequence[Mapping[str, Any]]) -> None:
    if not reports:
        raise ValueError("no reports given")


def verdict_bars(reports: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Figure 2: stacked horizontal bars of verdict shares, one per (dataset, model).

    Bars are grouped by dataset (in order of first appearance), models in the order given, the
    first at the top; segments of at least 6 % carry their percentage.
    """
    _check_reports(reports)
    datasets: list[str] = []
    for report in reports:
        datasets += [name for name in report["datasets"] if name not in datasets]
    bars: list[tuple[str, str, Mapping[str, float]]] = [
        (dataset, report["model"], report["datasets"][dataset]["shares"])
        for dataset in datasets
        for report in reports
        if dataset in report["datasets"]
    ]
    several_models = len({report["model"] for report in reports}) > 1
    labels = [f"{dataset} · {model}" if several_models else dataset for dataset, model, _ in bars]
    positions = np.arange(len(bars))[::-1].astype(float)
    # A small gap between datasets keeps each dataset's models together.
    if several_models:
        gaps = np.cumsum([0] + [bars[i][0] != bars[i - 1][0] for i in range(1, len(bars))])
        positions = (len(bars) - 1 + gaps[-1]) - (np.arange(len(bars)) + gaps) * 1.0

    figure, axes = plt.subplots(figsize=(9, 1.4 + 0.42 * len(bars)), layout="constrained")
    left = np.zeros(len(bars))
    for label in LABELS:
        widths = np.array([shares.get(label, 0.0) for _, _, shares in bars])
        axes.barh(
            positions,
            widths,
            left=left,
            height=0.8,
            color=VERDICT_COLOURS[label],
            edgecolor="white",
            linewidth=0.5,
            label=label,
        )
        for y, x, width in zip(positions, left, widths, strict=True):
            if width >= 0.06:
                dark = label in DARK_VERDICT_COLOURS
                axes.text(
                    x + width / 2,
                    y,
                    f"{100 * width:.0f}%",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
        left += widths
    axes.set_yticks(positions, labels)
    axes.set_xlim(0, 1)
    axes.set_xticks(np.linspace(0, 1, 6), [f"{v}%" for v in range(0, 101, 20)])
    axes.set_xlabel("share of predictions")
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title("Verdict distribution")
    figure.legend(
        *axes.get_legend_handles_labels(),
        loc="outside lower center",
        ncol=len(LABELS),
        fontsize=8,
        frameon=False,
        handlelength=1.2,
        columnspacing=1.0,
    )
    _save(figure, path)


def _hm_curve(hm: float, specificity: np.ndarray) -> np.ndarray:
    """Correctness giving harmonic mean ``hm`` with ``specificity`` (where it is within 0..1)."""
    return hm * specificity / (2 * specificity - hm)


def tradeoff_scatter(reports: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> None:
    """Figure 1: specificity (x) against correctness (y), one point per (model, dataset or group).

    Colour tells the model, marker the dataset or group (groups and the overall average are
    larger, edged in black); thin bars show the CIs. Faint curves join the points of equal HM.
    """
    _save(tradeoff_figure(reports), path)


def tradeoff_figure(reports: Sequence[Mapping[str, Any]]) -> plt.Figure:
    """The figure `tradeoff_scatter` saves; the axes reach `TRADEOFF_PADDING` beyond 0..1."""
    _check_reports(reports)
    figure, axes = plt.subplots(figsize=(7.5, 6.5))

    for hm in HM_LEVELS:
        start = hm / (2 - hm)  # where the curve leaves the top edge (correctness = 1)
        specificity = np.linspace(start, 1.0, 200)
        axes.plot(specificity, _hm_curve(hm, specificity), color="0.6", lw=0.8, ls="--", zorder=0)
        axes.annotate(
            f"HM {hm:.1f}",
            (1.0, _hm_curve(hm, np.array(1.0))),
            xytext=(-3, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.45",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
            zorder=1,
        )

    entities: list[str] = []
    for report in reports:
        entities += [name for name in report["datasets"] if name not in entities]
    group_names: list[str] = []
    for report in reports:
        present = [*report.get("groups", {}), *([OVERALL] if OVERALL in report else [])]
        group_names += [name for name in present if name not in group_names]
    markers = {name: _DATASET_MARKERS[i % len(_DATASET_MARKERS)] for i, name in enumerate(entities)}
    markers |= {name: _GROUP_MARKERS[i % len(_GROUP_MARKERS)] for i, name in enumerate(group_names)}

    models = list(dict.fromkeys(report["model"] for report in reports))
    palette = plt.get_cmap("tab10")
    colours = {model: palette(i % 10) for i, model in enumerate(models)}

    for report in reports:
        points = [(name, section, False) for name, section in report["datasets"].items()]
        points += [(name, section, True) for name, section in report.get("groups", {}).items()]
        if OVERALL in report:
            points.append((OVERALL, report[OVERALL], True))
        for name, section, is_group in points:
            x, y = section["specificity"], section["correctness"]
            axes.errorbar(
                x["value"],
                y["value"],
                xerr=[[x["value"] - x["ci"][0]], [x["ci"][1] - x["value"]]],
                yerr=[[y["value"] - y["ci"][0]], [y["ci"][1] - y["value"]]],
                fmt="none",
                ecolor=colours[report["model"]],
                elinewidth=0.8,
                alpha=0.6,
                zorder=2,
            )
            axes.scatter(
                x["value"],
                y["value"],
                marker=markers[name],
                s=140 if is_group else 45,
                color=colours[report["model"]],
                edgecolors="black" if is_group else "none",
                linewidths=0.8,
                alpha=1.0 if is_group else 0.8,
                zorder=3,
            )

    model_handles = [
        Line2D([], [], ls="", marker="o", color=colours[m], markersize=7, label=m) for m in models
    ]
    place_handles = [
        Line2D(
            [],
            [],
            ls="",
            marker=markers[name],
            color="0.35",
            markeredgecolor="black" if name in group_names else "none",
            markersize=9 if name in group_names else 6,
            label=name,
        )
        for name in [*entities, *group_names]
    ]
    # Both legends sit outside the axes: weak models land in the lower left corner.
    first = axes.legend(
        handles=model_handles,
        title="model",
        loc="lower left",
        bbox_to_anchor=(1.01, 0.0),
        fontsize=8,
        title_fontsize=8,
    )
    axes.add_artist(first)
    axes.legend(
        handles=place_handles,
        title="dataset / group",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
        title_fontsize=8,
    )
    limits = (-TRADEOFF_PADDING, 1 + TRADEOFF_PADDING)
    axes.set_xlim(*limits)
    axes.set_ylim(*limits)
    ticks = np.linspace(0, 1, 6)
    axes.set_xticks(ticks)
    axes.set_yticks(ticks)
    axes.set_aspect("equal")
    axes.set_xlabel("specificity")
    axes.set_ylabel("correctness")
    axes.set_title("Specificity vs correctness")
    axes.grid(True, color="0.92", lw=0.6, zorder=-1)
    return figure
