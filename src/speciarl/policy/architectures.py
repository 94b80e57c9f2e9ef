"""The published shapes of the Qwen2.5-VL checkpoints the paper's recipes train, without weights.

The Hub is out of reach here, yet the LoRA placement, the trainable-parameter count and the
memory a run needs all depend on the real architecture, not on the tiny test model. These values
are those of the Hub's ``config.json`` for ``Qwen/Qwen2.5-VL-3B-Instruct`` and
``Qwen/Qwen2.5-VL-7B-Instruct`` (checked against public copies of both files), written in
transformers 5's nested form: a ``text_config`` and a ``vision_config``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import Qwen2_5_VLConfig

_MROPE = {"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]}
"""Multimodal rotary sections (time, height, width) of the 128-wide heads: the Hub's
``rope_scaling: {type: mrope, mrope_section: [16, 24, 24]}`` with ``rope_theta`` 1e6."""

_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
    "hidden_act": "silu",
    "in_channels": 3,
}
"""The vision tower both sizes share; only its merger's output width follows the language model."""

_TEXT_COMMON = {
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-06,
    "hidden_act": "silu",
    "use_sliding_window": False,
    "sliding_window": 32768,
    "attention_dropout": 0.0,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}

_PUBLISHED: dict[str, dict[str, Any]] = {
    "qwen2.5-vl-3b": {
        "text": {
            "hidden_size": 2048,
            "intermediate_size": 11008,
            "num_hidden_layers": 36,
            "num_attention_heads": 16,
            "num_key_value_heads": 2,
            "vocab_size": 151936,
            "max_window_layers": 70,
        },
        "tie_word_embeddings": True,
    },
    "qwen2.5-vl-7b": {
        "text": {
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "vocab_size": 152064,
            "max_window_layers": 28,
        },
        "tie_word_embeddings": False,
    },
}

SHIPPED_ARCHITECTURES: tuple[str, ...] = tuple(_PUBLISHED)
"""Names ``shipped_config`` accepts, smallest first."""

SHIPPED_HUB_IDS = {
    "Qwen/Qwen2.5-VL-3B-Instruct": "qwen2.5-vl-3b",
    "Qwen/Qwen2.5-VL-7B-Instruct": "qwen2.5-vl-7b",
}
"""The Hub checkpoint each shipped architecture describes, for a machine without its config.json."""


def shipped_config(name: str) -> Qwen2_5_VLConfig:
    """The full configuration of a published Qwen2.5-VL size, ready for ``from_config``.

    Every call returns a new object, so callers may change it (a smaller vocabulary for a
    benchmark, say) without touching anyone else's copy.
    """
    from transformers import Qwen2_5_VLConfig

    if name not in _PUBLISHED:
        known = ", ".join(SHIPPED_ARCHITECTURES)
        raise ValueError(f"unknown architecture {name!r}; known: {known}")
    published = _PUBLISHED[name]
    text = {**_TEXT_COMMON, **published["text"], "rope_parameters": dict(_MROPE)}
    text["rope_parameters"]["mrope_section"] = list(_MROPE["mrope_section"])
    vision = {**_VISION, "out_hidden_size": text["hidden_size"]}
    vision["fullatt_block_indexes"] = list(_VISION["fullatt_block_indexes"])
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=151655,
        video_token_id=151656,
        vision_start_token_id=151652,
        vision_end_token_id=151653,
        tie_word_embeddings=published["tie_word_embeddings"],
    )
