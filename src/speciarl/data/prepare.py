"""What the data commands do, as library calls: pick samples, then build or draw them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from speciarl.data.errors import DatasetError
from speciarl.data.registry import DatasetSpec, get_dataset
from speciarl.data.sample import Sample
from speciarl.data.subsets import mix, take_subset


@dataclass(frozen=True, slots=True)
class PartRequest:
    """``REF:SPLIT:COUNT`` of a mixed set; ``REF`` is a dataset reference and may itself hold
    colons (``hub:someone/birds:train:500``), so the last two fields are split off."""

    dataset: str
    split: str
    count: int

    @classmethod
    def parse(cls, text: str) -> PartRequest:
        pieces = text.rsplit(":", 2)
        if len(pieces) != 3 or not all(pieces) or not pieces[2].isdigit():
            raise DatasetError(f"a mixed-set part is NAME:SPLIT:COUNT, got {text!r}")
        return cls(pieces[0], pieces[1], int(pieces[2]))


def select_samples(
    name: str | DatasetSpec,
    split: str,
    *,
    root: Path | None = None,
    source: str = "local",
    hub_id: str | None = None,
    subset: int | None = None,
    balanced: bool = False,
    seed: int = 0,
) -> list[Sample]:
    """The samples of one split, or a seeded subset of them; ``name`` is a dataset reference,
    or its spec when the caller has resolved it already."""
    spec = get_dataset(name) if isinstance(name, str) else name
    samples = spec.load(split, root=root, source=source, hub_id=hub_id)
    if subset is None:
        return samples
    return take_subset(samples, subset, seed=seed, balanced=balanced)


def select_mixture(
    parts: Sequence[PartRequest], *, root: Path | None, source: str = "local", seed: int = 0
) -> list[Sample]:
    """A mixed set such as 500 training images from each of six datasets; ``root`` and
    ``source`` apply to the shipped parts (a user reference reads its own files)."""
    if not parts:
        raise DatasetError("a mixed set needs at least one part")
    loaded = [
        (get_dataset(part.dataset).load_shared(part.split, root=root, source=source), part.count)
        for part in parts
    ]
    return mix(loaded, seed=seed)
