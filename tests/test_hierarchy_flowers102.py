"""The Oxford Flowers 102 label hierarchy and class list shipped with the package."""

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
HIERARCHY = DATA / "hierarchies" / "flowers102.yaml"
CLASSNAMES = DATA / "classnames" / "flowers102.txt"

GROUPS = {
    "orchid": {"hard-leaved pocket orchid", "moon orchid", "ruby-lipped cattleya"},
    "iris": {"yellow iris", "bearded iris", "blackberry lily"},
    "poppy": {"corn poppy", "californian poppy", "tree poppy"},
    "dahlia": {"bishop of llandaff", "orange dahlia", "pink-yellow dahlia"},
    "dianthus": {"sweet william", "carnation"},
}
NOT_TRUE_LILIES = {
    "peruvian lily", "giant white arum lily", "sword lily", "water lily", "toad lily",
    "canna lily", "blackberry lily", "fire lily", "tiger lily",
}  # fmt: skip


def verdict_of(hierarchy: Hierarchy, ground_truth: str, prediction: str) -> Verdict | None:
    [judgement] = TaxonomyJudge(hierarchy).judge([Pair(ground_truth, prediction)])
    return judgement.verdict


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    return Hierarchy.load(HIERARCHY)


@pytest.fixture(scope="module")
def labels() -> list[str]:
    spec = get_dataset("flowers102")
    return [spec.clean_label(class_id) for class_id in spec.class_ids()]


def test_file_loads_as_an_open_world_hierarchy(hierarchy):
    assert hierarchy.name == "flowers102"
    assert hierarchy.closed_world is False
    [plant] = hierarchy.roots
    assert plant.name == "plant"
    assert [child.name for child in plant.children] == ["flower"]


def test_class_list(labels):
    lines = CLASSNAMES.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 102
    assert lines[:2] == ["pink primrose", "hard-leaved pocket orchid"]
    assert lines[101] == "blackberry lily"
    assert labels == lines  # cleaned label = the name as it is


def test_every_label_is_exactly_one_leaf(hierarchy, labels):
    for label in labels:
        nodes = hierarchy.resolve(label)
        assert len(nodes) == 1, (label, nodes)
        assert nodes[0].name == label
        assert not nodes[0].children, label


def test_labels_have_distinct_name_keys(labels):
    counts = Counter(name_key(label) for label in labels)
    assert [key for key, count in counts.items() if count > 1] == []


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_groups_hold_exactly_their_members(hierarchy, labels, group):
    [node] = hierarchy.resolve(group)
    assert node.rank is Rank.CLOSE
    members = {
        label for label in labels if verdict_of(hierarchy, label, group) is Verdict.LESS_SPECIFIC
    }
    assert members == GROUPS[group]
    others = set(labels) - members
    assert {verdict_of(hierarchy, label, group) for label in others} == {Verdict.WRONG}


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
        ("lotus lotus", "lotus", Verdict.SPECIFIC),
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
        # names the file does not know are left to the next judge
        ("tiger lily", "lily", None),
        ("pink primrose", "primrose", None),
    ],
)
def test_verdicts(hierarchy, ground_truth, prediction, expected):
    assert verdict_of(hierarchy, ground_truth, prediction) is expected
