"""How much of a label set a hierarchy covers: for the docs, for ``speciarl data coverage`` and
for the start-up warning of training and evaluation.

A label missing from the judge's hierarchy is not an error: its pairs go to the LLM judge, or
stay undecided without one. But a user should know before hours of training which labels those
are, and whether a near-miss spelling is the reason.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from speciarl.answer import name_key
from speciarl.data.registry import DatasetSpec
from speciarl.judges.hierarchy import Hierarchy, Node, Rank

_SUGGESTIONS = 3
_SIMILARITY = 0.8
_SHOWN_IN_WARNING = 5


@dataclass(frozen=True, slots=True)
class LabelCoverage:
    """Where each distinct label of a dataset sits in a hierarchy (labels in first-seen order)."""

    hierarchy: str
    """The hierarchy's own name; empty when its file names none."""
    labels: tuple[str, ...]
    missing: tuple[str, ...]
    """Labels no node is called (or has as a synonym)."""
    with_close_parent: tuple[str, ...]
    """Labels with a close ancestor (genus, family, model, group): "less specific" is decidable."""
    synonyms: dict[str, tuple[str, ...]]
    """Label -> the other names of its node(s), for labels that have any."""
    suggestions: dict[str, tuple[str, ...]]
    """Missing label -> the most similar names in the hierarchy (a typo, a plural)."""

    @property
    def resolved(self) -> int:
        return len(self.labels) - len(self.missing)


def label_coverage(labels: Iterable[str], hierarchy: Hierarchy) -> LabelCoverage:
    """Coverage of ``labels`` (duplicates counted once) by ``hierarchy``."""
    distinct = tuple(dict.fromkeys(labels))
    missing: list[str] = []
    close: list[str] = []
    synonyms: dict[str, tuple[str, ...]] = {}
    for label in distinct:
        nodes = hierarchy.resolve(label)
        if not nodes:
            missing.append(label)
            continue
        if any(_has_close_ancestor(node) for node in nodes):
            close.append(label)
        others = [
            name for node in nodes for name in node.names if name_key(name) != name_key(label)
        ]
        if others:
            synonyms[label] = tuple(dict.fromkeys(others))
    return LabelCoverage(
        hierarchy=hierarchy.name or "",
        labels=distinct,
        missing=tuple(missing),
        with_close_parent=tuple(close),
        synonyms=synonyms,
        suggestions=_suggestions(missing, hierarchy),
    )


def missing_labels_warning(
    coverage: LabelCoverage, dataset: str, *, llm: bool, hierarchy_option: str
) -> str | None:
    """One line for start-up when labels are missing from the judge's hierarchy, else None.

    ``dataset`` and ``hierarchy_option`` are as the user gave them (a reference, a file or a
    shipped name), so that the coverage command the line ends with runs as printed.
    """
    if not coverage.missing:
        return None
    shown = ", ".join(repr(label) for label in coverage.missing[:_SHOWN_IN_WARNING])
    more = len(coverage.missing) - _SHOWN_IN_WARNING
    if more > 0:
        shown += f" and {more} more"
    named = f" {coverage.hierarchy!r}" if coverage.hierarchy else ""
    fate = "go to the LLM judge" if llm else "stay undecided (no LLM judge is set)"
    return (
        f"{dataset}: {len(coverage.missing)} of {len(coverage.labels)} labels are missing from "
        f"the judge's hierarchy{named} ({shown}); answers about them that are not the label "
        f"itself {fate}; see `speciarl data coverage --dataset {dataset} --hierarchy "
        f"{hierarchy_option}`"
    )


@dataclass(frozen=True, slots=True)
class Coverage:
    """Counts for the table of shipped datasets; ``full`` counts labels with a close ancestor."""

    dataset: str
    labels: int
    resolved: int
    full: int
    synonyms: int


def hierarchy_coverage(spec: DatasetSpec) -> Coverage:
    """Coverage of a shipped dataset's cleaned class labels by its shipped hierarchy."""
    hierarchy = spec.hierarchy()
    found = label_coverage((spec.clean_label(c) for c in spec.class_ids()), hierarchy)
    synonyms = sum(len(node.synonyms) for node in hierarchy.nodes)
    return Coverage(
        spec.name, len(found.labels), found.resolved, len(found.with_close_parent), synonyms
    )


def _suggestions(missing: list[str], hierarchy: Hierarchy) -> dict[str, tuple[str, ...]]:
    if not missing:
        return {}
    by_key: dict[str, str] = {}
    for node in hierarchy.nodes:
        for name in node.names:
            by_key.setdefault(name_key(name), name)
    keys = list(by_key)
    found: dict[str, tuple[str, ...]] = {}
    for label in missing:
        close = difflib.get_close_matches(name_key(label), keys, _SUGGESTIONS, _SIMILARITY)
        if close:
            found[label] = tuple(by_key[key] for key in close)
    return found


def _has_close_ancestor(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.rank is Rank.CLOSE:
            return True
        parent = parent.parent
    return False
