"""Image budgets: how many pixels an image keeps before a Qwen2-VL-style processor tokenises it.

Qwen2.5-VL cuts an image into 14-px patches and merges 2 x 2 of them into one token, so a token
covers 28 x 28 pixels (Qwen3-VL: 16-px patches, 32 x 32). Its processor resizes every image to
multiples of that step whose area lies within
``[min_pixels, max_pixels]``, keeping the aspect ratio (transformers' ``smart_resize``). A
Qwen2.5-VL checkpoint allows up to 12,845,056 pixels (16,384 tokens), so a several-megapixel
FGVC-Aircraft photo becomes thousands of tokens in every rollout. A budget narrows that range,
alike for training and prediction, wherever an image meets a processor:

- a transformers processor holds it on its image processor (`load_processor`): TRL calls the
  processor it is given with no per-call image settings, so the object is the only place;
- a vLLM engine that speciarl builds gets it as ``mm_processor_kwargs``
  (`ImageBudget.processor_kwargs`);
- a vLLM engine that TRL builds for rollouts, or a vLLM server, processes the raw images with the
  checkpoint's own range: images resized to the budget beforehand (`fit_images`) pass through it
  unchanged when the budget lies inside that range.

Nothing heavy is imported at module level: recipes and evaluation plans read the budget type.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from PIL import Image

from speciarl.policy.image_tokens import QWEN2_5_TOKEN_PIXELS, QWEN_CHECKPOINT_MAX_TOKENS

log = logging.getLogger(__name__)

DEFAULT_MIN_PIXELS = 56 * 56
"""3,136 pixels (4 Qwen2.5-VL tokens): the processor's own minimum, so small images are never
enlarged."""

CHECKPOINT_MAX_PIXELS = QWEN_CHECKPOINT_MAX_TOKENS * QWEN2_5_TOKEN_PIXELS
"""12,845,056 pixels (16,384 tokens): a Qwen2.5-VL checkpoint's own upper bound (its
``preprocessor_config.json``); ``bench/image_tokens.py`` prints image tokens under it."""

DEFAULT_MAX_PIXELS = 1_003_520
"""At most 1,280 Qwen2.5-VL tokens: transformers' Qwen2-VL image-processor default and the cap
Qwen's model card suggests; an image then fits the paper's 2,048-token prompt with its text."""


class ImageBudgetError(ValueError):
    """A processor that cannot take the budget asked for."""


@dataclass(frozen=True)
class ImageBudget:
    """The pixel range images are resized into; ``None`` keeps the processor's own bound.

    Recorded in an evaluation folder's manifest and in a run's recipe: another budget gives other
    image tokens, hence other predictions and another training run.
    """

    min_pixels: int | None = None
    max_pixels: int | None = None

    def problem(self, min_key: str, max_key: str) -> str | None:
        """What is wrong with the budget, naming the setting as the user wrote it; else None."""
        for key, value in ((min_key, self.min_pixels), (max_key, self.max_pixels)):
            if value is not None and value < QWEN2_5_TOKEN_PIXELS:
                return (
                    f"{key} must be at least {QWEN2_5_TOKEN_PIXELS} pixels (the smallest image "
                    f"token of any pixel-budget model), got {value}"
                )
        if (
            self.min_pixels is not None
            and self.max_pixels is not None
            and self.max_pixels < self.min_pixels
        ):
            return f"{max_key} must be >= {min_key} ({self.max_pixels} < {self.min_pixels})"
        return None

    def processor_kwargs(self) -> dict[str, int]:
        """The budget as a Qwen2-VL processor's keyword arguments (transformers' image processor,
        vLLM's ``mm_processor_kwargs``): only the bounds that are set."""
        bounds = {"min_pixels": self.min_pixels, "max_pixels": self.max_pixels}
        return {key: value for key, value in bounds.items() if value is not None}

    def inside(self, outer: ImageBudget) -> bool:
        """Whether every area this (complete) budget allows is one ``outer`` allows too."""
        return bool(
            self.min_pixels is not None
            and self.max_pixels is not None
            and outer.min_pixels is not None
            and outer.max_pixels is not None
            and outer.min_pixels <= self.min_pixels
            and self.max_pixels <= outer.max_pixels
        )


PROCESSOR_RANGE = ImageBudget()
"""No bound set: images keep the processor's own range (the checkpoint's)."""

DEFAULT_BUDGET = ImageBudget(DEFAULT_MIN_PIXELS, DEFAULT_MAX_PIXELS)
"""The budget recipes and ``predict`` use unless told otherwise. It is a Qwen2-VL-style
processor's: a processor that sizes images its own way (Gemma 3's fixed crop, InternVL's or
SmolVLM's tiles) keeps that way under it, where any other budget is refused."""


def takes_pixel_budget(image_processor: Any) -> bool:
    """Whether ``image_processor`` resizes into a pixel range (Qwen2-VL style: a ``size`` with
    ``shortest_edge``/``longest_edge`` in pixels, and patches merged by ``merge_size``)."""
    size = getattr(image_processor, "size", None)
    return (
        getattr(size, "shortest_edge", None) is not None
        and getattr(size, "longest_edge", None) is not None
        and getattr(image_processor, "merge_size", None) is not None
    )


def load_processor(source: str, budget: ImageBudget, **options: Any) -> Any:
    """The processor of ``source`` (``options`` go to ``AutoProcessor.from_pretrained``), its
    image processor holding ``budget``.

    The image processor is loaded again on its own with the budget and put in place of the
    default one: a Qwen2.5-VL checkpoint spells its range as ``min_pixels``/``max_pixels``, which
    would win over a ``size`` passed to the whole processor, and any keyword given to the whole
    processor also lands in its tokenizer (which passes ``min_pixels`` to every call, and cannot
    save an image processor). A processor whose range does not become the budget (not a
    Qwen2-VL-style one) is an :class:`ImageBudgetError`, never a budget silently ignored; only
    :data:`DEFAULT_BUDGET` leaves such a processor its own sizing (logged).
    """
    from transformers import AutoImageProcessor, AutoProcessor

    processor = AutoProcessor.from_pretrained(source, **options)
    wanted = budget.processor_kwargs()
    if not wanted:
        return processor
    if budget == DEFAULT_BUDGET and not takes_pixel_budget(processor.image_processor):
        log.info(
            "%s: %s sizes images its own way; the default pixel budget does not apply",
            source,
            type(processor.image_processor).__name__,
        )
        return processor
    image_processor = AutoImageProcessor.from_pretrained(source, **wanted)
    applied, _ = processor_budget(image_processor)
    if any(getattr(applied, key) != value for key, value in wanted.items()):
        raise ImageBudgetError(
            f"{source}: its image processor ({type(image_processor).__name__}) takes no "
            "min_pixels/max_pixels budget (it sizes images its own way); leave the budget "
            "unset or at its default for this model"
        )
    processor.image_processor = image_processor
    return processor


def processor_budget(image_processor: Any) -> tuple[ImageBudget, int]:
    """The pixel range a Qwen2-VL-style image processor resizes into, and its size step in
    pixels (patch size x merge size: 28 for Qwen2.5-VL); ``None`` bounds if it has none."""
    size = getattr(image_processor, "size", None)
    budget = ImageBudget(
        getattr(size, "shortest_edge", None) or None, getattr(size, "longest_edge", None) or None
    )
    step = getattr(image_processor, "patch_size", 14) * getattr(image_processor, "merge_size", 2)
    return budget, step


def resized_size(width: int, height: int, budget: ImageBudget, step: int = 28) -> tuple[int, int]:
    """(width, height) a Qwen2-VL processor gives a ``width`` x ``height`` image under a complete
    ``budget``: transformers' own ``smart_resize``, so the two never disagree."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    if budget.min_pixels is None or budget.max_pixels is None:
        raise ValueError("resizing needs both bounds of the budget")
    new_height, new_width = smart_resize(
        height, width, factor=step, min_pixels=budget.min_pixels, max_pixels=budget.max_pixels
    )
    return new_width, new_height


def image_tokens(width: int, height: int, budget: ImageBudget, step: int = 28) -> int:
    """Image tokens a ``width`` x ``height`` image becomes under a complete ``budget``."""
    new_width, new_height = resized_size(width, height, budget, step)
    return (new_width // step) * (new_height // step)


def fit_image(image: Image.Image, budget: ImageBudget, step: int = 28) -> Image.Image:
    """``image`` at the size the processor would give it (RGB, bicubic, as the processor)."""
    size = resized_size(image.width, image.height, budget, step)
    if image.size == size and image.mode == "RGB":
        return image
    return image.convert("RGB").resize(size, Image.Resampling.BICUBIC)


def fit_images(dataset: Any, processor: Any) -> Any:
    """``dataset`` (a ``datasets.Dataset`` with an ``image`` column) whose images come out
    already resized to what ``processor`` makes of them, so that a processor with a wider range
    (vLLM's, from the checkpoint) leaves them as they are. Resized as rows are read, not stored.
    A processor that takes no pixel budget sizes images as vLLM's does: ``dataset`` unchanged."""
    if not takes_pixel_budget(processor.image_processor):
        return dataset
    budget, step = processor_budget(processor.image_processor)

    def transform(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        return {**batch, "image": [fit_image(image, budget, step) for image in batch["image"]]}

    return dataset.with_transform(transform)
