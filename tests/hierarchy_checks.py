"""Helpers shared by the tests of the shipped label hierarchies (tests/test_hierarchy_*.py and
the checks over all of them in tests/test_data_coverage.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import pytest

import speciarl
from speciarl.answer import name_key
from speciarl.data.registry import dataset_names, get_dataset
from speciarl.judges import Hierarchy, Pair, TaxonomyJudge
from speciarl.judges.hierarchy import Node, Rank
from speciarl.verdict import Verdict

DATA = Path(speciarl.__file__).parent / "data"

# The datasets whose hierarchy file is written by hand (synthetic's is generated, closed-world).
HIERARCHY_DATASETS = sorted(set(dataset_names()) - {"synthetic"})


def verdict_of(hierarchy: Hierarchy, ground_truth: str, prediction: str) -> Verdict | None:
    [judgement] = TaxonomyJudge(hierarchy).judge([Pair(ground_truth, prediction)])
    return judgement.verdict


def shipped_hierarchy(name: str) -> Hierarchy:
    """The hierarchy file shipped in the package for dataset ``name``."""
    return Hierarchy.load(DATA / "hierarchies" / f"{name}.yaml")


def shipped_class_list(name: str) -> list[str]:
    """The lines of the class list shipped in the package for dataset ``name``."""
    return (DATA / "classnames" / f"{name}.txt").read_text(encoding="utf-8").splitlines()


def cleaned_labels(name: str) -> list[str]:
    """The dataset's class ids, in order, cleaned as the loader cleans them."""
    spec = get_dataset(name)
    return [spec.clean_label(class_id) for class_id in spec.class_ids()]


def dataset_fixtures(name: str) -> tuple[Callable[[], Hierarchy], Callable[[], list[str]]]:
    """Module fixtures ``hierarchy`` (the shipped file) and ``labels`` (the cleaned labels) for
    dataset ``name``; a test module takes them with
    ``hierarchy, labels = dataset_fixtures(name)``."""

    @pytest.fixture(scope="module")
    def hierarchy() -> Hierarchy:
        return shipped_hierarchy(name)

    @pytest.fixture(scope="module")
    def labels() -> list[str]:
        return cleaned_labels(name)

    return hierarchy, labels


def ancestors(node: Node) -> list[Node]:
    """The node's parent, its parent's parent, ... up to the root."""
    found = []
    while node.parent is not None:
        node = node.parent
        found.append(node)
    return found


def label_nodes(hierarchy: Hierarchy, labels: Iterable[str]) -> dict[str, Node]:
    """Each label's node; every label must resolve to exactly one."""
    nodes = {}
    for label in labels:
        found = hierarchy.resolve(label)
        assert len(found) == 1, f"{label!r} resolves to {found}"
        nodes[label] = found[0]
    return nodes


def assert_distinct_name_keys(labels: Iterable[str]) -> None:
    """No two labels are the same name to the judge."""
    counts = Counter(name_key(label) for label in labels)
    assert [key for key, count in counts.items() if count > 1] == []


def assert_each_label_is_one_node(
    hierarchy: Hierarchy, labels: list[str], parents: Mapping[str, set[str]]
) -> None:
    """Every label is exactly one node, named by the label; that node is a leaf without a rank,
    unless the label is one of ``parents``: then its children are exactly the labels listed
    for it, and it is a close ancestor of them. Every leaf of the file is a label."""
    nodes = label_nodes(hierarchy, labels)
    for label, node in nodes.items():
        assert node.name == label
        children = {child.name for child in node.children}
        assert children == parents.get(label, set()), label
        assert node.rank is (Rank.CLOSE if children else None), label
    leaves = {node.name for node in hierarchy.nodes if not node.children}
    assert leaves == set(labels) - set(parents)


def assert_label_names_name_nothing_else(hierarchy: Hierarchy, nodes: Mapping[str, Node]) -> None:
    """No name or synonym of a label's node is shared with another label, or with any other
    node (a group, a family)."""
    owner: dict[str, str] = {}
    for label, node in nodes.items():
        for name in node.names:
            key = name_key(name)
            assert owner.setdefault(key, label) == label, f"{name!r}: {owner[key]} and {label}"
            assert hierarchy.resolve(name) == (node,), name


def assert_group_holds_exactly(
    hierarchy: Hierarchy, labels: list[str], group: str, members: set[str], verdict: Verdict
) -> None:
    """Naming ``group`` for a label is ``verdict`` for exactly its ``members``, wrong for the
    other labels."""
    found = {label for label in labels if verdict_of(hierarchy, label, group) is verdict}
    assert found == members
    others = set(labels) - found
    assert {verdict_of(hierarchy, label, group) for label in others} == {Verdict.WRONG}
