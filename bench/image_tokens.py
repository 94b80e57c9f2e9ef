"""Print how many image tokens each benchmark's typical image becomes, with the checkpoint's own
pixel range and with the recipes' default image budget: the Markdown table of the README.

Counts come from transformers' own ``smart_resize`` (`speciarl.policy.image_budget.image_tokens`),
the function Qwen2.5-VL's processor resizes with; `tests/test_image_budget.py` checks that they
equal the image tokens a real processor puts in a prompt. The sizes are assumptions, each with
its source ("real boxes": the bounding boxes of ``shared/fixtures/real_layouts``, whose far
corners bound an image's size from below); no images are read.

    .venv/bin/python bench/image_tokens.py
"""

from __future__ import annotations

from speciarl.policy.image_budget import (
    CHECKPOINT_MAX_PIXELS,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    ImageBudget,
    image_tokens,
    resized_size,
)

CHECKPOINT = ImageBudget(min_pixels=DEFAULT_MIN_PIXELS, max_pixels=CHECKPOINT_MAX_PIXELS)
"""Qwen2.5-VL-7B-Instruct's own range (its ``preprocessor_config.json``)."""
RECIPES = ImageBudget(min_pixels=DEFAULT_MIN_PIXELS, max_pixels=DEFAULT_MAX_PIXELS)
BY = " \N{MULTIPLICATION SIGN} "

TYPICAL: list[tuple[str, int, int, str]] = [
    (
        "CUB-200",
        500,
        375,
        "long side 500 px (real boxes: 99th percentile of the right edge 498 px)",
    ),
    ("Flowers102", 500, 667, "short side rescaled to 500 px by the dataset's authors"),
    ("Food-101", 512, 384, "long side rescaled to 512 px by the dataset's authors"),
    ("Food-101", 512, 512, "the same, square"),
    ("Oxford Pets", 500, 375, f"most images about 500{BY}375 (some larger)"),
    ("Stanford Cars", 640, 480, f"typical; real boxes: median corner at 575{BY}364"),
    ("Stanford Cars", 1078, 723, "real boxes: 90th-percentile corner (a lower bound)"),
    ("Stanford Cars", 2104, 1415, "real boxes: 99th-percentile corner (a lower bound)"),
    ("FGVC-Aircraft", 1200, 820, "about 1 MP with its 20-px banner"),
    ("FGVC-Aircraft", 2000, 1353, "about 2.7 MP with its banner"),
]


def main() -> None:
    print(
        f"| dataset | typical size (w{BY}h) | tokens, checkpoint's range "
        "| tokens, default budget | resized to | size from |"
    )
    print("|---|---|---|---|---|---|")
    for name, width, height, source in TYPICAL:
        fitted = resized_size(width, height, RECIPES)
        print(
            f"| {name} | {width}{BY}{height} | {image_tokens(width, height, CHECKPOINT):,} "
            f"| {image_tokens(width, height, RECIPES):,} | {fitted[0]}{BY}{fitted[1]} | {source} |"
        )


if __name__ == "__main__":
    main()
