import json

import pytest

from data_fixtures import (
    PETS_SPLIT,
    jpeg,
    make_aircraft,
    make_cars,
    make_coop,
    make_cub,
    write_image,
)
from speciarl.data.errors import DatasetError
from speciarl.data.registry import dataset_names, get_dataset
from speciarl.data.sample import ImageReadError, make_sample_id


def test_registry_lists_the_paper_datasets_and_synthetic():
    assert set(dataset_names()) == {
        "cub200",
        "fgvc_aircraft",
        "flowers102",
        "food101",
        "oxford_pets",
        "stanford_cars",
        "caltech101",
        "synthetic",
    }
    assert get_dataset("flowers102").group == "fine-grained"
    assert get_dataset("stanford_cars").group == "very fine-grained"


def test_unknown_dataset_and_split_are_named():
    with pytest.raises(DatasetError, match="unknown dataset 'birds'"):
        get_dataset("birds")
    with pytest.raises(DatasetError, match="unknown split 'val'"):
        get_dataset("cub200").load("val", root=None)


def test_cub_official_layout(tmp_path):
    make_cub(tmp_path)
    spec = get_dataset("cub200")
    train = spec.load("train", root=tmp_path)
    test = spec.load("test", root=tmp_path / "CUB_200_2011")  # either level works
    assert [s.label for s in train] == [
        "Black footed Albatross",
        "Indigo Bunting",
        "Indigo Bunting",
    ]
    assert [s.class_id for s in test] == ["001.Black_footed_Albatross", "014.Indigo_Bunting"]
    assert [s.sample_id for s in test] == ["cub200/test/0", "cub200/test/1"]
    assert test[0].image_bytes() == jpeg((80, 10, 10))  # image id 2, original bytes
    assert test[0].image().size == (24, 24)


def test_sample_ids_depend_only_on_dataset_split_and_index(tmp_path):
    make_cub(tmp_path / "a")
    make_cub(tmp_path / "b")
    ids_a = [s.sample_id for s in get_dataset("cub200").load("train", root=tmp_path / "a")]
    ids_b = [s.sample_id for s in get_dataset("cub200").load("train", root=tmp_path / "b")]
    assert ids_a == ids_b == [make_sample_id("cub200", "train", i) for i in range(3)]


def test_aircraft_variant_layout(tmp_path):
    make_aircraft(tmp_path)
    spec = get_dataset("fgvc_aircraft")
    test = spec.load("test", root=tmp_path)
    assert [s.label for s in test] == ["707-320", "F-16A/B"]
    assert [s.label for s in spec.load("val", root=tmp_path / "fgvc-aircraft-2013b")] == ["F-16A/B"]
    assert len(spec.load("trainval", root=tmp_path / "fgvc-aircraft-2013b" / "data")) == 3


def test_cars_devkit_layout(tmp_path):
    make_cars(tmp_path)
    spec = get_dataset("stanford_cars")
    train = spec.load("train", root=tmp_path)
    assert [s.label for s in train] == [
        "AM General Hummer SUV 2000",
        "Tesla Model S Sedan 2012",
        "Tesla Model S Sedan 2012",
    ]
    test = spec.load("test", root=tmp_path / "stanford_cars")
    assert [s.label for s in test] == ["Tesla Model S Sedan 2012", "AM General Hummer SUV 2000"]
    assert test[0].origin.endswith("cars_test/00001.jpg")


@pytest.mark.parametrize(
    ("name", "folder", "image_folder", "split_file"),
    [
        ("oxford_pets", "oxford_pets", "images", "split_zhou_OxfordPets.json"),
        ("flowers102", "oxford_flowers", "jpg", "split_zhou_OxfordFlowers.json"),
        ("food101", "food-101", "images", "split_zhou_Food101.json"),
        ("caltech101", "caltech-101", "101_ObjectCategories", "split_zhou_Caltech101.json"),
    ],
)
def test_coop_layouts(tmp_path, name, folder, image_folder, split_file):
    make_coop(tmp_path, folder, image_folder, split_file, PETS_SPLIT)
    spec = get_dataset(name)
    test = spec.load("test", root=tmp_path)  # the data root holding every dataset
    assert [s.label for s in test] == ["american bulldog", "abyssinian"]
    assert [s.class_id for s in test] == ["american_bulldog", "abyssinian"]
    assert len(spec.load("train", root=tmp_path / folder)) == 2


def test_coop_split_file_is_fetched_once_and_cached(tmp_path, monkeypatch, http_server):
    """No split file in the root: it is downloaded from its public source, then reused."""
    from speciarl.data import coop

    folder = make_coop(tmp_path, "oxford_pets", "images", "split_zhou_OxfordPets.json", PETS_SPLIT)
    served = tmp_path / "served"
    served.mkdir()
    (folder / "split_zhou_OxfordPets.json").rename(served / "split.json")
    monkeypatch.setenv("SPECIARL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        coop.OXFORD_PETS.split_file.__class__,
        "url",
        property(lambda self: http_server(served) + "/split.json"),
    )
    assert len(get_dataset("oxford_pets").load("test", root=tmp_path)) == 2
    assert (tmp_path / "cache" / "splits" / "split_zhou_OxfordPets.json").is_file()
    (served / "split.json").unlink()  # the cached copy is used from now on
    assert len(get_dataset("oxford_pets").load("val", root=tmp_path)) == 1


def test_unreachable_split_file_names_where_to_put_it(tmp_path, monkeypatch):
    from speciarl.data import coop

    make_coop(tmp_path, "oxford_pets", "images", "split_zhou_OxfordPets.json", PETS_SPLIT)
    (tmp_path / "oxford_pets" / "split_zhou_OxfordPets.json").unlink()
    monkeypatch.setenv("SPECIARL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        coop.OXFORD_PETS.split_file.__class__,
        "url",
        property(lambda self: "http://127.0.0.1:9/split.json"),
    )
    with pytest.raises(DatasetError, match=r"split_zhou_OxfordPets\.json is neither in"):
        get_dataset("oxford_pets").load("test", root=tmp_path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda root: None, "dataset root .* does not exist"),
        (
            lambda root: make_cub(root) and (root / "CUB_200_2011" / "images.txt").unlink(),
            "missing file .*images.txt",
        ),
        (
            lambda root: (
                make_cub(root) and (root / "CUB_200_2011" / "classes.txt").write_text("1\n")
            ),
            "classes.txt:1: expected",
        ),
        (lambda root: (root / "CUB_200_2011").mkdir(parents=True), "cannot find train_test_split"),
    ],
)
def test_cub_bad_roots_are_named(tmp_path, mutate, message):
    root = tmp_path / "data"
    mutate(root)
    with pytest.raises(DatasetError, match=message):
        get_dataset("cub200").load("train", root=root)


def test_missing_root_option_and_empty_split(tmp_path):
    with pytest.raises(DatasetError, match="give the dataset root"):
        get_dataset("cub200").load("train")
    entries = {"train": [], "val": [], "test": []}
    make_coop(tmp_path, "oxford_pets", "images", "split_zhou_OxfordPets.json", entries)
    (tmp_path / "oxford_pets" / "images").mkdir(parents=True, exist_ok=True)
    with pytest.raises(DatasetError, match="split 'test' is empty"):
        get_dataset("oxford_pets").load("test", root=tmp_path)


def test_malformed_split_file_is_named(tmp_path):
    folder = make_coop(tmp_path, "oxford_pets", "images", "split_zhou_OxfordPets.json", PETS_SPLIT)
    (folder / "split_zhou_OxfordPets.json").write_text(json.dumps({"test": [["a.jpg", "x", 1]]}))
    with pytest.raises(DatasetError, match=r"test\[0\] should be"):
        get_dataset("oxford_pets").load("test", root=tmp_path)


def test_corrupt_and_missing_images_raise_with_the_sample_id(tmp_path):
    folder = make_cub(tmp_path)
    write_image(folder / "images" / "014.Indigo_Bunting/Indigo_Bunting_0003.jpg", b"not a jpeg")
    (folder / "images" / "001.Black_footed_Albatross/Black_Footed_Albatross_0002.jpg").unlink()
    test = get_dataset("cub200").load("test", root=tmp_path)
    with pytest.raises(ImageReadError, match="cub200/test/0: cannot read"):
        test[0].image_bytes()
    with pytest.raises(ImageReadError, match="cub200/test/1: corrupt image"):
        test[1].image()


def test_loading_reads_no_image(tmp_path, monkeypatch):
    make_cub(tmp_path)
    from pathlib import Path

    def refuse(self):
        raise AssertionError(f"read {self} while loading")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert len(get_dataset("cub200").load("train", root=tmp_path)) == 3


def test_pets_labels_are_the_same_from_the_split_file_and_a_hub_copy():
    spec = get_dataset("oxford_pets")
    assert spec.clean_label("Abyssinian") == spec.clean_label("abyssinian") == "abyssinian"
    assert spec.clean_label("american_bulldog") == "american bulldog"
    assert get_dataset("caltech101").clean_label("Faces_easy") == "face"
