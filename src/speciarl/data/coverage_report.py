"""The report of ``speciarl data coverage --dataset REF [--hierarchy FILE]``: how one dataset's
labels sit in one hierarchy, as text for a person or as JSON for a script."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from speciarl.data.coverage import LabelCoverage, hierarchy_coverage, label_coverage
from speciarl.data.errors import DatasetError
from speciarl.data.registry import REGISTRY, get_dataset, named_hierarchy


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """One dataset's labels against one hierarchy."""

    dataset: str
    hierarchy: str
    """What the hierarchy was given as: a file, or the dataset whose hierarchy it is."""
    closed_world: bool
    coverage: LabelCoverage

    @property
    def without_close_parent(self) -> tuple[str, ...]:
        """Labels in the hierarchy with no close ancestor: their "less specific" answers are
        not decided by it."""
        close = set(self.coverage.with_close_parent)
        missing = set(self.coverage.missing)
        return tuple(
            label for label in self.coverage.labels if label not in close and label not in missing
        )

    def to_json(self) -> dict[str, Any]:
        found = self.coverage
        return {
            "dataset": self.dataset,
            "hierarchy": self.hierarchy,
            "hierarchy_name": found.hierarchy,
            "closed_world": self.closed_world,
            "counts": {
                "labels": len(found.labels),
                "in_hierarchy": found.resolved,
                "missing": len(found.missing),
                "with_close_parent": len(found.with_close_parent),
                "with_synonyms": len(found.synonyms),
            },
            "missing": [
                {"label": label, "suggestions": list(found.suggestions.get(label, ()))}
                for label in found.missing
            ],
            "without_close_parent": list(self.without_close_parent),
            "synonyms": {label: list(names) for label, names in found.synonyms.items()},
        }

    def to_text(self) -> str:
        found = self.coverage
        world = "closed world" if self.closed_world else "open world"
        counts = (
            ("labels", len(found.labels)),
            ("in the hierarchy", found.resolved),
            ("missing", len(found.missing)),
            ("with a close parent", len(found.with_close_parent)),
            ("with synonyms", len(found.synonyms)),
        )
        lines = [
            f"dataset:   {self.dataset}",
            f"hierarchy: {self.hierarchy} (name {found.hierarchy!r}, {world})",
            "",
            *(f"{name:<20} {count:>6}" for name, count in counts),
        ]
        if found.missing:
            lines += [
                "",
                f"missing ({len(found.missing)}): answers about them other than the label "
                "itself go to the LLM judge, or stay undecided without one",
            ]
            for label in found.missing:
                close = found.suggestions.get(label)
                hint = (
                    f"did you mean {' or '.join(repr(name) for name in close)}?"
                    if close
                    else "no similar name in the hierarchy"
                )
                lines.append(f"  {label!r}: {hint}")
        lonely = self.without_close_parent
        if lonely:
            lines += [
                "",
                f"without a close parent ({len(lonely)}): the hierarchy cannot decide their "
                '"less specific" answers',
                *(f"  {label!r}" for label in lonely),
            ]
        if found.synonyms:
            lines += ["", f"synonyms ({len(found.synonyms)} labels):"]
            lines += [
                f"  {label!r}: {', '.join(repr(name) for name in names)}"
                for label, names in found.synonyms.items()
            ]
        return "\n".join(lines) + "\n"


def dataset_coverage(dataset: str, hierarchy: str | None = None) -> CoverageReport:
    """Coverage of the cleaned class labels of ``dataset`` (a shipped name or a user reference)
    by ``hierarchy`` (a file, or a shipped dataset's name for its hierarchy); by default the
    dataset's own shipped hierarchy.

    Raises :class:`ValueError` (``DatasetError``, ``HierarchyError``) naming what is wrong.
    """
    spec = get_dataset(dataset)
    labels = [spec.clean_label(class_id) for class_id in spec.class_ids()]
    if hierarchy is not None:
        tree = named_hierarchy(hierarchy)
        given = hierarchy
    else:
        try:
            tree = spec.hierarchy()
        except DatasetError as error:
            raise DatasetError(
                f"{dataset}: no label hierarchy is shipped for this dataset; give one with "
                f"--hierarchy FILE (`speciarl hierarchy draft --dataset {dataset} --out FILE` "
                "writes a start)"
            ) from error
        given = f"shipped with {spec.name}"
    return CoverageReport(
        dataset=spec.name,
        hierarchy=given,
        closed_world=tree.closed_world,
        coverage=label_coverage(labels, tree),
    )


def shipped_coverage() -> list[dict[str, Any]]:
    """One row per shipped dataset: counts of its labels in its shipped hierarchy, or the error
    that kept them from being counted."""
    rows: list[dict[str, Any]] = []
    for spec in REGISTRY.values():
        try:
            found = hierarchy_coverage(spec)
        except ValueError as error:
            rows.append({"dataset": spec.name, "error": str(error)})
            continue
        rows.append(
            {
                "dataset": found.dataset,
                "labels": found.labels,
                "in_hierarchy": found.resolved,
                "with_close_parent": found.full,
                "synonyms": found.synonyms,
            }
        )
    return rows


def shipped_table(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`shipped_coverage` as a text table ("full": with a close parent)."""
    lines = [f"{'dataset':<15} {'labels':>6} {'in tree':>7} {'full':>5} {'synonyms':>8}"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['dataset']:<15} {row['error']}")
            continue
        lines.append(
            f"{row['dataset']:<15} {row['labels']:>6} {row['in_hierarchy']:>7} "
            f"{row['with_close_parent']:>5} {row['synonyms']:>8}"
        )
    return "\n".join(lines) + "\n"
