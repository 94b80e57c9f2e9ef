"""Stanford Cars: 196 year-model classes; official train/test from the devkit annotations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from speciarl.data.annotations import find_root, require_file
from speciarl.data.archives import Download
from speciarl.data.errors import DatasetError
from speciarl.data.sample import Sample, file_reader

NAME = "stanford_cars"
SPLITS = ("train", "test")
HOMEPAGE = "https://ai.stanford.edu/~jkrause/cars/car_dataset.html"
DOWNLOADS = (
    Download("http://ai.stanford.edu/~jkrause/car196/cars_train.tgz", "cars_train.tgz"),
    Download("http://ai.stanford.edu/~jkrause/car196/cars_test.tgz", "cars_test.tgz"),
    Download("https://ai.stanford.edu/~jkrause/cars/car_devkit.tgz", "car_devkit.tgz"),
    Download(
        "http://ai.stanford.edu/~jkrause/car196/cars_test_annos_withlabels.mat",
        "cars_test_annos_withlabels.mat",
        extract=False,
    ),
)
LAYOUT = """stanford_cars/
  cars_train/*.jpg  cars_test/*.jpg
  devkit/cars_meta.mat  devkit/cars_train_annos.mat
  cars_test_annos_withlabels.mat"""

_ANNOTATIONS = {
    "train": ("devkit/cars_train_annos.mat", "cars_train"),
    "test": ("cars_test_annos_withlabels.mat", "cars_test"),
}


def clean_label(class_id: str) -> str:
    """Class names are already clean (``AM General Hummer SUV 2000``)."""
    return " ".join(class_id.split())


def _loadmat(path: Path) -> dict[str, Any]:
    from scipy.io import loadmat

    try:
        return loadmat(path, squeeze_me=True)
    except (ValueError, TypeError, OSError) as error:
        raise DatasetError(f"{NAME}: cannot read {path}: {error}") from None


def load(root: Path, split: str) -> list[Sample]:
    folder = find_root(root, "devkit", ("stanford_cars",), NAME)
    class_names = [
        str(name)
        for name in _loadmat(require_file(folder / "devkit" / "cars_meta.mat", NAME))["class_names"]
    ]
    annotation_file, image_folder = _ANNOTATIONS[split]
    annotations = _loadmat(require_file(folder / annotation_file, NAME))["annotations"]
    samples = []
    for index, record in enumerate(annotations.reshape(-1)):
        class_number = int(record["class"])
        if not 1 <= class_number <= len(class_names):
            raise DatasetError(
                f"{NAME}: {annotation_file} entry {index} has class {class_number}, "
                f"outside 1..{len(class_names)}"
            )
        name = class_names[class_number - 1]
        path = folder / image_folder / str(record["fname"])
        samples.append(
            Sample(NAME, split, index, clean_label(name), name, file_reader(path), str(path))
        )
    return samples
