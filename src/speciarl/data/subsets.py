"""Seeded subsets and mixtures of samples, e.g. 3,000 CUB images or 500 from each of six sets."""

from __future__ import annotations

import random
from collections.abc import Sequence

from speciarl.data.errors import DatasetError
from speciarl.data.sample import Sample


def take_subset(
    samples: Sequence[Sample], size: int, *, seed: int = 0, balanced: bool = False
) -> list[Sample]:
    """``size`` samples drawn without replacement, in their original order.

    With ``balanced``, classes are drawn from in turn (each class shuffled by the seed), so every
    class gets ``size // classes`` samples or one more, as far as it has them.
    """
    if size < 1:
        raise DatasetError(f"a subset needs a positive size, got {size}")
    if size > len(samples):
        raise DatasetError(f"asked for a subset of {size} but the split has {len(samples)} samples")
    rng = random.Random(seed)
    if balanced:
        chosen = _balanced_draw(samples, size, rng)
    else:
        chosen = rng.sample(range(len(samples)), size)
    return [samples[position] for position in sorted(chosen)]


def _balanced_draw(samples: Sequence[Sample], size: int, rng: random.Random) -> list[int]:
    by_class: dict[str, list[int]] = {}
    for position, sample in enumerate(samples):
        by_class.setdefault(sample.class_id, []).append(position)
    queues = [by_class[name] for name in sorted(by_class)]
    for queue in queues:
        rng.shuffle(queue)
    rng.shuffle(queues)
    chosen: list[int] = []
    while len(chosen) < size:
        for queue in queues:
            if queue and len(chosen) < size:
                chosen.append(queue.pop())
    return chosen


def mix(parts: Sequence[tuple[Sequence[Sample], int]], *, seed: int = 0) -> list[Sample]:
    """A mixed set: a seeded subset of each part, concatenated in the order given."""
    mixed: list[Sample] = []
    for offset, (samples, size) in enumerate(parts):
        mixed.extend(take_subset(samples, size, seed=seed + offset))
    return mixed
