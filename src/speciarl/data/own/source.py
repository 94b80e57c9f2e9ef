"""What every kind of user source produces: labelled items, then splits of samples with ids.

Each source only finds its items (an image reader, a raw class id, a cleaned label, where it
came from, and its split if the source has splits); turning them into samples, splitting them
when the source has no splits, and describing what was found is done here once, so sample ids
are formed the same way for every source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from speciarl.data.errors import DatasetError
from speciarl.data.own.labels import SEEDED_SPLITS, seeded_split
from speciarl.data.own.reference import Options
from speciarl.data.sample import Sample


@dataclass(frozen=True, slots=True)
class Item:
    """One image of a user source, before it has an index."""

    class_id: str
    label: str
    read: Callable[[], bytes]
    origin: str
    split: str | None = None
    """The source's own split; ``None`` when the source has none (then it is split by seed)."""


@dataclass(frozen=True)
class OwnDataset:
    """A user source, loaded: its samples by split and a description of what was found."""

    name: str
    reference: str
    samples: Mapping[str, list[Sample]]
    layout: str
    clean_label: Callable[[str], str]
    shipped: str | None = None
    """The shipped dataset a built Parquet file holds (its hierarchy applies), else ``None``."""
    _class_ids: tuple[str, ...] = field(default=(), repr=False)

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.samples)

    def load(self, split: str) -> list[Sample]:
        """A fresh list: callers may sort or cut it."""
        return list(self.samples[split])

    def class_ids(self) -> list[str]:
        """The raw class ids, sorted (user data has no official order)."""
        return list(self._class_ids)


def make_dataset(
    name: str,
    reference: str,
    description: str,
    samples: Mapping[str, list[Sample]],
    *,
    fallback_clean: Callable[[str], str],
    notes: Sequence[str] = (),
    shipped: str | None = None,
) -> OwnDataset:
    """The dataset of ready samples, with its layout text and a ``clean_label`` that gives the
    label seen for a class id (``fallback_clean`` for one never seen)."""
    seen: dict[str, str] = {}
    for split_samples in samples.values():
        for sample in split_samples:
            seen.setdefault(sample.class_id, sample.label)

    def clean_label(class_id: str) -> str:
        return seen[class_id] if class_id in seen else fallback_clean(class_id)

    counts = "; ".join(
        f"{split}: {len(chosen)} images of {len({s.class_id for s in chosen})} classes"
        for split, chosen in samples.items()
    )
    layout = ". ".join([f"{description}; {counts}", *notes])
    return OwnDataset(
        name, reference, dict(samples), layout, clean_label, shipped, tuple(sorted(seen))
    )


def split_items(
    name: str, items: Sequence[Item], options: Options, reference: str
) -> tuple[dict[str, list[Sample]], str]:
    """Samples by split, and a note on how they were split.

    With the source's own splits each split keeps the source order; without, the seeded split
    (``train``/``test``/``all``). Either way ``index`` is the position within the split, so the
    sample id is ``name/split/index``.
    """
    if not items:
        raise DatasetError(f"{reference}: no images found")
    with_split = [item.split is not None for item in items]
    if any(with_split) and not all(with_split):
        raise DatasetError(f"{reference}: some items have a split and some do not")
    if all(with_split):
        options.refuse(("test_fraction", "seed"), "the source has its own splits", reference)
        grouped: dict[str, list[Item]] = {}
        for item in items:
            grouped.setdefault(item.split, []).append(item)  # type: ignore[arg-type]
        note = "its own splits"
    else:
        positions = seeded_split(
            [item.class_id for item in items],
            test_fraction=options.test_fraction,
            seed=options.seed,
        )
        grouped = {split: [items[p] for p in positions[split]] for split in SEEDED_SPLITS}
        note = (
            f"seeded split (test_fraction={options.test_fraction:g}, seed={options.seed}; "
            "'all' holds every image)"
        )
    samples = {
        split: [
            Sample(name, split, index, item.label, item.class_id, item.read, item.origin)
            for index, item in enumerate(chosen)
        ]
        for split, chosen in grouped.items()
    }
    return samples, note


def ignored_note(ignored: Sequence[str], what: str = "non-image files") -> list[str]:
    """A note naming what was skipped, so that nothing is left out silently."""
    if not ignored:
        return []
    shown = ", ".join(ignored[:3]) + (", ..." if len(ignored) > 3 else "")
    return [f"ignored {len(ignored)} {what} ({shown})"]
