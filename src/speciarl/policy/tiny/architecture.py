"""What a tiny architecture is made of: its tokens, its chat template, its config and processor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from speciarl.policy.tiny.spec import TinySpec
from speciarl.policy.tiny.tokenizer import ChatTemplate, TokenSet


@dataclass(frozen=True)
class TinyArchitecture:
    """One ``--arch`` of ``speciarl tiny-model``: everything that differs between architectures.

    ``config`` and ``processor`` receive the trained tokenizer, for the token ids the model
    config holds and for the tokenizer the processor wraps.
    """

    name: str
    """The ``--arch`` name, e.g. ``qwen2.5-vl``."""
    title: str
    """The architecture as its authors name it, for messages and help."""
    tokens: TokenSet
    template: ChatTemplate
    config: Callable[[TinySpec, Any], Any]
    processor: Callable[[TinySpec, Any, str], Any]
    """(spec, tokenizer, chat template) -> the architecture's own processor class."""


def decoder_sizes(spec: TinySpec, tokenizer: Any) -> dict[str, Any]:
    """The language model's sizes and token ids in the keys every decoder config shares."""
    bos = tokenizer.bos_token_id
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "max_position_embeddings": 4096,
        "bos_token_id": tokenizer.pad_token_id if bos is None else bos,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


def siglip_vision(spec: TinySpec, image_size: int, patch_size: int = 14) -> dict[str, Any]:
    """A SigLIP vision tower's config (Gemma 3, LLaVA-OneVision) for ``image_size``-px tiles,
    without the pooling head: both models read the patch features, as their checkpoints do."""
    return {
        "model_type": "siglip_vision_model",
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": 2 * spec.vision_hidden_size,
        "num_hidden_layers": spec.vision_depth,
        "num_attention_heads": spec.vision_heads,
        "image_size": image_size,
        "patch_size": patch_size,
        "vision_use_head": False,
    }
