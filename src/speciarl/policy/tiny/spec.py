"""The sizes of a tiny model, whatever its architecture."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TinySpec:
    """Sizes of the tiny model; the defaults give 0.25 to 0.5 M parameters, by architecture.

    Every architecture reads the same fields, so ``--size`` means the same thing for each; an
    architecture maps ``image_pixels`` onto its own image geometry (tile, crop or pixel budget).
    """

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
    """Images are resized to at most this many pixels a side (Qwen2.5-VL: 112 px -> 16 tokens)."""
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

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.heads


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
