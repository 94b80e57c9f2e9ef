"""The Caltech-101 (CoOp's 100 classes) label hierarchy and class list shipped with the package."""

import pytest

from hierarchy_checks import (
    assert_group_holds_exactly,
    dataset_fixtures,
    shipped_class_list,
    verdict_of,
)
from speciarl.verdict import Verdict

# CoOp's renames of 101_ObjectCategories folders; other folders keep their name.
COOP_NAMES = {
    "airplanes": "airplane",
    "Faces": "face",
    "Leopards": "leopard",
    "Motorbikes": "motorbike",
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
CLOSE_GROUPS = {
    "felid": {"cougar body", "cougar face", "leopard", "wild cat"},
    "bear": {"panda"},
    "antelope": {"gerenuk"},
    "camelid": {"llama"},
    "macropod": {"kangaroo"},
    "monotreme": {"platypus"},
    "ratite": {"emu"},
    "sauropod": {"brontosaurus"},
    "sea turtle": {"hawksbill"},
    "handgun": {"revolver"},
    "yucca": {"joshua tree"},
}


hierarchy, labels = dataset_fixtures("caltech101")


def test_class_list_is_the_sorted_folders_without_background_and_faces_easy():
    # CoOp's split reads the Faces folder (Faces/image_0001.jpg ...) and leaves Faces_easy out.
    lines = shipped_class_list("caltech101")
    assert len(lines) == 100
    assert lines == sorted(lines)
    assert "BACKGROUND_Google" not in lines and "Faces_easy" not in lines
    assert lines[:5] == ["Faces", "Leopards", "Motorbikes", "accordion", "airplanes"]
    assert lines[-1] == "yin_yang"


def test_cleaned_labels(labels):
    folders = shipped_class_list("caltech101")
    assert labels == [COOP_NAMES.get(folder, folder).replace("_", " ") for folder in folders]
    assert labels[:5] == ["face", "leopard", "motorbike", "accordion", "airplane"]
    assert "car side" in labels and "water lilly" in labels


@pytest.mark.parametrize("category", sorted(CATEGORIES))
def test_categories_hold_exactly_their_members(hierarchy, labels, category):
    members = CATEGORIES[category]
    assert_group_holds_exactly(hierarchy, labels, category, members, Verdict.GENERIC)


@pytest.mark.parametrize("group", sorted(CLOSE_GROUPS))
def test_close_groups_hold_exactly_their_members(hierarchy, labels, group):
    members = CLOSE_GROUPS[group]
    assert_group_holds_exactly(hierarchy, labels, group, members, Verdict.LESS_SPECIFIC)


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
        ("wrench", "spanner", Verdict.SPECIFIC),
        # close and broad ancestors
        ("crocodile head", "crocodile", Verdict.LESS_SPECIFIC),
        ("windsor chair", "chair", Verdict.LESS_SPECIFIC),
        ("electric guitar", "guitar", Verdict.LESS_SPECIFIC),
        ("schooner", "sailboat", Verdict.LESS_SPECIFIC),
        ("leopard", "Felidae", Verdict.LESS_SPECIFIC),
        ("panda", "bear", Verdict.LESS_SPECIFIC),
        ("hawksbill", "sea turtle", Verdict.LESS_SPECIFIC),
        ("emu", "bird", Verdict.GENERIC),
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
        ("okapi", "antelope", Verdict.WRONG),
        ("garfield", "felid", Verdict.WRONG),
        # names the file does not know are left to the next judge
        ("dalmatian", "dog", None),
        ("garfield", "cat", None),
        ("crocodile", "reptile", None),
        ("leopard", "big cat", None),
    ],
)
def test_verdicts(hierarchy, ground_truth, prediction, expected):
    assert verdict_of(hierarchy, ground_truth, prediction) is expected
