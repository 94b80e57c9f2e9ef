"""Tiny Gemma 3: a SigLIP tower pooled to a fixed number of soft tokens per image.

Gemma 3's processor turns each ``<start_of_image>`` of the prompt into ``<start_of_image>``, a
fixed run of ``<image_soft_token>`` and ``<end_of_image>``; the projector average-pools the
tower's patch grid down to that many tokens, so the run's length is set in both the config
(``mm_tokens_per_image``) and the processor (``image_seq_length``).
"""

from __future__ import annotations

from typing import Any

from speciarl.policy.tiny.architecture import TinyArchitecture, decoder_sizes, siglip_vision
from speciarl.policy.tiny.spec import TinySpec
from speciarl.policy.tiny.tokenizer import ChatTemplate, TokenSet

GEMMA3_TOKENS = TokenSet(
    special=(
        "<pad>",
        "<eos>",
        "<bos>",
        "<start_of_turn>",
        "<end_of_turn>",
        "<start_of_image>",
        "<end_of_image>",
        "<image_soft_token>",
    ),
    eos="<end_of_turn>",
    pad="<pad>",
    bos="<bos>",
    named={
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
        "image_token": "<image_soft_token>",
    },
)
TOKENS_PER_SIDE = 4
"""The projector pools each image to 4 x 4 = 16 soft tokens (the real model: 16 x 16)."""
PATCH = 14


def _config(spec: TinySpec, tokenizer: Any) -> Any:
    from transformers import Gemma3Config

    ids = tokenizer.convert_tokens_to_ids
    layer_types = ["sliding_attention"] * (spec.layers - 1) + ["full_attention"]
    return Gemma3Config(
        text_config={
            **decoder_sizes(spec, tokenizer),
            "head_dim": spec.head_dim,
            "query_pre_attn_scalar": spec.head_dim,
            "sliding_window": 512,
            "layer_types": layer_types,
        },
        vision_config=siglip_vision(spec, _tile(spec), PATCH),
        mm_tokens_per_image=TOKENS_PER_SIDE**2,
        boi_token_index=ids("<start_of_image>"),
        eoi_token_index=ids("<end_of_image>"),
        image_token_index=ids("<image_soft_token>"),
        tie_word_embeddings=True,
    )


def _tile(spec: TinySpec) -> int:
    """The square image side the tower sees: ``image_pixels`` rounded to whole pooling windows."""
    window = TOKENS_PER_SIDE * PATCH
    return max(window, spec.image_pixels // window * window)


def _processor(spec: TinySpec, tokenizer: Any, chat_template: str) -> Any:
    from transformers import Gemma3ImageProcessor, Gemma3Processor

    side = _tile(spec)
    return Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": side, "width": side}),
        tokenizer=tokenizer,
        chat_template=chat_template,
        image_seq_length=TOKENS_PER_SIDE**2,
    )


GEMMA3 = TinyArchitecture(
    name="gemma3",
    title="Gemma 3",
    tokens=GEMMA3_TOKENS,
    template=ChatTemplate("chat_template_gemma3.jinja"),
    config=_config,
    processor=_processor,
)
