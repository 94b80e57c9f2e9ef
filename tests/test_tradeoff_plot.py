"""The trade-off plot shows every point whole, also at the edges (specificity 1.0, as RFT's)."""

import math

import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import LineCollection, PathCollection

from speciarl.evaluate.plots import tradeoff_figure, tradeoff_scatter


def section(specificity, correctness):
    """A report section: each argument is (value, low, high)."""
    return {
        name: {"value": value, "ci": [low, high]}
        for name, (value, low, high) in (("specificity", specificity), ("correctness", correctness))
    }


EDGES = [
    {
        "model": "RFT (binary reward)",
        "datasets": {"synthetic": section((1.0, 1.0, 1.0), (0.61, 0.58, 0.64))},
        "groups": {"fine-grained": section((1.0, 1.0, 1.0), (1.0, 0.97, 1.0))},
        "overall": section((1.0, 1.0, 1.0), (0.0, 0.0, 0.03)),
    },
    {
        "model": "base",
        "datasets": {"synthetic": section((0.0, 0.0, 0.02), (1.0, 0.96, 1.0))},
        "overall": section((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
    },
]


@pytest.fixture
def axes():
    figure = tradeoff_figure(EDGES)
    figure.canvas.draw()
    yield figure.axes[0]
    plt.close(figure)


def test_every_interval_lies_inside_the_axes_with_a_margin(axes):
    (x_low, x_high), (y_low, y_high) = axes.get_xlim(), axes.get_ylim()
    bars = [c for c in axes.collections if isinstance(c, LineCollection)]
    ends = [point for bar in bars for segment in bar.get_segments() for point in segment]
    assert len(ends) == 2 * 2 * 5  # an x and a y interval, two ends each, for five points
    for x, y in ends:
        assert x_low + 0.02 <= x <= x_high - 0.02 and y_low + 0.02 <= y <= y_high - 0.02


def test_every_marker_shows_whole(axes):
    frame = axes.get_window_extent()
    markers = [c for c in axes.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in markers) == 5
    for collection in markers:
        [size], [edge] = collection.get_sizes(), collection.get_linewidths()
        radius = (math.sqrt(size) + edge) / 2 * axes.figure.dpi / 72  # points to pixels
        for x, y in axes.transData.transform(collection.get_offsets()):
            assert frame.x0 <= x - radius and x + radius <= frame.x1
            assert frame.y0 <= y - radius and y + radius <= frame.y1


def test_the_saved_plot_is_a_png(tmp_path):
    tradeoff_scatter(EDGES, tmp_path / "tradeoff.png")
    assert (tmp_path / "tradeoff.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
