"""The Oxford Flowers 102 label hierarchy and class list shipped with the package."""

import pytest

from hierarchy_checks import (
    assert_group_holds_exactly,
    dataset_fixtures,
    shipped_class_list,
    verdict_of,
)
from speciarl.judges.hierarchy import Rank
from speciarl.verdict import Verdict

GROUPS = {
    "orchid": {"hard-leaved pocket orchid", "moon orchid", "ruby-lipped cattleya"},
    "iris": {"yellow iris", "bearded iris", "blackberry lily"},
    "poppy": {"corn poppy", "californian poppy", "tree poppy"},
    "dahlia": {"bishop of llandaff", "orange dahlia", "pink-yellow dahlia"},
    "dianthus": {"sweet william", "carnation"},
    "ginger family": {"red ginger", "siam tulip", "cautleya spicata"},
    "euphorbia": {"poinsettia"},
    "ruellia": {"mexican petunia"},
    "lathyrus": {"sweet pea"},
}
NOT_TRUE_LILIES = {
    "peruvian lily", "giant white arum lily", "sword lily", "water lily", "toad lily",
    "canna lily", "blackberry lily", "fire lily", "tiger lily",
}  # fmt: skip


hierarchy, labels = dataset_fixtures("flowers102")


def test_plant_root_with_flower_below(hierarchy):
    [plant] = hierarchy.roots
    assert plant.name == "plant"
    assert [child.name for child in plant.children] == ["flower"]


def test_class_list(labels):
    lines = shipped_class_list("flowers102")
    assert len(lines) == 102
    assert lines[:2] == ["pink primrose", "hard-leaved pocket orchid"]
    assert lines[101] == "blackberry lily"
    assert lines[77] == "lotus"  # as cat_to_name.json and CoOp's split file write it
    assert labels == lines  # cleaned label = the name as it is


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_groups_hold_exactly_their_members(hierarchy, labels, group):
    [node] = hierarchy.resolve(group)
    assert node.rank is Rank.CLOSE
    assert_group_holds_exactly(hierarchy, labels, group, GROUPS[group], Verdict.LESS_SPECIFIC)


def test_no_lily_group(hierarchy, labels):
    assert hierarchy.resolve("lily") == ()
    assert hierarchy.resolve("lilies") == ()
    assert {label for label in labels if "lily" in label} == NOT_TRUE_LILIES


def test_every_label_is_a_flower(hierarchy, labels):
    for label in labels:
        assert verdict_of(hierarchy, label, "flower") is Verdict.GENERIC, label
        assert verdict_of(hierarchy, label, "plant") is Verdict.GENERIC, label


@pytest.mark.parametrize(
    ("ground_truth", "prediction", "expected"),
    [
        # the paper's example
        ("moon orchid", "orchid", Verdict.LESS_SPECIFIC),
        # the same concept: other common names, scientific names, the dataset's variants
        ("moon orchid", "Phalaenopsis amabilis", Verdict.SPECIFIC),
        ("globe-flower", "globe flower", Verdict.SPECIFIC),
        ("pink-yellow dahlia", "pink-yellow dahlia?", Verdict.SPECIFIC),
        ("lotus", "lotus lotus", Verdict.SPECIFIC),
        ("lotus", "Nelumbo nucifera", Verdict.SPECIFIC),
        ("colt's foot", "coltsfoot", Verdict.SPECIFIC),
        ("barbeton daisy", "Barberton daisy", Verdict.SPECIFIC),
        ("english marigold", "Calendula officinalis", Verdict.SPECIFIC),
        # close and broad ancestors
        ("moon orchid", "moth orchid", Verdict.LESS_SPECIFIC),
        ("ruby-lipped cattleya", "cattleya", Verdict.LESS_SPECIFIC),
        ("ruby-lipped cattleya", "orchids", Verdict.LESS_SPECIFIC),
        ("bearded iris", "iris", Verdict.LESS_SPECIFIC),
        ("californian poppy", "poppy", Verdict.LESS_SPECIFIC),
        ("bishop of llandaff", "dahlia", Verdict.LESS_SPECIFIC),
        ("carnation", "dianthus", Verdict.LESS_SPECIFIC),
        ("azalea", "rhododendron", Verdict.LESS_SPECIFIC),
        ("giant white arum lily", "calla lily", Verdict.LESS_SPECIFIC),
        ("ball moss", "air plant", Verdict.LESS_SPECIFIC),
        ("poinsettia", "Euphorbia", Verdict.LESS_SPECIFIC),
        ("siam tulip", "Zingiberaceae", Verdict.LESS_SPECIFIC),
        ("tiger lily", "flower", Verdict.GENERIC),
        # finer than the label
        ("orchid", "moon orchid", Verdict.MORE_SPECIFIC),
        # wrong
        ("moon orchid", "hard-leaved pocket orchid", Verdict.WRONG),
        ("sunflower", "rose", Verdict.WRONG),
        ("lenten rose", "rose", Verdict.WRONG),
        ("mexican petunia", "petunia", Verdict.WRONG),
        ("peruvian lily", "iris", Verdict.WRONG),
        ("water lily", "lotus", Verdict.WRONG),
        ("canna lily", "ginger family", Verdict.WRONG),
        # names the file does not know are left to the next judge
        ("tiger lily", "lily", None),
        ("pink primrose", "primrose", None),
    ],
)
def test_verdicts(hierarchy, ground_truth, prediction, expected):
    assert verdict_of(hierarchy, ground_truth, prediction) is expected
