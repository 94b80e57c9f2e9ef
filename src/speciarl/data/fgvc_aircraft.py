"""FGVC-Aircraft 2013b at variant level (100 variants); splits from ``images_variant_*.txt``."""

from __future__ import annotations

from pathlib import Path

from speciarl.data.annotations import find_root, read_id_value_lines
from speciarl.data.archives import Download
from speciarl.data.sample import Sample, file_reader

NAME = "fgvc_aircraft"
SPLITS = ("train", "val", "trainval", "test")
HOMEPAGE = "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/"
DOWNLOADS = (
    Download(
        "https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",
        "fgvc-aircraft-2013b.tar.gz",
    ),
)
LAYOUT = """fgvc-aircraft-2013b/data/   (or that data/ folder itself)
  images/<image id>.jpg
  images_variant_{train,val,trainval,test}.txt  variants.txt  families.txt  manufacturers.txt
  images_family_*.txt  images_manufacturer_*.txt"""


def clean_label(class_id: str) -> str:
    """Variant names are already clean (``707-320``, ``F-16A/B``)."""
    return " ".join(class_id.split())


def data_folder(root: Path) -> Path:
    """The ``data`` folder of the archive, whichever level ``root`` points at."""
    return find_root(root, "images_variant_test.txt", ("data", "fgvc-aircraft-2013b/data"), NAME)


def load(root: Path, split: str) -> list[Sample]:
    folder = data_folder(root)
    rows = read_id_value_lines(folder / f"images_variant_{split}.txt", NAME)
    samples = []
    for index, (image_id, variant) in enumerate(rows):
        path = folder / "images" / f"{image_id}.jpg"
        samples.append(
            Sample(NAME, split, index, clean_label(variant), variant, file_reader(path), str(path))
        )
    return samples
