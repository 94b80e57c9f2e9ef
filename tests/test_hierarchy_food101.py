"""The Food-101 label hierarchy and class list shipped with the package."""

from collections import Counter
from pathlib import Path

import pytest

import speciarl
from speciarl.answer import name_key
from speciarl.data.registry import get_dataset
from speciarl.judges import Hierarchy, Pair, TaxonomyJudge
from speciarl.judges.hierarchy import Rank
from speciarl.verdict import Verdict

DATA = Path(speciarl.__file__).parent / "data"
HIERARCHY = DATA / "hierarchies" / "food101.yaml"
CLASSNAMES = DATA / "classnames" / "food101.txt"

# Labels that are themselves the category of another label, and so not leaves.
PARENT_LABELS = {"dumplings": {"gyoza"}, "steak": {"filet mignon"}}
CATEGORIES = {
    "cake": {
        "carrot cake", "cheesecake", "chocolate cake", "cup cakes", "red velvet cake",
        "strawberry shortcake",
    },
    "soup": {
        "clam chowder", "french onion soup", "hot and sour soup", "lobster bisque", "miso soup",
        "pho", "ramen",
    },
    "salad": {"beet salad", "caesar salad", "caprese salad", "greek salad", "seaweed salad"},
    "sandwich": {
        "club sandwich", "croque madame", "grilled cheese sandwich", "lobster roll sandwich",
        "pulled pork sandwich",
    },
}  # fmt: skip


def verdict_of(hierarchy: Hierarchy, ground_truth: str, prediction: str) -> Verdict | None:
    [judgement] = TaxonomyJudge(hierarchy).judge([Pair(ground_truth, prediction)])
    return judgement.verdict


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    return Hierarchy.load(HIERARCHY)


@pytest.fixture(scope="module")
def labels() -> list[str]:
    spec = get_dataset("food101")
    return [spec.clean_label(class_id) for class_id in spec.class_ids()]


def test_file_loads_as_an_open_world_hierarchy(hierarchy):
    assert hierarchy.name == "food101"
    assert hierarchy.closed_world is False
    assert [root.name for root in hierarchy.roots] == ["food"]


def test_class_list(labels):
    lines = CLASSNAMES.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 101
    assert lines == sorted(lines)  # meta/classes.txt is in alphabetical order
    assert all(" " not in line for line in lines)
    assert lines[0] == "apple_pie" and lines[-1] == "waffles"
    assert labels == [line.replace("_", " ") for line in lines]


def test_every_label_is_exactly_one_node_and_a_leaf_unless_a_parent_label(hierarchy, labels):
    for label in labels:
        nodes = hierarchy.resolve(label)
        assert len(nodes) == 1, (label, nodes)
        [node] = nodes
        assert node.name == label
        children = {child.name for child in node.children}
        assert children == PARENT_LABELS.get(label, set()), label
        if children:
            assert node.rank is Rank.CLOSE


def test_labels_have_distinct_name_keys(labels):
    counts = Counter(name_key(label) for label in labels)
    assert [key for key, count in counts.items() if count > 1] == []


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_categories_hold_exactly_their_members(hierarchy, labels, category):
    members = {
        label for label in labels if verdict_of(hierarchy, label, category) is Verdict.LESS_SPECIFIC
    }
    assert members == CATEGORIES[category]
    others = set(labels) - members
    assert {verdict_of(hierarchy, label, category) for label in others} == {Verdict.WRONG}


def test_every_label_is_food(hierarchy, labels):
    for label in labels:
        assert verdict_of(hierarchy, label, "food") is Verdict.GENERIC, label


@pytest.mark.parametrize(
    ("ground_truth", "prediction", "expected"),
    [
        # the paper's examples
        ("carrot cake", "cake", Verdict.LESS_SPECIFIC),
        ("pizza", "food", Verdict.GENERIC),
        # the same concept
        ("apple pie", "Apple Pie", Verdict.SPECIFIC),
        ("beef tartare", "steak tartare", Verdict.SPECIFIC),
        ("macaroni and cheese", "mac & cheese", Verdict.SPECIFIC),
        ("creme brulee", "crème brûlée", Verdict.SPECIFIC),
        ("donuts", "a doughnut", Verdict.SPECIFIC),
        ("cup cakes", "cupcake", Verdict.SPECIFIC),
        ("hamburger", "burger", Verdict.SPECIFIC),
        # close and broad ancestors
        ("cheesecake", "cakes", Verdict.LESS_SPECIFIC),
        ("pho", "noodle soup", Verdict.LESS_SPECIFIC),
        ("ramen", "soup", Verdict.LESS_SPECIFIC),
        ("clam chowder", "chowder", Verdict.LESS_SPECIFIC),
        ("spaghetti carbonara", "spaghetti", Verdict.LESS_SPECIFIC),
        ("tuna tartare", "tartare", Verdict.LESS_SPECIFIC),
        ("gyoza", "dumplings", Verdict.LESS_SPECIFIC),
        ("filet mignon", "steak", Verdict.LESS_SPECIFIC),
        ("sushi", "dish", Verdict.GENERIC),
        # finer than the label
        ("dumplings", "gyoza", Verdict.MORE_SPECIFIC),
        ("steak", "filet mignon", Verdict.MORE_SPECIFIC),
        ("food", "ramen", Verdict.MORE_SPECIFIC),
        # wrong
        ("sushi", "sashimi", Verdict.WRONG),
        ("frozen yogurt", "ice cream", Verdict.WRONG),
        ("crab cakes", "cake", Verdict.WRONG),
        ("tiramisu", "cake", Verdict.WRONG),
        ("chicken curry", "soup", Verdict.WRONG),
        ("prime rib", "steak", Verdict.WRONG),
        # disputed members are kept out of a category (see the file's header)
        ("hamburger", "sandwich", Verdict.WRONG),
        # names the file does not know are left to the next judge
        ("lasagna", "pasta", None),
        ("chocolate mousse", "dessert", None),
        ("gnocchi", "pasta", None),
    ],
)
def test_verdicts(hierarchy, ground_truth, prediction, expected):
    assert verdict_of(hierarchy, ground_truth, prediction) is expected
