"""Tiny, randomly initialised vision-language models built on this machine: no download, the
real architectures.

Tests and CPU demos need a policy that the real code path (``from_pretrained``, TRL, PEFT) can
load, yet the Hub is out of reach. A builder writes the three parts a checkpoint folder holds: a
model config and weights, a byte-level BPE tokenizer trained locally that carries the
architecture's special tokens and a chat template in its format, and the architecture's own
processor. ``qwen2.5-vl`` (the paper's) is the default; see :data:`ARCHITECTURES` for the others.
"""

from speciarl.policy.tiny.build import (
    ARCHITECTURES,
    DEFAULT_ARCHITECTURE,
    build_tiny_model,
    tiny_architecture,
)
from speciarl.policy.tiny.spec import SPECS, TinySpec
from speciarl.policy.tiny.tokenizer import FORMAT_TOKENS, default_corpus

__all__ = [
    "ARCHITECTURES",
    "DEFAULT_ARCHITECTURE",
    "FORMAT_TOKENS",
    "SPECS",
    "TinySpec",
    "build_tiny_model",
    "default_corpus",
    "tiny_architecture",
]
