"""Build a tiny checkpoint folder of any supported architecture: no download, real classes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from speciarl.policy.tiny.architecture import TinyArchitecture
from speciarl.policy.tiny.gemma3 import GEMMA3
from speciarl.policy.tiny.internvl import INTERNVL
from speciarl.policy.tiny.llava_onevision import LLAVA_ONEVISION
from speciarl.policy.tiny.qwen import QWEN2_5_VL, QWEN3_VL
from speciarl.policy.tiny.smolvlm import SMOLVLM
from speciarl.policy.tiny.spec import SPECS, TinySpec
from speciarl.policy.tiny.tokenizer import train_tokenizer

ARCHITECTURES: dict[str, TinyArchitecture] = {
    arch.name: arch for arch in (QWEN2_5_VL, QWEN3_VL, GEMMA3, INTERNVL, LLAVA_ONEVISION, SMOLVLM)
}
"""Every ``--arch`` of ``speciarl tiny-model``; the first is the default."""
DEFAULT_ARCHITECTURE = QWEN2_5_VL.name


def build_tiny_model(
    out_dir: Path,
    spec: TinySpec = SPECS["tiny"],
    corpus: Iterable[str] = (),
    architecture: str = DEFAULT_ARCHITECTURE,
) -> Path:
    """Write a loadable checkpoint (model, tokenizer, processor) of ``architecture`` to
    ``out_dir``, randomly initialised; it loads with ``AutoModelForImageTextToText`` and
    ``AutoProcessor``, as training and prediction load any checkpoint."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    arch = tiny_architecture(architecture)
    template = arch.template.text()
    tokenizer = train_tokenizer(spec.vocab_size, arch.tokens, template, corpus)
    config = arch.config(spec, tokenizer)
    torch.manual_seed(spec.seed)
    model = AutoModelForImageTextToText.from_config(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    arch.processor(spec, tokenizer, template).save_pretrained(out_dir)
    AutoProcessor.from_pretrained(out_dir)  # fail here, not in a trainer, if it cannot load
    return out_dir


def tiny_architecture(name: str) -> TinyArchitecture:
    """The architecture called ``name``; a ValueError listing the known ones otherwise."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name]
