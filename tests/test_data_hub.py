import datasets
import pytest

from data_fixtures import jpeg
from speciarl.data.errors import DatasetError
from speciarl.data.registry import get_dataset


def save_hub_copy(folder, splits, names):
    """A local copy laid out as a Hub dataset repository: data/<split>-*.parquet."""
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=names)}
    )
    for split, rows in splits.items():
        table = datasets.Dataset.from_dict(
            {
                "image": [{"bytes": data, "path": None} for data, _ in rows],
                "label": [label for _, label in rows],
            },
            features=features,
        )
        table.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return str(folder)


@pytest.fixture
def cars_copy(tmp_path):
    names = ["AM General Hummer SUV 2000", "Tesla Model S Sedan 2012"]
    red, blue = jpeg((200, 0, 0)), jpeg((0, 0, 200))
    return (
        save_hub_copy(
            tmp_path / "stanford_cars", {"train": [(red, 0)], "test": [(blue, 1), (red, 0)]}, names
        ),
        red,
        blue,
    )


def test_hub_path_reads_a_local_datasets_copy(cars_copy):
    folder, _red, blue = cars_copy
    test = get_dataset("stanford_cars").load("test", source="hub", hub_id=folder)
    assert [s.label for s in test] == ["Tesla Model S Sedan 2012", "AM General Hummer SUV 2000"]
    assert [s.sample_id for s in test] == ["stanford_cars/test/0", "stanford_cars/test/1"]
    assert test[0].image_bytes() == blue  # original bytes, not re-encoded
    assert test[1].image().getpixel((5, 5))[0] > 150


def test_hub_split_names_are_mapped(tmp_path):
    folder = save_hub_copy(tmp_path / "food", {"validation": [(jpeg(), 0)]}, ["apple_pie"])
    test = get_dataset("food101").load("test", source="hub", hub_id=folder)
    assert [s.label for s in test] == ["apple pie"]
    assert test[0].class_id == "apple_pie"


def test_hub_copy_without_a_label_column_is_refused(tmp_path):
    table = datasets.Dataset.from_dict(
        {"image": [{"bytes": jpeg(), "path": None}], "name": ["x"]},
        features=datasets.Features({"image": datasets.Image(), "name": datasets.Value("string")}),
    )
    table.to_parquet(str(tmp_path / "copy" / "data" / "test-00000-of-00001.parquet"))
    with pytest.raises(DatasetError, match="exactly one class label column"):
        get_dataset("stanford_cars").load("test", source="hub", hub_id=str(tmp_path / "copy"))


def test_unreachable_hub_copy_is_named(tmp_path):
    with pytest.raises(DatasetError, match="cannot load split 'test'"):
        get_dataset("stanford_cars").load("test", source="hub", hub_id=str(tmp_path / "absent"))


def test_unknown_source_is_named():
    with pytest.raises(DatasetError, match="unknown source 'ftp'"):
        get_dataset("stanford_cars").load("test", source="ftp")
