"""The Food-101 label hierarchy and class list shipped with the package."""

import pytest

from hierarchy_checks import (
    assert_group_holds_exactly,
    dataset_fixtures,
    shipped_class_list,
    verdict_of,
)
from speciarl.verdict import Verdict

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


hierarchy, labels = dataset_fixtures("food101")


def test_food_is_the_one_root(hierarchy):
    assert [root.name for root in hierarchy.roots] == ["food"]


def test_class_list(labels):
    lines = shipped_class_list("food101")
    assert len(lines) == 101
    assert lines == sorted(lines)  # meta/classes.txt is in alphabetical order
    assert all(" " not in line for line in lines)
    assert lines[0] == "apple_pie" and lines[-1] == "waffles"
    assert labels == [line.replace("_", " ") for line in lines]


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_categories_hold_exactly_their_members(hierarchy, labels, category):
    members = CATEGORIES[category]
    assert_group_holds_exactly(hierarchy, labels, category, members, Verdict.LESS_SPECIFIC)


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
        ("baby back ribs", "pork ribs", Verdict.LESS_SPECIFIC),
        ("peking duck", "roast duck", Verdict.LESS_SPECIFIC),
        ("prime rib", "roast beef", Verdict.LESS_SPECIFIC),
        ("grilled salmon", "grilled fish", Verdict.LESS_SPECIFIC),
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
        ("filet mignon", "roast beef", Verdict.WRONG),
        ("sashimi", "grilled fish", Verdict.WRONG),
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
