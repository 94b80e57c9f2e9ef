"""A PNG contact sheet of samples with their labels, to see what a dataset really holds."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from speciarl.atomic import atomic_path
from speciarl.data.sample import ImageReadError, Sample

_CAPTION_LINES = 2


def write_grid(
    samples: Sequence[Sample], path: Path, *, columns: int = 6, cell: int = 160
) -> list[str]:
    """Draw ``samples`` in a grid with captions into ``path``; returns ids of unreadable ones."""
    if not samples:
        raise ValueError("no samples to draw")
    font = ImageFont.load_default()
    caption_height = 14 * _CAPTION_LINES + 4
    rows = -(-len(samples) // columns)
    sheet = Image.new("RGB", (columns * cell, rows * (cell + caption_height)), "white")
    draw = ImageDraw.Draw(sheet)
    unreadable = []
    for position, sample in enumerate(samples):
        left = (position % columns) * cell
        top = (position // columns) * (cell + caption_height)
        try:
            image = sample.image()
            image.thumbnail((cell - 4, cell - 4))
            offset = ((cell - image.width) // 2, (cell - image.height) // 2)
            sheet.paste(image, (left + offset[0], top + offset[1]))
        except ImageReadError:
            unreadable.append(sample.sample_id)
            draw.line((left + 8, top + 8, left + cell - 8, top + cell - 8), fill="red", width=3)
            draw.line((left + cell - 8, top + 8, left + 8, top + cell - 8), fill="red", width=3)
        lines = textwrap.wrap(sample.label, width=cell // 7)[:_CAPTION_LINES]
        for number, line in enumerate(lines):
            draw.text((left + 4, top + cell + 2 + 14 * number), line, fill="black", font=font)
    with atomic_path(path) as partial:
        sheet.save(partial, format="PNG")
    return unreadable
