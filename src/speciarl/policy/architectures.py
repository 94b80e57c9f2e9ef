"""The published shapes of the checkpoints the recipes train, without weights.

The Hub is out of reach here, yet the LoRA placement, the trainable-parameter count and the
memory a run needs all depend on the real architecture, not on the tiny test model. These values
are those of the Hub's ``config.json`` for ``Qwen/Qwen2.5-VL-3B-Instruct`` and
``Qwen/Qwen2.5-VL-7B-Instruct`` (checked against public copies of both files), and for
``Qwen/Qwen3-VL-8B-Instruct`` (its published sizes; every key name checked against transformers'
``Qwen3VLConfig``), written in transformers 5's nested form: a ``text_config`` and a
``vision_config``.
"""

from __future__ import annotations

from typing import Any

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

_QWEN3_VL_8B = {
    "text": {
        "hidden_size": 4096,
        "intermediate_size": 12288,
        "num_hidden_layers": 36,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "vocab_size": 151936,
        "max_position_embeddings": 262144,
        "rms_norm_eps": 1e-06,
        "hidden_act": "silu",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 5000000.0,
            "mrope_section": [24, 20, 20],
            "mrope_interleaved": True,
        },
    },
    "vision": {
        "depth": 27,
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_heads": 16,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        "out_hidden_size": 4096,
        "deepstack_visual_indexes": [8, 16, 24],
        "num_position_embeddings": 2304,
        "hidden_act": "gelu_pytorch_tanh",
        "in_channels": 3,
    },
}
"""Qwen3-VL-8B-Instruct: interleaved multimodal rotary sections [24, 20, 20] of the 128-wide heads
(transformers' Qwen3-VL text model always interleaves; ``mrope_interleaved`` is kept as the Hub
writes it), rope_theta 5e6, and deepstack features from vision blocks 8, 16 and 24."""

_PUBLISHED: dict[str, dict[str, Any]] = {
    "qwen2.5-vl-3b": {
        "family": "qwen2_5_vl",
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
        "family": "qwen2_5_vl",
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
    "qwen3-vl-8b": {"family": "qwen3_vl", **_QWEN3_VL_8B, "tie_word_embeddings": False},
}

SHIPPED_ARCHITECTURES: tuple[str, ...] = tuple(_PUBLISHED)
"""Names ``shipped_config`` accepts: the Qwen2.5-VL sizes, smallest first, then Qwen3-VL."""

SHIPPED_HUB_IDS = {
    "Qwen/Qwen2.5-VL-3B-Instruct": "qwen2.5-vl-3b",
    "Qwen/Qwen2.5-VL-7B-Instruct": "qwen2.5-vl-7b",
    "Qwen/Qwen3-VL-8B-Instruct": "qwen3-vl-8b",
}
"""The Hub checkpoint each shipped architecture describes, for a machine without its config.json."""

_TOKEN_IDS = {
    "image_token_id": 151655,
    "video_token_id": 151656,
    "vision_start_token_id": 151652,
    "vision_end_token_id": 151653,
}
"""Special-token ids Qwen2.5-VL and Qwen3-VL share."""


def shipped_config(name: str) -> Any:
    """The full configuration of a published size (a ``Qwen2_5_VLConfig`` or a
    ``Qwen3VLConfig``), ready for ``from_config``.

    Every call returns a new object, so callers may change it (a smaller vocabulary for a
    benchmark, say) without touching anyone else's copy.
    """
    import copy

    from transformers import Qwen2_5_VLConfig, Qwen3VLConfig

    if name not in _PUBLISHED:
        known = ", ".join(SHIPPED_ARCHITECTURES)
        raise ValueError(f"unknown architecture {name!r}; known: {known}")
    published = copy.deepcopy(_PUBLISHED[name])
    if published["family"] == "qwen3_vl":
        return Qwen3VLConfig(
            text_config=published["text"],
            vision_config=published["vision"],
            tie_word_embeddings=published["tie_word_embeddings"],
            **_TOKEN_IDS,
        )
    text = {**_TEXT_COMMON, **published["text"], "rope_parameters": copy.deepcopy(_MROPE)}
    vision = {**copy.deepcopy(_VISION), "out_hidden_size": text["hidden_size"]}
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=vision,
        tie_word_embeddings=published["tie_word_embeddings"],
        **_TOKEN_IDS,
    )
