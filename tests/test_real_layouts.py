"""The six loaders on the real metadata files of their datasets (no images).

The files live outside the repository, in ``../shared/fixtures/real_layouts/`` relative to its
root (see the SOURCES.md there); without them every test here is skipped. They are copied into a
temporary data root holding all six datasets, as CoOp's instructions lay one out, with empty
image folders where a loader looks for one: loading lists the images, it never reads them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hierarchy_checks import shipped_class_list
from speciarl.data.registry import get_dataset
from speciarl.data.sample import Sample

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "real_layouts"
DATASETS = ("cub200", "flowers102", "oxford_pets", "stanford_cars", "fgvc_aircraft", "caltech101")

# Image folders the CoOp loaders find their dataset folder by; the metadata has none.
IMAGE_FOLDERS = ("oxford_flowers/jpg", "oxford_pets/images", "caltech-101/101_ObjectCategories")

# Images per split: the official test counts (CUB 5,794, Flowers 2,463, Pets 3,669, Cars 8,041,
# Aircraft 3,333) and CoOp's split for Caltech; the train/val splits the real files hold.
COUNTS = {
    ("cub200", "train"): 5994,
    ("cub200", "test"): 5794,
    ("flowers102", "train"): 4093,
    ("flowers102", "val"): 1633,
    ("flowers102", "test"): 2463,
    ("oxford_pets", "train"): 2944,
    ("oxford_pets", "val"): 736,
    ("oxford_pets", "test"): 3669,
    ("stanford_cars", "train"): 8144,
    ("stanford_cars", "test"): 8041,
    ("fgvc_aircraft", "test"): 3333,
    ("caltech101", "train"): 4128,
    ("caltech101", "val"): 1649,
    ("caltech101", "test"): 2465,
}
SPLITS = {name: [split for dataset, split in COUNTS if dataset == name] for name in DATASETS}
COOP_SPLIT_FILES = {
    "flowers102": "oxford_flowers/split_zhou_OxfordFlowers.json",
    "oxford_pets": "oxford_pets/split_zhou_OxfordPets.json",
    "caltech101": "caltech-101/split_zhou_Caltech101.json",
}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not REAL.is_dir():
        pytest.skip(f"no real metadata files at {REAL}")
    root = tmp_path_factory.mktemp("real_layouts")
    for name in DATASETS:
        shutil.copytree(REAL / name, root, dirs_exist_ok=True)
    for folder in IMAGE_FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    return root


@pytest.fixture(scope="module")
def loaded(data_root: Path) -> dict[tuple[str, str], list[Sample]]:
    """Every split the real files hold, loaded once."""
    return {(name, split): get_dataset(name).load(split, root=data_root) for name, split in COUNTS}


def shipped_labels(name: str) -> list[str]:
    spec = get_dataset(name)
    return [spec.clean_label(class_id) for class_id in spec.class_ids()]


@pytest.mark.parametrize(("name", "split"), sorted(COUNTS))
def test_loaders_read_the_real_files_with_the_official_counts(loaded, name, split):
    samples = loaded[name, split]
    assert len(samples) == COUNTS[name, split]
    assert {sample.dataset for sample in samples} == {name}
    assert [sample.index for sample in samples] == list(range(len(samples)))


@pytest.mark.parametrize("name", DATASETS)
def test_real_labels_are_exactly_the_shipped_class_list(loaded, name):
    labels = shipped_labels(name)
    assert len(set(labels)) == len(labels)
    for split in SPLITS[name]:
        found = {sample.label for sample in loaded[name, split]}
        assert sorted(found - set(labels)) == [], f"{name} {split}: not in the class list"
        assert sorted(set(labels) - found) == [], f"{name} {split}: no image of these classes"


@pytest.mark.parametrize("name", DATASETS)
def test_every_real_label_is_a_node_of_the_shipped_hierarchy(loaded, name):
    hierarchy = get_dataset(name).hierarchy()
    found = {sample.label for split in SPLITS[name] for sample in loaded[name, split]}
    missing = [
        label
        for label in sorted(found)
        if not any(node.name == label for node in hierarchy.resolve(label))
    ]
    assert missing == []


@pytest.mark.parametrize("name", sorted(COOP_SPLIT_FILES))
def test_coop_class_indices_follow_the_shipped_class_list(data_root, name):
    """A split file's class index i is line i of the shipped class list, and every raw class
    name the split file writes cleans to the label of that line."""
    labels = shipped_labels(name)
    spec = get_dataset(name)
    content = json.loads((data_root / COOP_SPLIT_FILES[name]).read_text(encoding="utf-8"))
    pairs = {(index, class_name) for rows in content.values() for _, index, class_name in rows}
    assert {index for index, _ in pairs} == set(range(len(labels)))
    assert all(spec.clean_label(class_name) == labels[index] for index, class_name in pairs)


def test_flowers_class_names_are_those_of_cat_to_name(data_root):
    names = json.loads((data_root / "oxford_flowers" / "cat_to_name.json").read_text())
    assert [names[str(number)] for number in range(1, 103)] == shipped_class_list("flowers102")
    assert shipped_labels("flowers102")[77] == "lotus"


def test_caltech_folders_clean_to_their_labels(loaded):
    """The folder each split entry's image sits in is a shipped class id: CoOp reads Faces (not
    Faces_easy), and the folder's cleaned name is the entry's label."""
    spec = get_dataset("caltech101")
    class_ids = set(spec.class_ids())
    for split in SPLITS["caltech101"]:
        for sample in loaded["caltech101", split]:
            folder = Path(sample.origin).parent.name
            assert folder in class_ids, folder
            assert spec.clean_label(folder) == sample.label, folder
    assert spec.clean_label("Faces") == "face"


def test_pets_image_names_clean_to_their_labels(loaded):
    """Pets image names carry the breed as the archive spells it (``Abyssinian_201.jpg``):
    cleaned, it is the label, as for a Hub copy that keeps the archive's class ids."""
    spec = get_dataset("oxford_pets")
    for split in SPLITS["oxford_pets"]:
        for sample in loaded["oxford_pets", split]:
            breed = Path(sample.origin).stem.rsplit("_", 1)[0]
            assert spec.clean_label(breed) == sample.label, sample.origin


def test_cub_aircraft_and_cars_class_files_are_the_shipped_lists(data_root, loaded):
    cub = (data_root / "CUB_200_2011" / "classes.txt").read_text().split("\n")
    assert [line.split(" ", 1)[1] for line in cub if line] == shipped_class_list("cub200")
    variants = data_root / "fgvc-aircraft-2013b" / "data" / "variants.txt"
    assert variants.read_text().splitlines() == shipped_class_list("fgvc_aircraft")
    cars = {sample.class_id for sample in loaded["stanford_cars", "test"]}
    assert cars == set(shipped_class_list("stanford_cars"))
