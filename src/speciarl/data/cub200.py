"""CUB-200-2011: 200 bird species; official train/test split from ``train_test_split.txt``."""

from __future__ import annotations

import re
from pathlib import Path

from speciarl.data.annotations import find_root, read_id_value_lines
from speciarl.data.archives import Download
from speciarl.data.errors import DatasetError
from speciarl.data.sample import Sample, file_reader

NAME = "cub200"
SPLITS = ("train", "test")
HOMEPAGE = "https://www.vision.caltech.edu/datasets/cub_200_2011/"
DOWNLOADS = (
    Download(
        "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
        "CUB_200_2011.tgz",
        md5="97eceeb196236b17998738112f37df78",
    ),
)
LAYOUT = """CUB_200_2011/
  images/001.Black_footed_Albatross/*.jpg ...
  images.txt  image_class_labels.txt  classes.txt  train_test_split.txt"""

_NUMBER_PREFIX = re.compile(r"^\d+\.")


def clean_label(class_id: str) -> str:
    """``001.Black_footed_Albatross`` -> ``Black footed Albatross``."""
    return " ".join(_NUMBER_PREFIX.sub("", class_id).replace("_", " ").split())


def load(root: Path, split: str) -> list[Sample]:
    folder = find_root(root, "train_test_split.txt", ("CUB_200_2011",), NAME)
    images = dict(read_id_value_lines(folder / "images.txt", NAME))
    classes = dict(read_id_value_lines(folder / "classes.txt", NAME))
    image_class = dict(read_id_value_lines(folder / "image_class_labels.txt", NAME))
    is_train = dict(read_id_value_lines(folder / "train_test_split.txt", NAME))
    wanted = "1" if split == "train" else "0"
    chosen = sorted((image_id for image_id, flag in is_train.items() if flag == wanted), key=int)
    samples = []
    for index, image_id in enumerate(chosen):
        try:
            path = folder / "images" / images[image_id]
            class_id = classes[image_class[image_id]]
        except KeyError as missing:
            raise DatasetError(f"{NAME}: image {image_id} has no entry for {missing}") from None
        samples.append(
            Sample(
                NAME, split, index, clean_label(class_id), class_id, file_reader(path), str(path)
            )
        )
    return samples
