"""Supervised pre-training of a Qwen-VL vision tower (Qwen2.5-VL, Qwen3-VL) on visual attributes.

Real vision-language models start from a vision encoder that already sees; a tiny model built
from random weights does not, and learning to see through the language-model loss alone takes
far longer than a CPU demo can wait. This trains the vision tower (patch embedding, blocks and
merger) with one linear head per attribute (for the synthetic benchmark: shape, colour and
marking, never class names) on the tower's image tokens, then saves the whole checkpoint with
the heads dropped. The heads read each token after an RMS norm, as the language model's first
layer does: otherwise the tower may carry what it learns in the tokens' norms, or on top of a
large component shared by every image, both of which that norm erases.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from speciarl.echo import Echo

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class VisionPretraining:
    """Budget of the attribute pre-training."""

    steps: int = 80
    batch_size: int = 64
    learning_rate: float = 2e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")


def pretrain_vision(
    model_dir: Path,
    out_dir: Path,
    images: Sequence[bytes],
    attributes: Sequence[Sequence[int]],
    classes: Sequence[int],
    settings: VisionPretraining = VisionPretraining(),
    echo: Echo = print,
) -> list[float]:
    """Train the vision tower of ``model_dir`` to predict ``attributes`` from ``images``.

    ``attributes[i][k]`` is image ``i``'s value of attribute ``k``, in ``range(classes[k])``.
    Every image must give the same number of image tokens (same size after the processor).
    Writes the checkpoint to ``out_dir`` and returns each attribute's accuracy (in the order of
    ``classes``) on the training images over the last tenth of the steps.
    """
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from speciarl.policy.parts import policy_parts, submodule

    labels = _check_labels(images, attributes, classes)
    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    parts = policy_parts(model)
    visual = submodule(model, parts.vision_tower)
    pil = [Image.open(io.BytesIO(data)).convert("RGB") for data in images]
    batch = processor.image_processor(images=pil, return_tensors="pt")
    if "image_grid_thw" not in batch or not hasattr(visual, "spatial_merge_size"):
        raise ValueError(
            f"{model_dir}: vision pre-training needs a Qwen-VL-style vision tower (image grids, "
            f"merged patches); {parts.architecture}'s {type(visual).__name__} is not one"
        )
    grid = batch["image_grid_thw"]
    if not bool((grid == grid[0]).all()):
        raise ValueError("every image must give the same image grid; resize them to one size")
    patches = batch["pixel_values"].view(len(pil), int(grid[0].prod()), -1)
    tokens = int(grid[0].prod()) // visual.spatial_merge_size**2
    width = model.config.get_text_config().hidden_size
    torch.manual_seed(settings.seed)
    heads = torch.nn.ModuleList(torch.nn.Linear(tokens * width, k) for k in classes)
    optimizer = torch.optim.AdamW(
        [*visual.parameters(), *heads.parameters()], settings.learning_rate
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, settings.learning_rate, total_steps=settings.steps, pct_start=0.1
    )
    generator = torch.Generator().manual_seed(settings.seed)
    tail = max(1, settings.steps // 10)
    hits = torch.zeros(len(classes))
    seen = 0
    visual.train()
    for step in range(settings.steps):
        picked = torch.randint(len(pil), (min(settings.batch_size, len(pil)),), generator=generator)
        tokens_out = visual(patches[picked].flatten(0, 1), grid_thw=grid[picked]).pooler_output
        features = torch.nn.functional.rms_norm(tokens_out, (width,)).view(len(picked), -1)
        logits = [head(features) for head in heads]
        loss = sum(
            torch.nn.functional.cross_entropy(out, labels[picked, k])
            for k, out in enumerate(logits)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step >= settings.steps - tail:
            hits += torch.stack(
                [(out.argmax(-1) == labels[picked, k]).sum() for k, out in enumerate(logits)]
            )
            seen += len(picked)
        if (step + 1) % max(1, settings.steps // 4) == 0:
            echo(f"vision pre-training: step {step + 1}/{settings.steps}, loss {loss.item():.3f}")
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return (hits / seen).tolist()


def _check_labels(
    images: Sequence[bytes], attributes: Sequence[Sequence[int]], classes: Sequence[int]
) -> torch.Tensor:
    import torch

    if not images:
        raise ValueError("no images to pre-train on")
    if len(images) != len(attributes):
        raise ValueError(f"{len(images)} images but {len(attributes)} attribute rows")
    for index, row in enumerate(attributes):
        if len(row) != len(classes):
            raise ValueError(f"image {index} has {len(row)} attributes, expected {len(classes)}")
        for k, value in enumerate(row):
            if not 0 <= value < classes[k]:
                raise ValueError(
                    f"image {index}: attribute {k} is {value}, outside range({classes[k]})"
                )
    return torch.tensor([list(row) for row in attributes], dtype=torch.long)
