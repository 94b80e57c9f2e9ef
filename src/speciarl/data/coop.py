"""Flowers102, Food101, Oxford-IIIT Pets and Caltech101 through the CoOp split files.

The four share one loader: the split file lists, per split, each image's path under an image
folder, its class index and its class name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from speciarl.data.archives import Download
from speciarl.data.errors import DatasetError
from speciarl.data.sample import Sample, file_reader
from speciarl.data.splitfiles import (
    COOP_SPLITS,
    SplitFile,
    SplitFileError,
    locate_split_file,
    read_split,
)


@dataclass(frozen=True, slots=True)
class CoopDataset:
    """How one CoOp-split dataset is laid out on disk and where its files come from."""

    name: str
    folder: str
    """The dataset folder CoOp's instructions create under the data root."""
    image_folder: str
    split_file: SplitFile
    homepage: str
    downloads: tuple[Download, ...]
    layout: str
    splits: tuple[str, ...] = COOP_SPLITS
    renames: Mapping[str, str] = field(default_factory=dict)
    """Raw class ids renamed to the split file's class name (Caltech's folder ``Faces`` ->
    ``face``), so that a label is the same whichever source the class id came from."""
    lower_case: bool = False
    """CoOp lower-cases Pets breeds; Hub copies keep the archive's capitals (``Abyssinian``)."""

    def clean_label(self, class_id: str) -> str:
        """The class name with CoOp's renames, underscores as spaces: the same label whichever
        source (split file or Hub copy) the class id came from."""
        name = " ".join(self.renames.get(class_id, class_id).replace("_", " ").split())
        return name.lower() if self.lower_case else name

    def dataset_folder(self, root: Path) -> Path:
        if not root.is_dir():
            raise DatasetError(f"{self.name}: dataset root {root} does not exist")
        for folder in (root, root / self.folder):
            if (folder / self.image_folder).is_dir():
                return folder
        raise DatasetError(
            f"{self.name}: cannot find the image folder {self.image_folder!r} in {root} "
            f"or {root / self.folder}"
        )

    def load(self, root: Path, split: str) -> list[Sample]:
        folder = self.dataset_folder(root)
        try:
            entries = read_split(locate_split_file(self.split_file, folder), split)
        except SplitFileError as error:
            raise DatasetError(f"{self.name}: {error}") from None
        images = folder / self.image_folder
        return [
            Sample(
                self.name,
                split,
                index,
                self.clean_label(entry.class_name),
                entry.class_name,
                file_reader(images / entry.image),
                str(images / entry.image),
            )
            for index, entry in enumerate(entries)
        ]


FLOWERS102 = CoopDataset(
    name="flowers102",
    folder="oxford_flowers",
    image_folder="jpg",
    split_file=SplitFile("split_zhou_OxfordFlowers.json", "1Pp0sRXzZFZq15zVOzKjKBu4A9i01nozT"),
    homepage="https://www.robots.ox.ac.uk/~vgg/data/flowers/102/",
    downloads=(
        Download(
            "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",
            "102flowers.tgz",
            md5="52808999861908f626f3c1f4e79d11fa",
        ),
        Download(
            "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat",
            "imagelabels.mat",
            md5="e0620be6f572b9609742df49c70aed4d",
            extract=False,
        ),
    ),
    # Widely copied lists of the class names write class 78 as "lotus lotus";
    # cat_to_name.json and CoOp's split file say "lotus".
    renames={"lotus lotus": "lotus"},
    layout="""oxford_flowers/
  jpg/image_00001.jpg ...
  split_zhou_OxfordFlowers.json   (fetched and cached if absent)""",
)

FOOD101 = CoopDataset(
    name="food101",
    folder="food-101",
    image_folder="images",
    split_file=SplitFile("split_zhou_Food101.json", "1QK0tGi096I0Ba6kggatX1ee6dJFIcEJl"),
    homepage="https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/",
    downloads=(
        Download(
            "http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz",
            "food-101.tar.gz",
            md5="85eeb15f3717b99a5da872d97d918f87",
        ),
    ),
    layout="""food-101/
  images/apple_pie/*.jpg ...
  meta/classes.txt
  split_zhou_Food101.json   (fetched and cached if absent)""",
)

OXFORD_PETS = CoopDataset(
    name="oxford_pets",
    folder="oxford_pets",
    image_folder="images",
    split_file=SplitFile("split_zhou_OxfordPets.json", "1501r8Ber4nNKvmlFVQZ8SeUHTcdTTEqs"),
    lower_case=True,
    homepage="https://www.robots.ox.ac.uk/~vgg/data/pets/",
    downloads=(
        Download(
            "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz",
            "images.tar.gz",
            md5="5c4f3ee8e5d25df40f4fd59a7f44e54c",
        ),
        Download(
            "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz",
            "annotations.tar.gz",
            md5="95a8c909bbe2e81eed6a22bccdf3f68f",
        ),
    ),
    layout="""oxford_pets/
  images/Abyssinian_1.jpg ...
  annotations/
  split_zhou_OxfordPets.json   (fetched and cached if absent)""",
)

CALTECH101 = CoopDataset(
    name="caltech101",
    folder="caltech-101",
    image_folder="101_ObjectCategories",
    split_file=SplitFile("split_zhou_Caltech101.json", "1hyarUivQE36mY6jSomru6Fjd-JzwcCzN"),
    # CoOp's names for four 101_ObjectCategories folders. CoOp's split uses the ``Faces``
    # folder and leaves ``Faces_easy`` (the same faces, cropped) out; a copy that keeps
    # ``Faces_easy`` in its place still gets the label ``face``.
    renames={
        "airplanes": "airplane",
        "Faces": "face",
        "Faces_easy": "face",
        "Leopards": "leopard",
        "Motorbikes": "motorbike",
    },
    homepage="https://data.caltech.edu/records/mzrjq-6wc02",
    downloads=(
        Download(
            "https://drive.google.com/uc?export=download&id=137RyRjvTBkBiIfeYBNZBtViDHQ6_Ewsp",
            "101_ObjectCategories.tar.gz",
            md5="b224c7392d521a49829488ab0f1120d9",
        ),
    ),
    layout="""caltech-101/
  101_ObjectCategories/accordion/image_0001.jpg ...
  split_zhou_Caltech101.json   (fetched and cached if absent)""",
)
