"""How many tokens, vision patches and pixel values one image costs, per architecture family.

The memory plan sizes every sequence and every ``pixel_values`` tensor from this, knowing only a
model's config. Families turn an image into tokens differently: Qwen-VL resizes it within a pixel
budget (``data.max_pixels``) and merges patches; Gemma 3 always makes one fixed-size crop of a
fixed number of tokens; InternVL and Idefics3/SmolVLM cut it into tiles of a fixed number of tokens
each; LLaVA-OneVision's "anyres" grid unpads and downsamples per image shape, which this module
does not model. All the per-family knowledge the project has about image tokens lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QWEN_CHECKPOINT_MAX_TOKENS = 16384
"""Image tokens a Qwen2.5-VL or Qwen3-VL checkpoint allows per image (its
``preprocessor_config.json``: 12,845,056 pixels at 28 x 28, 16,777,216 at 32 x 32), which
``data.max_pixels: null`` keeps."""

QWEN2_5_TOKEN_PIXELS = 28 * 28
"""Pixels one Qwen2-VL/Qwen2.5-VL image token covers (14-px patches merged 2 x 2); Qwen3-VL's
cover 32 x 32 (16-px patches). The smallest token of any :data:`PIXEL_BUDGET_FAMILIES` model,
so the least a pixel budget may be before the model is known."""

INTERNVL_MAX_TILES = 12 + 1
"""Tiles of one image for InternVL: at most 12 crops (the InternVL processor's default
``max_patches``, ``crop_to_patches: true``) plus a thumbnail of the whole image."""

IDEFICS3_TILE_GRID = 4
"""Idefics3/SmolVLM processors resize the longest edge to 4 tiles (their default ``size`` is 4 x
``max_image_size``) and split it into at most 4 x 4 tiles, plus the whole image as one more."""

PIXEL_BUDGET_FAMILIES = ("qwen2_vl", "qwen2_5_vl", "qwen3_vl")
"""Architectures whose processor resizes within ``min_pixels``/``max_pixels``."""


class ImageTokensError(ValueError):
    """An architecture whose image cost this module cannot work out from its config."""


@dataclass(frozen=True)
class ImageCost:
    """The most one image costs in a prompt."""

    tokens: int
    """Tokens it takes in the language model's sequence."""
    patches: int
    """Positions the vision tower runs over (every tile's)."""
    patch_values: int
    """Numbers per vision patch in ``pixel_values`` (channels x temporal patch x patch^2)."""
    max_pixels: int | None
    """The pixel budget it was reckoned at; ``None`` for families without one."""
    how: str
    """Where ``tokens`` comes from, in words (for plan lines)."""


def image_cost(model_config: Any, max_pixels: int | None = None) -> ImageCost:
    """The cost of the largest image ``model_config``'s family makes; ``max_pixels`` is the
    recipe's budget (``None``: the checkpoint's own bound), used by pixel-budget families only.
    Raises :class:`ImageTokensError` naming the architecture it cannot plan."""
    family = getattr(model_config, "model_type", None)
    vision = getattr(model_config, "vision_config", None)
    if vision is None:
        raise ImageTokensError(f"{family or type(model_config).__name__}: no vision_config")
    if family in PIXEL_BUDGET_FAMILIES:
        return _pixel_budget_cost(vision, max_pixels)
    ignored = "" if max_pixels is None else "; data.max_pixels does not apply"
    if family == "gemma3":
        side, patch = _side(vision.image_size), _side(vision.patch_size)
        tokens = model_config.mm_tokens_per_image
        return ImageCost(
            tokens=tokens,
            patches=(side // patch) ** 2,
            patch_values=vision.num_channels * patch**2,
            max_pixels=None,
            how=f"gemma3: {tokens} per image, one {side} x {side} crop{ignored}",
        )
    if family == "internvl":
        side, patch = _side(vision.image_size), _side(vision.patch_size)
        per_tile = int((side // patch) ** 2 * model_config.downsample_ratio**2)
        return _tiled(vision, family, side, patch, per_tile, INTERNVL_MAX_TILES, ignored)
    if family in ("idefics3", "smolvlm"):
        side, patch = _side(vision.image_size), _side(vision.patch_size)
        per_tile = (side // patch) ** 2 // model_config.scale_factor**2
        tiles = IDEFICS3_TILE_GRID**2 + 1
        return _tiled(vision, family, side, patch, per_tile, tiles, ignored)
    known = ", ".join((*PIXEL_BUDGET_FAMILIES, "gemma3", "internvl", "idefics3", "smolvlm"))
    why = "its anyres grid depends on each image's shape" if family == "llava_onevision" else ""
    raise ImageTokensError(
        f"{family}: the image tokens of one image are not known for this architecture"
        + (f" ({why})" if why else "")
        + f"; known: {known}"
    )


def _pixel_budget_cost(vision: Any, max_pixels: int | None) -> ImageCost:
    patch, merge = vision.patch_size, vision.spatial_merge_size
    token_pixels = (patch * merge) ** 2
    budget = max_pixels or QWEN_CHECKPOINT_MAX_TOKENS * token_pixels
    tokens = budget // token_pixels
    return ImageCost(
        tokens=tokens,
        patches=tokens * merge**2,
        patch_values=vision.in_channels * vision.temporal_patch_size * patch**2,
        max_pixels=budget,
        how=f"data.max_pixels {budget:,}",
    )


def _tiled(
    vision: Any, family: str, side: int, patch: int, per_tile: int, tiles: int, ignored: str
) -> ImageCost:
    return ImageCost(
        tokens=tiles * per_tile,
        patches=tiles * (side // patch) ** 2,
        patch_values=vision.num_channels * patch**2,
        max_pixels=None,
        how=f"{family}: up to {tiles} tiles of {side} x {side}, {per_tile} tokens each{ignored}",
    )


def _side(size: int | list[int] | tuple[int, ...]) -> int:
    """One side of a square size given as a number or a pair; a non-square pair is refused."""
    if isinstance(size, int):
        return size
    if len(set(size)) != 1:
        raise ImageTokensError(f"non-square image or patch size {list(size)}")
    return int(size[0])
