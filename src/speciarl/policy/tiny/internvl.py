"""Tiny InternVL (transformers' ``internvl``, InternVL3-style): an InternViT tower, pixel
shuffle, a Qwen2 language model and ChatML turns.

The processor turns each ``<IMG_CONTEXT>`` of the prompt into ``<img>``, one run of
``<IMG_CONTEXT>`` per image tile and ``</img>``. Images are one tile here (the real processor cuts
up to 12 tiles and adds a thumbnail): ``max_patches`` is 1.
"""

from __future__ import annotations

from typing import Any

from speciarl.policy.tiny.architecture import TinyArchitecture, decoder_sizes
from speciarl.policy.tiny.spec import TinySpec
from speciarl.policy.tiny.tokenizer import ChatTemplate, TokenSet

INTERNVL_TOKENS = TokenSet(
    special=(
        "<|endoftext|>",
        "<|im_start|>",
        "<|im_end|>",
        "<img>",
        "</img>",
        "<IMG_CONTEXT>",
        "<video>",
    ),
    eos="<|im_end|>",
    pad="<|endoftext|>",
    named={
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    },
)
PATCH = 14
DOWNSAMPLE = 0.5
"""Pixel shuffle keeps one token per 2 x 2 patches."""


def _tile(spec: TinySpec) -> int:
    step = int(PATCH / DOWNSAMPLE)
    return max(step, spec.image_pixels // step * step)


def _tokens_per_tile(spec: TinySpec) -> int:
    return int((_tile(spec) // PATCH) ** 2 * DOWNSAMPLE**2)


def _config(spec: TinySpec, tokenizer: Any) -> Any:
    from transformers import InternVLConfig

    side = _tile(spec)
    return InternVLConfig(
        vision_config={
            "hidden_size": spec.vision_hidden_size,
            "intermediate_size": 2 * spec.vision_hidden_size,
            "num_hidden_layers": spec.vision_depth,
            "num_attention_heads": spec.vision_heads,
            "image_size": [side, side],
            "patch_size": [PATCH, PATCH],
        },
        text_config={"model_type": "qwen2", **decoder_sizes(spec, tokenizer)},
        image_token_id=tokenizer.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=_tokens_per_tile(spec),
        downsample_ratio=DOWNSAMPLE,
        tie_word_embeddings=True,
    )


def _processor(spec: TinySpec, tokenizer: Any, chat_template: str) -> Any:
    from transformers import GotOcr2ImageProcessor, InternVLProcessor, InternVLVideoProcessor

    size = {"height": _tile(spec), "width": _tile(spec)}
    return InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(size=size, max_patches=1),
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(size=size),
        image_seq_length=_tokens_per_tile(spec),
        chat_template=chat_template,
    )


INTERNVL = TinyArchitecture(
    name="internvl",
    title="InternVL3",
    tokens=INTERNVL_TOKENS,
    template=ChatTemplate(
        "chat_template_chatml.jinja", {"image_placeholder": "<IMG_CONTEXT>\n", "default_system": ""}
    ),
    config=_config,
    processor=_processor,
)
