"""The benchmarks speciarl knows, and one entry point to load any dataset: :func:`get_dataset`.

Each shipped dataset has a local loader for its official archive layout, optionally a public
Hub copy, its label-cleaning rule and its label hierarchy file. Anything else a user names (a
folder, a CSV/JSONL/Parquet file, ``hub:ID``; the grammar is in :mod:`speciarl.data.own`) gets a
spec built on the fly, so every command takes either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from speciarl.data import cub200, fgvc_aircraft, stanford_cars, synthetic
from speciarl.data.aircraft_hierarchy import hierarchy_from_fgvc_root
from speciarl.data.archives import Download
from speciarl.data.coop import CALTECH101, FLOWERS102, FOOD101, OXFORD_PETS, CoopDataset
from speciarl.data.errors import DatasetError
from speciarl.data.hub import load_hub_split
from speciarl.data.sample import Sample
from speciarl.judges.hierarchy import Hierarchy

FINE_GRAINED = "fine-grained"
VERY_FINE_GRAINED = "very fine-grained"
SOURCES = ("local", "hub")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to load one benchmark and judge answers about it."""

    name: str
    title: str
    splits: tuple[str, ...]
    load_local: Callable[[Path | None, str], list[Sample]]
    clean_label: Callable[[str], str]
    homepage: str = ""
    layout: str = ""
    downloads: tuple[Download, ...] = ()
    group: str | None = None
    """The paper's result group: fine-grained (Flowers, Food, Pets) or very fine-grained."""
    hub_id: str | None = None
    hub_splits: Mapping[str, str] = field(default_factory=dict)
    """Our split name -> the Hub copy's split name, where they differ."""
    needs_root: bool = True
    hierarchy_from_root: Callable[[Path], dict[str, object]] | None = None
    listed_class_ids: Callable[[], list[str]] | None = None
    """Where the class ids come from when not from ``data/classnames/<name>.txt``."""
    reference: str | None = None
    """The user's dataset reference as written; ``None`` for a shipped dataset."""

    def class_ids(self) -> list[str]:
        """The raw class ids of the dataset, in official order."""
        if self.listed_class_ids is not None:
            return self.listed_class_ids()
        resource = files("speciarl") / "data" / "classnames" / f"{self.name}.txt"
        if not resource.is_file():
            raise DatasetError(f"{self.name}: no class list is shipped")
        lines = resource.read_text(encoding="utf-8").splitlines()
        return [line for line in lines if line.strip()]

    def hierarchy(self, root: Path | None = None) -> Hierarchy:
        """The label hierarchy shipped for this dataset.

        With ``root``, a dataset that carries its own hierarchy (FGVC-Aircraft's family and
        manufacturer files) builds it from there instead.
        """
        if self.reference is not None and self.name not in REGISTRY:
            raise DatasetError(
                f"{self.name}: no label hierarchy ships with your own data; give one "
                "(judge.hierarchy in a recipe, --hierarchy for verify/eval; `speciarl hierarchy "
                "draft` writes a start)"
            )
        if root is not None and self.hierarchy_from_root is not None:
            return Hierarchy.from_dict(self.hierarchy_from_root(Path(root)), source=str(root))
        resource = files("speciarl") / "data" / "hierarchies" / f"{self.name}.yaml"
        if not resource.is_file():
            raise DatasetError(f"{self.name}: no label hierarchy is shipped")
        with as_file(resource) as path:
            return Hierarchy.load(path)

    def load(
        self,
        split: str,
        *,
        root: Path | None = None,
        source: str = "local",
        hub_id: str | None = None,
    ) -> list[Sample]:
        """The samples of ``split``, from a local root or from the Hub; never empty."""
        if split not in self.splits:
            raise DatasetError(
                f"{self.name}: unknown split {split!r}; choose one of {', '.join(self.splits)}"
            )
        if self.reference is not None:
            self._refuse_shipped_options(root=root, source=source, hub_id=hub_id)
        if source == "local":
            if self.needs_root and root is None:
                raise DatasetError(f"{self.name}: give the dataset root (--root DIR)")
            samples = self.load_local(root, split)
        elif source == "hub":
            copy = hub_id or self.hub_id
            if copy is None:
                raise DatasetError(f"{self.name}: no Hub copy is known; give --hub-id")
            samples = load_hub_split(
                self.name,
                copy,
                split,
                hub_split=self.hub_splits.get(split),
                clean_label=self.clean_label,
            )
        else:
            raise DatasetError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
        if not samples:
            raise DatasetError(f"{self.name}: split {split!r} is empty")
        return samples

    def _refuse_shipped_options(
        self, *, root: Path | None, source: str, hub_id: str | None
    ) -> None:
        """A user reference reads its own files: a root, the Hub source or a Hub copy would be
        ignored, and ignoring what the user asked for hides a mistake."""
        given = [
            option
            for option, is_given in (
                (f"root {root}", root is not None),
                (f"source {source!r}", source != "local"),
                (f"hub_id {hub_id}", hub_id is not None),
            )
            if is_given
        ]
        if given:
            raise DatasetError(
                f"{self.title}: {', '.join(given)} (--root, --source, --hub-id) apply to shipped "
                "datasets only; your own data is read from its reference"
            )

    def load_shared(self, split: str, *, root: Path | None, source: str) -> list[Sample]:
        """``split`` with a root and source given for several datasets at once (a mixed set,
        ``--datasets a,b``): they apply to the shipped ones, a user reference reads its own."""
        if self.reference is not None:
            return self.load(split)
        return self.load(split, root=root, source=source)


def _local(
    loader: Callable[[Path, str], list[Sample]],
) -> Callable[[Path | None, str], list[Sample]]:
    def load(root: Path | None, split: str) -> list[Sample]:
        assert root is not None
        return loader(Path(root), split)

    return load


def _layout_spec(module: Any, title: str, hub_id: str, **extra: Any) -> DatasetSpec:
    """A dataset whose module describes its official layout (NAME, SPLITS, load, ...)."""
    return DatasetSpec(
        name=module.NAME,
        title=title,
        splits=module.SPLITS,
        load_local=_local(module.load),
        clean_label=module.clean_label,
        homepage=module.HOMEPAGE,
        layout=module.LAYOUT,
        downloads=module.DOWNLOADS,
        hub_id=hub_id,
        **extra,
    )


def _coop_spec(
    dataset: CoopDataset, title: str, hub_id: str | None, **extra: object
) -> DatasetSpec:
    return DatasetSpec(
        name=dataset.name,
        title=title,
        splits=dataset.splits,
        load_local=_local(dataset.load),
        clean_label=dataset.clean_label,
        homepage=dataset.homepage,
        layout=dataset.layout,
        downloads=dataset.downloads,
        hub_id=hub_id,
        **extra,  # type: ignore[arg-type]
    )


REGISTRY: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        _layout_spec(cub200, "CUB-200-2011 birds", "Donghyun99/CUB-200-2011"),
        _layout_spec(
            fgvc_aircraft,
            "FGVC-Aircraft (variants)",
            "Donghyun99/FGVC-Aircraft",
            group=VERY_FINE_GRAINED,
            hierarchy_from_root=hierarchy_from_fgvc_root,
        ),
        _layout_spec(
            stanford_cars, "Stanford Cars", "tanganke/stanford_cars", group=VERY_FINE_GRAINED
        ),
        _coop_spec(
            FLOWERS102, "Oxford Flowers 102", "Donghyun99/Oxford-Flower-102", group=FINE_GRAINED
        ),
        _coop_spec(
            FOOD101,
            "Food-101",
            "ethz/food101",
            group=FINE_GRAINED,
            hub_splits={"test": "validation"},
        ),
        _coop_spec(
            OXFORD_PETS, "Oxford-IIIT Pets", "Donghyun99/Oxford-IIIT-Pet", group=FINE_GRAINED
        ),
        _coop_spec(CALTECH101, "Caltech-101", "Donghyun99/Caltech-101"),
        DatasetSpec(
            name=synthetic.NAME,
            title="Synthetic shapes (procedural, CPU-sized)",
            splits=synthetic.SPLITS,
            load_local=lambda _root, split: synthetic.load_split(split),
            clean_label=str,
            layout="generated from a seed; no files needed",
            needs_root=False,
            listed_class_ids=lambda: [s.name for s in synthetic.species(synthetic.DEFAULT_CONFIG)],
        ),
    )
}


def named_hierarchy(name_or_file: str) -> Hierarchy:
    """A dataset's shipped hierarchy, by the dataset's name, or a hierarchy file: what a
    recipe's ``judge.hierarchy`` names."""
    if name_or_file in REGISTRY:
        return REGISTRY[name_or_file].hierarchy()
    if not Path(name_or_file).is_file():
        raise DatasetError(
            f"{name_or_file}: neither a dataset ({', '.join(REGISTRY)}) nor a hierarchy file"
        )
    return Hierarchy.load(name_or_file)


def combined_hierarchy(names: list[str]) -> Hierarchy:
    """One forest holding the shipped hierarchies of several datasets, for mixed training sets.

    Names shared by two datasets become ambiguous, and the taxonomy judge takes the best reading.
    """
    import yaml

    roots: list[object] = []
    for name in dict.fromkeys(names):
        resource = files("speciarl") / "data" / "hierarchies" / f"{get_dataset(name).name}.yaml"
        if not resource.is_file():
            raise DatasetError(f"{name}: no label hierarchy is shipped")
        roots.extend(yaml.safe_load(resource.read_text(encoding="utf-8"))["roots"])
    return Hierarchy.from_dict({"name": "+".join(names), "roots": roots}, source="+".join(names))


def dataset_names() -> list[str]:
    return list(REGISTRY)


def get_dataset(reference: str) -> DatasetSpec:
    """The dataset a reference names: a shipped dataset by its name, else the user's own data
    (a path or ``hub:ID``, with ``?options``; see :mod:`speciarl.data.own`), read now.

    Each call reads a user reference afresh (its files may have changed since): it lists the
    files or table rows, not the images, so it costs about what a shipped loader's annotation
    files do.
    """
    if reference in REGISTRY:
        return REGISTRY[reference]
    from speciarl.data.own import resolve_reference

    own = resolve_reference(reference, tuple(REGISTRY))
    shipped = REGISTRY.get(own.shipped) if own.shipped is not None else None
    return DatasetSpec(
        name=own.name,
        title=own.reference,
        splits=own.splits,
        load_local=lambda _root, split: own.load(split),
        clean_label=shipped.clean_label if shipped is not None else own.clean_label,
        layout=own.layout,
        group=shipped.group if shipped is not None else None,
        needs_root=False,
        listed_class_ids=own.class_ids,
        reference=own.reference,
    )
