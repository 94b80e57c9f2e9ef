"""The comparison page of two runs on the same images: how each image's verdict moved from model
A to model B (a transition matrix, as a table and a heat map), and per transition the two
models' answers and reasoning side by side, improvements and regressions first.

Per image each run's first prediction counts (see `speciarl.evaluate.html.pairing`). Per
transition at most `EXAMPLES_PER_TRANSITION` images are embedded, spread evenly in sample-id
order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speciarl.evaluate.html.examples import spread
from speciarl.evaluate.html.images import ImageFinder
from speciarl.evaluate.html.pairing import IMPROVEMENT, REGRESSION, UNCHANGED, Pairing, pair_runs
from speciarl.evaluate.html.shared import PAGE_SIZE, figure_png, png_uri, render_page, write_page
from speciarl.evaluate.report import LABELS

EXAMPLES_PER_TRANSITION = 24
"""Images embedded per verdict transition in the comparison page."""


def side_by_side_runs(
    runs: Sequence[Path], *, html: Path | None, figure: Path | None, examples: Sequence[str]
) -> tuple[Path, Path] | None:
    """The two runs whose answers the page ``html`` and the figure ``figure`` put side by side
    (``examples``: the figure's chosen sample ids); ``None`` when none of them is asked for.
    Asked of other than two runs, or ``examples`` without a figure, is a ``ValueError``."""
    if not (html or figure or examples):
        return None
    if len(runs) != 2:
        raise ValueError(
            f"--html, --figure and --examples compare two runs; {len(runs)} were given"
        )
    if examples and figure is None:
        raise ValueError("--examples chooses the images of --figure; give --figure too")
    return runs[0], runs[1]


def write_compare_html(
    run_a: Path,
    run_b: Path,
    out: Path,
    *,
    root: Path | None = None,
    per_transition: int = EXAMPLES_PER_TRANSITION,
) -> Path:
    """Write the comparison page of two evaluation folders to ``out``; returns ``out``.
    Images come from the shipped datasets the sample ids name, under ``root``."""
    if per_transition < 1:
        raise ValueError(f"examples per transition must be positive, got {per_transition}")
    pairing = pair_runs(run_a, run_b)
    finder = ImageFinder(root=root, source=pairing.source)
    transitions = pairing.transitions()
    examples: list[dict[str, Any]] = []
    options = []
    for transition in transitions:
        options.append(
            (
                transition.name,
                f"{transition.kind}: {transition.name} ({len(transition.images):,} images)",
            )
        )
        for image in spread(transition.images, per_transition):
            a, b = pairing.views(image)
            examples.append(
                {
                    "id": image.sample_id,
                    "dataset": image.dataset,
                    "label": image.label,
                    "transition": transition.name,
                    "kind": transition.kind,
                    "a": a,
                    "b": b,
                }
            )
    thumbnails = finder.thumbnails([example["id"] for example in examples])
    kinds = dict.fromkeys((IMPROVEMENT, REGRESSION, UNCHANGED), 0)
    for image in pairing.images:
        kinds[image.kind] += 1
    html = render_page(
        "compare.html.j2",
        title=f"{pairing.name_a} → {pairing.name_b}",
        pairing=pairing,
        run_a=str(run_a),
        run_b=str(run_b),
        matrix=pairing.matrix(),
        heat_map=png_uri(figure_png(heat_map(pairing))),
        kinds=kinds,
        options=options,
        per_transition=per_transition,
        images=finder.note(),
        page_data={
            "labels": list(LABELS),
            "examples": examples,
            "thumbnails": thumbnails,
            "names": [pairing.name_a, pairing.name_b],
            "page_size": PAGE_SIZE,
        },
    )
    return write_page(out, html)


def heat_map(pairing: Pairing) -> Any:
    """The transition matrix as a matplotlib heat map, counts written in the cells; the run
    names on the axes are drawn as typed (no ``$...$`` math)."""
    import matplotlib.pyplot as plt
    import numpy as np

    counts = np.array(pairing.matrix())
    figure, axes = plt.subplots(figsize=(6.4, 5.4))
    shown = axes.imshow(counts, cmap="Blues")
    axes.set_xticks(range(len(LABELS)), LABELS, rotation=35, ha="right")
    axes.set_yticks(range(len(LABELS)), LABELS)
    axes.set_xlabel(f"B: {pairing.name_b}", parse_math=False)
    axes.set_ylabel(f"A: {pairing.name_a}", parse_math=False)
    top = counts.max() or 1
    for row in range(len(LABELS)):
        for column in range(len(LABELS)):
            value = counts[row, column]
            if value:
                axes.text(
                    column,
                    row,
                    f"{value:,}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if value > top / 2 else "black",
                )
    axes.set_title("Verdict transitions (images, first prediction of each run)")
    figure.colorbar(shown, ax=axes, shrink=0.8, label="images")
    return figure
