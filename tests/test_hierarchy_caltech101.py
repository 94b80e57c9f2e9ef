"""The Caltech-101 (CoOp's 100 classes) label hierarchy and class list shipped with the package."""

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
HIERARCHY = DATA / "hierarchies" / "caltech101.yaml"
CLASSNAMES = DATA / "classnames" / "caltech101.txt"

COOP_NAMES = {
    "airplanes": "airplane",
    "Faces_easy": "face",
    "Leopards": "leopard",
    "Motorbikes": "motorbike",
}
# Labels that are themselves the parent of another label, and so not leaves.
PARENT_LABELS = {
    "chair": {"windsor chair"},
    "crocodile": {"crocodile head"},
    "flamingo": {"flamingo head"},
}
CATEGORIES = {
    "insect": {"ant", "butterfly", "dragonfly", "mayfly"},
    "arachnid": {"scorpion", "tick"},
    "crustacean": {"crab", "crayfish", "lobster"},
    "bird": {"emu", "flamingo", "flamingo head", "ibis", "pigeon", "rooster"},
    "musical instrument": {
        "accordion", "electric guitar", "euphonium", "grand piano", "mandolin", "saxophone",
    },
}  # fmt: skip


def clean(folder: str) -> str:
    """CoOp's class name for a 101_ObjectCategories folder, underscores as spaces."""
    return COOP_NAMES.get(folder, folder).replace("_", " ")


def verdict_of(hierarchy: Hierarchy, ground_truth: str, prediction: str) -> Verdict | None:
    [judgement] = TaxonomyJudge(hierarchy).judge([Pair(ground_truth, prediction)])
    return judgement.verdict


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    return Hierarchy.load(HIERARCHY)


@pytest.fixture(scope="module")
def labels() -> list[str]:
    return [clean(folder) for folder in get_dataset("caltech101").class_ids()]


def test_file_loads_as_an_open_world_hierarchy(hierarchy):
    assert hierarchy.name == "caltech101"
    assert hierarchy.closed_world is False


def test_class_list_is_the_sorted_folders_without_background_and_faces():
    lines = CLASSNAMES.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 100
    assert lines == sorted(lines)
    assert "BACKGROUND_Google" not in lines and "Faces" not in lines
    assert lines[:5] == ["Faces_easy", "Leopards", "Motorbikes", "accordion", "airplanes"]
    assert lines[-1] == "yin_yang"


def test_cleaned_labels(labels):
    assert labels[:5] == ["face", "leopard", "motorbike", "accordion", "airplane"]
    assert "car side" in labels and "water lilly" in labels


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
        label for label in labels if verdict_of(hierarchy, label, category) is Verdict.GENERIC
    }
    assert members == CATEGORIES[category]
    others = set(labels) - members
    assert {verdict_of(hierarchy, label, category) for label in others} == {Verdict.WRONG}


def test_cartoon_characters_and_faces_are_not_animals(hierarchy):
    for label in ("snoopy", "garfield", "face"):
        assert verdict_of(hierarchy, label, "animal") is Verdict.WRONG


@pytest.mark.parametrize(
    ("ground_truth", "prediction", "expected"),
    [
        # the same concept
        ("airplane", "aeroplane", Verdict.SPECIFIC),
        ("motorbike", "motorcycle", Verdict.SPECIFIC),
        ("car side", "car", Verdict.SPECIFIC),
        ("cougar body", "mountain lion", Verdict.SPECIFIC),
        ("cougar face", "puma", Verdict.SPECIFIC),
        ("water lilly", "water lily", Verdict.SPECIFIC),
        ("yin yang", "yin and yang", Verdict.SPECIFIC),
        ("rhino", "rhinoceros", Verdict.SPECIFIC),
        # close and broad ancestors
        ("crocodile head", "crocodile", Verdict.LESS_SPECIFIC),
        ("windsor chair", "chair", Verdict.LESS_SPECIFIC),
        ("electric guitar", "guitar", Verdict.LESS_SPECIFIC),
        ("schooner", "sailboat", Verdict.LESS_SPECIFIC),
        ("ketch", "boat", Verdict.GENERIC),
        ("helicopter", "aircraft", Verdict.GENERIC),
        ("dolphin", "mammal", Verdict.GENERIC),
        ("octopus", "mollusk", Verdict.GENERIC),
        ("stegosaurus", "dinosaur", Verdict.GENERIC),
        ("trilobite", "arthropod", Verdict.GENERIC),
        ("leopard", "animal", Verdict.GENERIC),
        # finer than the label
        ("flamingo", "flamingo head", Verdict.MORE_SPECIFIC),
        ("animal", "okapi", Verdict.MORE_SPECIFIC),
        # wrong
        ("tick", "insect", Verdict.WRONG),
        ("dolphin", "fish", Verdict.WRONG),
        ("cougar body", "cougar face", Verdict.WRONG),
        ("mandolin", "guitar", Verdict.WRONG),
        ("lotus", "water lilly", Verdict.WRONG),
        ("wheelchair", "vehicle", Verdict.WRONG),
        # names the file does not know are left to the next judge
        ("dalmatian", "dog", None),
        ("garfield", "cat", None),
        ("crocodile", "reptile", None),
    ],
)
def test_verdicts(hierarchy, ground_truth, prediction, expected):
    assert verdict_of(hierarchy, ground_truth, prediction) is expected
