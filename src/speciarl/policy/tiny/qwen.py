"""Tiny Qwen2.5-VL and Qwen3-VL: one token set and turn format, two vision towers.

Both cut images into patches merged 2 x 2 into one token (14-px patches for Qwen2.5-VL, 16-px for
Qwen3-VL) and place them with multimodal rotary positions (time, height, width sections).
"""

from __future__ import annotations

from typing import Any

from speciarl.policy.tiny.architecture import TinyArchitecture, decoder_sizes
from speciarl.policy.tiny.spec import TinySpec
from speciarl.policy.tiny.tokenizer import ChatTemplate, TokenSet

QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
QWEN_TOKENS = TokenSet(special=QWEN_SPECIAL_TOKENS, eos="<|im_end|>", pad="<|endoftext|>")
QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
"""An image in a Qwen prompt; the processor repeats ``<|image_pad|>`` once per image token."""
MERGE = 2
"""Patches merged per side into one image token."""


def _token_ids(tokenizer: Any) -> dict[str, int]:
    ids = tokenizer.convert_tokens_to_ids
    return {
        "image_token_id": ids("<|image_pad|>"),
        "video_token_id": ids("<|video_pad|>"),
        "vision_start_token_id": ids("<|vision_start|>"),
        "vision_end_token_id": ids("<|vision_end|>"),
    }


def _text_config(spec: TinySpec, tokenizer: Any) -> dict[str, Any]:
    quarter = spec.head_dim // 4
    sections = [spec.head_dim // 2 - 2 * quarter, quarter, quarter]  # time, height, width
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": sections}
    return {**decoder_sizes(spec, tokenizer), "rope_parameters": rope}


def _vision_config(spec: TinySpec, patch_size: int) -> dict[str, Any]:
    """The vision-tower sizes both Qwen generations share; each adds its own keys."""
    return {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": 2 * spec.vision_hidden_size,
        "num_heads": spec.vision_heads,
        "out_hidden_size": spec.hidden_size,
        "patch_size": patch_size,
        "spatial_merge_size": MERGE,
        "temporal_patch_size": 2,
    }


def _qwen2_5_config(spec: TinySpec, tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLConfig

    text = _text_config(spec, tokenizer)
    return Qwen2_5_VLConfig(
        text_config={**text, "max_window_layers": spec.layers},
        vision_config={
            **_vision_config(spec, patch_size=14),
            "fullatt_block_indexes": [spec.vision_depth - 1],
            "window_size": 112,
        },
        **_token_ids(tokenizer),
        tie_word_embeddings=True,
    )


def _qwen3_config(spec: TinySpec, tokenizer: Any) -> Any:
    from transformers import Qwen3VLConfig

    text = _text_config(spec, tokenizer)
    # Qwen3-VL interleaves the sections: height and width take every third frequency.
    text["rope_parameters"]["mrope_interleaved"] = True
    grid = spec.image_pixels // 16
    return Qwen3VLConfig(
        text_config={**text, "head_dim": spec.head_dim},
        vision_config={
            **_vision_config(spec, patch_size=16),
            "num_position_embeddings": grid * grid,
            "deepstack_visual_indexes": [0],
        },
        **_token_ids(tokenizer),
        tie_word_embeddings=True,
    )


def _processor(patch_size: int, processor_class: str, video_processor_class: str) -> Any:
    """A builder of the Qwen processor ``processor_class`` for ``patch_size``-px patches."""

    def build(spec: TinySpec, tokenizer: Any, chat_template: str) -> Any:
        import transformers
        from transformers import Qwen2VLImageProcessor

        step = patch_size * MERGE
        image_processor = Qwen2VLImageProcessor(
            min_pixels=(2 * step) ** 2,
            max_pixels=spec.image_pixels**2,
            patch_size=patch_size,
            merge_size=MERGE,
        )
        video_processor = getattr(transformers, video_processor_class)(
            patch_size=patch_size, merge_size=MERGE
        )
        return getattr(transformers, processor_class)(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=video_processor,
            chat_template=chat_template,
        )

    return build


QWEN2_5_VL = TinyArchitecture(
    name="qwen2.5-vl",
    title="Qwen2.5-VL",
    tokens=QWEN_TOKENS,
    template=ChatTemplate(
        "chat_template_chatml.jinja",
        {"image_placeholder": QWEN_IMAGE, "default_system": "You are a helpful assistant."},
    ),
    config=_qwen2_5_config,
    processor=_processor(14, "Qwen2_5_VLProcessor", "Qwen2VLVideoProcessor"),
)
QWEN3_VL = TinyArchitecture(
    name="qwen3-vl",
    title="Qwen3-VL",
    tokens=QWEN_TOKENS,
    template=ChatTemplate(
        "chat_template_chatml.jinja", {"image_placeholder": QWEN_IMAGE, "default_system": ""}
    ),
    config=_qwen3_config,
    processor=_processor(16, "Qwen3VLProcessor", "Qwen3VLVideoProcessor"),
)
