"""Tiny LLaVA-OneVision: a SigLIP tower over an "anyres" grid of crops, a Qwen2 language model.

The processor resizes an image to the best of ``image_grid_pinpoints``, encodes each crop and a
downscaled whole view, and turns ``<image>`` into as many ``<image>`` tokens as those features
(plus one newline feature per row). The grid here is at most 2 x 2 crops of ``image_pixels / 4``
pixels, a few dozen tokens.
"""

from __future__ import annotations

from typing import Any

from speciarl.policy.tiny.architecture import TinyArchitecture, decoder_sizes, siglip_vision
from speciarl.policy.tiny.spec import TinySpec
from speciarl.policy.tiny.tokenizer import ChatTemplate, TokenSet

LLAVA_TOKENS = TokenSet(
    special=("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>", "<video>"),
    eos="<|im_end|>",
    pad="<|endoftext|>",
    named={"image_token": "<image>", "video_token": "<video>"},
)
PATCH = 14


def _crop(spec: TinySpec) -> int:
    return max(2 * PATCH, spec.image_pixels // 4 // PATCH * PATCH)


def _grid(spec: TinySpec) -> list[list[int]]:
    """Resolutions an image may be cut into: 1 x 1 to 2 x 2 crops."""
    crop = _crop(spec)
    return [[crop * rows, crop * cols] for rows in (1, 2) for cols in (1, 2)]


def _config(spec: TinySpec, tokenizer: Any) -> Any:
    from transformers import LlavaOnevisionConfig

    ids = tokenizer.convert_tokens_to_ids
    return LlavaOnevisionConfig(
        vision_config=siglip_vision(spec, _crop(spec), PATCH),
        text_config={"model_type": "qwen2", **decoder_sizes(spec, tokenizer)},
        image_token_index=ids("<image>"),
        video_token_index=ids("<video>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_grid_pinpoints=_grid(spec),
        tie_word_embeddings=True,
    )


def _processor(spec: TinySpec, tokenizer: Any, chat_template: str) -> Any:
    from transformers import (
        LlavaOnevisionImageProcessor,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
    )

    crop = _crop(spec)
    size = {"height": crop, "width": crop}
    return LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=_grid(spec)),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size=size),
        num_image_tokens=(crop // PATCH) ** 2,
        vision_feature_select_strategy="full",
        chat_template=chat_template,
    )


LLAVA_ONEVISION = TinyArchitecture(
    name="llava-onevision",
    title="LLaVA-OneVision",
    tokens=LLAVA_TOKENS,
    template=ChatTemplate("chat_template_llava_onevision.jinja"),
    config=_config,
    processor=_processor,
)
