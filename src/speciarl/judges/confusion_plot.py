"""``confusion.png`` of ``speciarl judge-eval``: one confusion matrix per judge set-up.

Rows are the reference verdicts, columns the judge's verdicts and ``undecided``. Each cell shows
its count; its shade is the cell's share of its row, so a judge that is right on a rare verdict
looks as good as one right on a common one. Written atomically, the figure closed after saving.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from speciarl.atomic import atomic_path
from speciarl.judges.agreement import COLUMNS, ROWS, Matrix

MAX_COLUMNS = 3
"""Set-ups side by side, at most; more wrap to further rows."""


def confusion_grid(matrices: Sequence[tuple[str, Matrix]], path: str | os.PathLike[str]) -> None:
    """Draw each ``(set-up name, 6 x 7 counts)`` as a heat map, in the order given."""
    if not matrices:
        raise ValueError("no confusion matrices to draw")
    across = min(len(matrices), MAX_COLUMNS)
    down = math.ceil(len(matrices) / across)
    figure, axes_grid = plt.subplots(
        down, across, figsize=(5.6 * across, 4.6 * down), squeeze=False, layout="constrained"
    )
    try:
        for axes in axes_grid.flat[len(matrices) :]:
            axes.set_visible(False)
        for axes, (name, matrix) in zip(axes_grid.flat, matrices, strict=False):
            _draw(axes, name, np.array(matrix, dtype=float))
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format="png", dpi=120)
            os.chmod(temporary, 0o644)  # the temporary file is private; the figure is not
    finally:
        plt.close(figure)


def _draw(axes: plt.Axes, name: str, counts: np.ndarray) -> None:
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    axes.axvline(len(ROWS) - 0.5, color="0.4", linewidth=1.0)  # verdicts | undecided
    for row in range(counts.shape[0]):
        for column in range(counts.shape[1]):
            count = int(counts[row, column])
            if count:
                axes.text(
                    column,
                    row,
                    str(count),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if shares[row, column] > 0.55 else "black",
                )
    axes.set_xticks(range(len(COLUMNS)), [_short(label) for label in COLUMNS], rotation=35)
    axes.set_yticks(range(len(ROWS)), ROWS)
    axes.tick_params(labelsize=8)
    axes.set_xlabel("judge", fontsize=9)
    axes.set_ylabel("reference", fontsize=9)
    pairs = int(counts.sum())
    title = "\n".join(textwrap.wrap(name, 56, break_on_hyphens=False) or [name])
    axes.set_title(f"{title}\n{pairs} pairs", fontsize=9)


def _short(label: str) -> str:
    return label.replace(" specific", "\nspecific")
