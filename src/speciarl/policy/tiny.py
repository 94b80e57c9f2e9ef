"""A tiny, randomly initialised Qwen2.5-VL built on this machine: no download, same architecture.

Tests and CPU demos need a policy that the real code path (``from_pretrained``, TRL, PEFT) can
load, yet the Hub is out of reach. This builds the three parts a checkpoint folder holds: a
model config and weights, a byte-level BPE tokenizer trained locally that carries Qwen's special
tokens and chat template, and the Qwen2.5-VL processor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

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
FORMAT_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")
"""Added as ordinary tokens, so decoding with ``skip_special_tokens`` keeps them in the text."""


@dataclass(frozen=True)
class TinySpec:
    """Sizes of the tiny model; the defaults give about 0.3 M parameters."""

    hidden_size: int = 64
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate_size: int = 128
    vision_hidden_size: int = 64
    vision_depth: int = 2
    vision_heads: int = 4
    vocab_size: int = 1024
    image_pixels: int = 112
    """Images are resized to at most this many pixels a side (112 px -> 16 image tokens)."""
    seed: int = 0

    def __post_init__(self) -> None:
        head_dim = self.hidden_size // self.heads
        if self.hidden_size % self.heads or head_dim % 4:
            raise ValueError(
                f"hidden_size {self.hidden_size} must split into {self.heads} heads whose size is "
                "a multiple of 4 (multimodal rotary sections)"
            )
        if self.heads % self.kv_heads:
            raise ValueError(f"heads {self.heads} must be a multiple of kv_heads {self.kv_heads}")


SPECS = {
    "tiny": TinySpec(),
    "small": TinySpec(
        hidden_size=256,
        layers=4,
        heads=4,
        kv_heads=2,
        intermediate_size=512,
        vision_hidden_size=128,
        vision_depth=4,
        vision_heads=4,
        vocab_size=2048,
    ),
    "medium": TinySpec(
        hidden_size=1024,
        layers=8,
        heads=16,
        kv_heads=4,
        intermediate_size=2816,
        vision_hidden_size=512,
        vision_depth=8,
        vision_heads=8,
        vocab_size=4096,
        image_pixels=224,
    ),
}


def build_tiny_model(
    out_dir: Path, spec: TinySpec = SPECS["tiny"], corpus: Iterable[str] = ()
) -> Path:
    """Write a loadable Qwen2.5-VL checkpoint (model, tokenizer, processor) to ``out_dir``."""
    import torch
    from transformers import (
        AutoProcessor,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
    )

    tokenizer = _train_tokenizer(spec, corpus)
    config = Qwen2_5_VLConfig(
        text_config={
            **_text_config(spec, len(tokenizer)),
            "bos_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config=_vision_config(spec),
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )
    torch.manual_seed(spec.seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    processor = _processor(spec, tokenizer)
    processor.save_pretrained(out_dir)
    AutoProcessor.from_pretrained(out_dir)  # fail here, not in a trainer, if it cannot load
    return out_dir


def _text_config(spec: TinySpec, vocab_size: int) -> dict[str, object]:
    head_dim = spec.hidden_size // spec.heads
    quarter = head_dim // 4
    return {
        "vocab_size": vocab_size,
        "hidden_size": spec.hidden_size,
        "intermediate_size": spec.intermediate_size,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "num_key_value_heads": spec.kv_heads,
        "max_position_embeddings": 4096,
        "max_window_layers": spec.layers,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [head_dim // 2 - 2 * quarter, quarter, quarter],
        },
    }


def _vision_config(spec: TinySpec) -> dict[str, object]:
    return {
        "depth": spec.vision_depth,
        "hidden_size": spec.vision_hidden_size,
        "intermediate_size": 2 * spec.vision_hidden_size,
        "num_heads": spec.vision_heads,
        "out_hidden_size": spec.hidden_size,
        "fullatt_block_indexes": [spec.vision_depth - 1],
        "window_size": 112,
        "patch_size": 14,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }


def _train_tokenizer(spec: TinySpec, corpus: Iterable[str]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        special_tokens=list(QWEN_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([*default_corpus(), *corpus], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
    )
    tokenizer.add_tokens(list(FORMAT_TOKENS))
    tokenizer.chat_template = chat_template()
    return tokenizer


def _processor(spec: TinySpec, tokenizer: object) -> Any:
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    pixels = spec.image_pixels
    image_processor = Qwen2VLImageProcessor(
        min_pixels=56 * 56, max_pixels=pixels * pixels, patch_size=14, merge_size=2
    )
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=chat_template(),
    )


def chat_template() -> str:
    """Qwen2-VL's chat format: system, user with image placeholders, assistant."""
    return (files("speciarl") / "policy" / "chat_template.jinja").read_text(encoding="utf-8")


def default_corpus() -> list[str]:
    """Text the tokenizer learns from: prompts, every shipped class name, answer formats."""
    from speciarl.data.registry import REGISTRY
    from speciarl.prompts import load_prompt, prompt_names

    lines = [load_prompt(name).text for name in prompt_names()]
    for spec in REGISTRY.values():
        for class_id in spec.class_ids():
            label = spec.clean_label(class_id)
            lines.append(label)
            lines.append(f"<think>it looks like a {label}</think><answer>{label}</answer>")
    lines.append("<think>I cannot tell what this is</think><answer>None</answer>")
    return lines
