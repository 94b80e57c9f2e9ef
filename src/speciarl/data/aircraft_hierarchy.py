"""Build an FGVC-Aircraft label hierarchy from the dataset's own annotation files.

FGVC-Aircraft labels every image at three levels, one file per level and split
(``images_variant_<split>.txt``, ``images_family_<split>.txt``,
``images_manufacturer_<split>.txt``; each line ``<image id> <name with spaces>``). Joining them
by image id gives the dataset's own variant -> family -> manufacturer mapping, which
:func:`hierarchy_from_fgvc_root` turns into a mapping accepted by
:meth:`speciarl.judges.Hierarchy.from_dict`:

    aircraft (broad) -> manufacturer (broad) -> family (close) -> variant

The files are validated strictly: every image must carry all three labels, every variant must
belong to exactly one family and every family to exactly one manufacturer, and no two variants
may share a name key. A family with a single variant of the same name is not a separate node;
a family named like one of the variants (the dataset's "A320" holds the A318 to A321) becomes
"<family> family", so that every variant name keeps one meaning.

The curated file ``data/hierarchies/fgvc_aircraft.yaml`` starts from the same mapping and adds
synonyms and a few certain groupings; this function gives the plain mapping, for checking that
file against a copy of the dataset or for use without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from speciarl.answer import name_key
from speciarl.data.annotations import find_root, read_id_value_lines
from speciarl.data.errors import DatasetError

DATASET = "fgvc_aircraft"
LEVELS = ("variant", "family", "manufacturer")
SPLITS = ("train", "val", "trainval", "test")
"""Split files read when present; ``trainval`` and ``test`` together cover every image."""

ROOT_NAME = "aircraft"
ROOT_SYNONYMS = ("airplane", "aeroplane", "plane")


class AircraftHierarchyError(DatasetError):
    """Annotation files that do not describe one variant -> family -> manufacturer tree."""


def hierarchy_from_fgvc_root(data_dir: Path) -> dict[str, Any]:
    """The dataset's own label hierarchy, as a mapping for ``Hierarchy.from_dict``.

    ``data_dir`` is the archive's ``data`` folder, the ``fgvc-aircraft-2013b`` folder above it,
    or the folder the archive was extracted into. Raises :class:`AircraftHierarchyError` when
    the files are missing, malformed or contradict each other.
    """
    folder = _data_folder(Path(data_dir))
    labels = _read_labels(folder)
    variant_family = _functional(
        ((row[0], row[1], image) for image, row in labels.items()), "variant", "families"
    )
    family_manufacturer = _functional(
        ((row[1], row[2], image) for image, row in labels.items()), "family", "manufacturers"
    )
    order = _variant_order(folder, variant_family)
    _check_distinct_keys(order)
    return {
        "name": DATASET,
        "closed_world": False,
        "roots": [
            {
                "name": ROOT_NAME,
                "rank": "broad",
                "synonyms": list(ROOT_SYNONYMS),
                "children": _manufacturer_nodes(order, variant_family, family_manufacturer),
            }
        ],
    }


def _data_folder(data_dir: Path) -> Path:
    try:
        return find_root(
            data_dir, "images_variant_test.txt", ("data", "fgvc-aircraft-2013b/data"), DATASET
        )
    except DatasetError as error:
        raise AircraftHierarchyError(str(error)) from None


def _read_labels(folder: Path) -> dict[str, tuple[str, str, str]]:
    """Image id -> (variant, family, manufacturer) over every split found in ``folder``."""
    labels: dict[str, tuple[str, str, str]] = {}
    found = [split for split in SPLITS if (folder / f"images_variant_{split}.txt").is_file()]
    for split in found:
        per_level = []
        for level in LEVELS:
            path = folder / f"images_{level}_{split}.txt"
            if not path.is_file():
                raise AircraftHierarchyError(
                    f"{DATASET}: {path.name} is missing but images_variant_{split}.txt is there"
                )
            per_level.append(_read_level(path))
        ids = set(per_level[0])
        for level, rows in zip(LEVELS[1:], per_level[1:], strict=True):
            if set(rows) != ids:
                example = sorted(ids.symmetric_difference(rows))[0]
                raise AircraftHierarchyError(
                    f"{DATASET}: split {split!r}: images_variant_{split}.txt and "
                    f"images_{level}_{split}.txt list different images (for example {example})"
                )
        for image in sorted(ids):
            row = (per_level[0][image], per_level[1][image], per_level[2][image])
            if labels.setdefault(image, row) != row:
                raise AircraftHierarchyError(
                    f"{DATASET}: image {image} is labelled {labels[image]} in one split file "
                    f"and {row} in split {split!r}"
                )
    if not labels:
        raise AircraftHierarchyError(f"{DATASET}: no labelled images in {folder}")
    return labels


def _read_level(path: Path) -> dict[str, str]:
    try:
        pairs = read_id_value_lines(path, DATASET)
    except DatasetError as error:
        raise AircraftHierarchyError(str(error)) from None
    rows: dict[str, str] = {}
    for image, value in pairs:
        name = " ".join(value.split())
        if rows.setdefault(image, name) != name:
            raise AircraftHierarchyError(
                f"{DATASET}: {path}: image {image} is listed twice, as {rows[image]!r} and {name!r}"
            )
    return rows


def _functional(
    triples: Iterable[tuple[str, str, str]], child: str, parents_word: str
) -> dict[str, str]:
    """``child name -> parent name`` from (child, parent, image) triples; one parent per child."""
    seen: dict[str, dict[str, str]] = {}
    for name, parent_name, image in triples:
        seen.setdefault(name, {}).setdefault(parent_name, image)
    mapping = {}
    for name, parents in seen.items():
        if len(parents) != 1:
            shown = ", ".join(
                f"{other!r} (image {image})" for other, image in sorted(parents.items())
            )
            raise AircraftHierarchyError(
                f"{DATASET}: {child} {name!r} belongs to {len(parents)} {parents_word}: "
                f"{shown}; each {child} must have exactly one"
            )
        [mapping[name]] = parents
    return mapping


def _variant_order(folder: Path, variant_family: dict[str, str]) -> list[str]:
    """The variants in the order of ``variants.txt`` where it lists them, the rest sorted."""
    listed: list[str] = []
    path = folder / "variants.txt"
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            name = " ".join(line.split())
            if name in variant_family and name not in listed:
                listed.append(name)
    return listed + sorted(set(variant_family) - set(listed))


def _check_distinct_keys(variants: list[str]) -> None:
    by_key: dict[str, str] = {}
    for variant in variants:
        other = by_key.setdefault(name_key(variant), variant)
        if other != variant:
            raise AircraftHierarchyError(
                f"{DATASET}: variants {other!r} and {variant!r} have the same name key "
                f"{name_key(variant)!r}; a judge could not tell them apart"
            )


def _manufacturer_nodes(
    variants: list[str], variant_family: dict[str, str], family_manufacturer: dict[str, str]
) -> list[dict[str, Any]]:
    members: dict[str, list[str]] = {}
    for variant in variants:
        members.setdefault(variant_family[variant], []).append(variant)
    variant_keys = {name_key(variant) for variant in variants}
    manufacturer_keys = {name_key(name): name for name in family_manufacturer.values()}
    for key, manufacturer in manufacturer_keys.items():
        if key in variant_keys:
            raise AircraftHierarchyError(
                f"{DATASET}: manufacturer {manufacturer!r} has the name of a variant"
            )

    families_of: dict[str, list[str]] = {}
    for family in sorted(members, key=_sort_key):
        families_of.setdefault(family_manufacturer[family], []).append(family)
    nodes = []
    for manufacturer in sorted(families_of, key=_sort_key):
        children = [
            _family_node(family, members[family], variant_keys, manufacturer_keys)
            for family in families_of[manufacturer]
        ]
        nodes.append({"name": manufacturer, "rank": "broad", "children": children})
    return nodes


def _family_node(
    family: str,
    variants: list[str],
    variant_keys: set[str],
    manufacturer_keys: dict[str, str],
) -> dict[str, Any]:
    if len(variants) == 1 and name_key(variants[0]) == name_key(family):
        return {"name": variants[0]}
    name = family
    if name_key(name) in variant_keys or name_key(name) in manufacturer_keys:
        name = f"{family} family"
        if name_key(name) in variant_keys or name_key(name) in manufacturer_keys:
            raise AircraftHierarchyError(
                f"{DATASET}: cannot name family {family!r} apart from the variants and makers"
            )
    return {"name": name, "rank": "close", "children": [{"name": v} for v in variants]}


def _sort_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)
