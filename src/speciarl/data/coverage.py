"""How much of a dataset's label set its shipped hierarchy covers, for the docs and for users."""

from __future__ import annotations

from dataclasses import dataclass

from speciarl.data.registry import DatasetSpec
from speciarl.judges.hierarchy import Node, Rank


@dataclass(frozen=True, slots=True)
class Coverage:
    """``full`` counts labels with a close ancestor (genus, family, model, group) in the tree."""

    dataset: str
    labels: int
    resolved: int
    full: int
    synonyms: int


def hierarchy_coverage(spec: DatasetSpec) -> Coverage:
    """Coverage of the dataset's cleaned class labels by its shipped hierarchy."""
    labels = [spec.clean_label(class_id) for class_id in spec.class_ids()]
    hierarchy = spec.hierarchy()
    resolved = full = 0
    for label in labels:
        nodes = hierarchy.resolve(label)
        if not nodes:
            continue
        resolved += 1
        if any(_has_close_ancestor(node) for node in nodes):
            full += 1
    synonyms = sum(len(node.synonyms) for node in hierarchy.nodes)
    return Coverage(spec.name, len(labels), resolved, full, synonyms)


def _has_close_ancestor(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.rank is Rank.CLOSE:
            return True
        parent = parent.parent
    return False
