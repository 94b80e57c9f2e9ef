"""A paper- or slide-ready PNG of a few images with model A's and model B's answers side by side
(the paper's Figure 4, answers only): one row per image — the image, A's answer and verdict,
B's answer and verdict — verdicts in the plots' colours. Answers, labels and run names are
untrusted text drawn as typed: matplotlib's ``$...$`` math parsing is off for them, so a ``$``
in an answer neither renders as a formula nor breaks the drawing.

Without a choice of images, the first image of each transition is taken in the comparison
page's order (improvements, then regressions, then unchanged), so the figure shows the most
telling differences and is the same on every run.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speciarl.atomic import atomic_path
from speciarl.evaluate.html.images import ImageFinder
from speciarl.evaluate.html.pairing import PairedImage, Pairing, chosen_images, pair_runs
from speciarl.evaluate.html.shared import text_colour
from speciarl.evaluate.plots import VERDICT_COLOURS

FIGURE_EXAMPLES = 4
"""Images in the figure when none are chosen."""


def write_compare_figure(
    run_a: Path,
    run_b: Path,
    out: Path,
    *,
    examples: Sequence[str] = (),
    count: int = FIGURE_EXAMPLES,
    root: Path | None = None,
) -> list[str]:
    """Write the figure to ``out`` (PNG) and return the sample ids it shows: ``examples`` in
    their order, else `count` chosen as the module says."""
    if count < 1:
        raise ValueError(f"the figure needs at least one example, got {count}")
    pairing = pair_runs(run_a, run_b)
    images = chosen_images(pairing, examples) if examples else default_examples(pairing, count)
    finder = ImageFinder(root=root, source=pairing.source)
    _draw(pairing, images, finder, out)
    return [image.sample_id for image in images]


def parse_examples(text: str | None) -> list[str]:
    """The sample ids of a comma-separated list (``--examples``), in order, blanks left out."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def default_examples(pairing: Pairing, count: int) -> list[PairedImage]:
    """The first image of each transition in page order, round after round, up to ``count``."""
    transitions = pairing.transitions()
    chosen: list[PairedImage] = []
    for position in range(max(len(t.images) for t in transitions)):
        for transition in transitions:
            if len(chosen) == count:
                return chosen
            if position < len(transition.images):
                chosen.append(transition.images[position])
    return chosen


def _draw(pairing: Pairing, images: Sequence[PairedImage], finder: ImageFinder, out: Path) -> None:
    import matplotlib.pyplot as plt

    pictures = finder.pictures([image.sample_id for image in images])
    figure, axes = plt.subplots(
        len(images),
        3,
        figsize=(9.5, 2.1 * len(images)),
        gridspec_kw={"width_ratios": [1, 2, 2]},
        squeeze=False,
    )
    for row, image in zip(axes, images, strict=True):
        for cell in row:
            cell.set_axis_off()
        _show(row[0], pictures[image.sample_id])
        row[0].set_title(
            textwrap.fill(image.label, 22), fontsize=9, fontweight="bold", parse_math=False
        )
        for cell, name, view in zip(
            row[1:], (pairing.name_a, pairing.name_b), pairing.views(image), strict=True
        ):
            answer = view["answer"] if view["answer"] is not None else "(no answer)"
            cell.text(
                0.0,
                0.92,
                textwrap.fill(name, 40),
                fontsize=8,
                color="0.35",
                va="top",
                parse_math=False,
            )
            cell.text(0.0, 0.62, textwrap.fill(answer, 38), fontsize=10, va="top", parse_math=False)
            cell.text(
                0.0,
                0.1,
                view["verdict"],
                fontsize=9,
                va="bottom",
                color=text_colour(view["verdict"]),
                bbox={
                    "boxstyle": "round,pad=0.3",
                    "facecolor": VERDICT_COLOURS[view["verdict"]],
                    "edgecolor": "none",
                },
            )
    figure.tight_layout()
    try:
        with atomic_path(out) as temporary:
            figure.savefig(temporary, format="png", dpi=200)
    finally:
        plt.close(figure)


def _show(cell: Any, picture: bytes | None) -> None:
    """The image in its cell, or a placeholder where it is missing or unreadable."""
    from PIL import Image, UnidentifiedImageError

    if picture is not None:
        try:
            with Image.open(io.BytesIO(picture)) as opened:
                cell.imshow(opened.convert("RGB"))
            return
        except (UnidentifiedImageError, OSError, ValueError):
            pass
    cell.text(0.5, 0.5, "image not\navailable", ha="center", va="center", color="0.4")
