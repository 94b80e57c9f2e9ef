"""Tiny dataset trees in each official layout, built on disk for the loader tests."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image


def jpeg(colour: tuple[int, int, int] = (200, 30, 30), size: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def write_image(path: Path, data: bytes | None = None) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = jpeg() if data is None else data
    path.write_bytes(payload)
    return payload


def make_cub(root: Path) -> Path:
    """CUB_200_2011 with 2 classes, 5 images: ids 1,3,4 train; 2,5 test."""
    folder = root / "CUB_200_2011"
    classes = {1: "001.Black_footed_Albatross", 2: "014.Indigo_Bunting"}
    images = {
        1: (1, "001.Black_footed_Albatross/Black_Footed_Albatross_0001.jpg"),
        2: (1, "001.Black_footed_Albatross/Black_Footed_Albatross_0002.jpg"),
        3: (2, "014.Indigo_Bunting/Indigo_Bunting_0001.jpg"),
        4: (2, "014.Indigo_Bunting/Indigo_Bunting_0002.jpg"),
        5: (2, "014.Indigo_Bunting/Indigo_Bunting_0003.jpg"),
    }
    train = {1: 1, 2: 0, 3: 1, 4: 1, 5: 0}
    folder.mkdir(parents=True)
    (folder / "classes.txt").write_text("".join(f"{k} {v}\n" for k, v in classes.items()))
    (folder / "images.txt").write_text("".join(f"{k} {v[1]}\n" for k, v in images.items()))
    (folder / "image_class_labels.txt").write_text(
        "".join(f"{k} {v[0]}\n" for k, v in images.items())
    )
    (folder / "train_test_split.txt").write_text("".join(f"{k} {v}\n" for k, v in train.items()))
    for image_id, (_, relative) in images.items():
        write_image(folder / "images" / relative, jpeg((image_id * 40, 10, 10)))
    return folder


def make_aircraft(root: Path) -> Path:
    """fgvc-aircraft-2013b/data with 3 variants."""
    folder = root / "fgvc-aircraft-2013b" / "data"
    rows = {
        "train": [("0001", "707-320"), ("0002", "A300B4")],
        "val": [("0003", "F-16A/B")],
        "trainval": [("0001", "707-320"), ("0002", "A300B4"), ("0003", "F-16A/B")],
        "test": [("0004", "707-320"), ("0005", "F-16A/B")],
    }
    families = {
        "0001": "Boeing 707",
        "0002": "A300",
        "0003": "F-16",
        "0004": "Boeing 707",
        "0005": "F-16",
    }
    makers = {
        "0001": "Boeing",
        "0002": "Airbus",
        "0003": "Lockheed Martin",
        "0004": "Boeing",
        "0005": "Lockheed Martin",
    }
    folder.mkdir(parents=True)
    for split, entries in rows.items():
        (folder / f"images_variant_{split}.txt").write_text(
            "".join(f"{i} {v}\n" for i, v in entries)
        )
        (folder / f"images_family_{split}.txt").write_text(
            "".join(f"{i} {families[i]}\n" for i, _ in entries)
        )
        (folder / f"images_manufacturer_{split}.txt").write_text(
            "".join(f"{i} {makers[i]}\n" for i, _ in entries)
        )
    (folder / "variants.txt").write_text("707-320\nA300B4\nF-16A/B\n")
    for image_id in families:
        write_image(folder / "images" / f"{image_id}.jpg")
    return folder


def make_cars(root: Path) -> Path:
    """stanford_cars with 2 classes in the devkit .mat format."""
    import numpy as np
    from scipy.io import savemat

    folder = root / "stanford_cars"
    (folder / "devkit").mkdir(parents=True)
    names = np.array(["AM General Hummer SUV 2000", "Tesla Model S Sedan 2012"], dtype=object)
    savemat(folder / "devkit" / "cars_meta.mat", {"class_names": names[np.newaxis, :]})

    def annotations(entries: list[tuple[str, int]]) -> np.ndarray:
        table = np.zeros((1, len(entries)), dtype=[("fname", "O"), ("class", "O")])
        for position, (fname, label) in enumerate(entries):
            table[0, position] = (fname, np.array([[label]], dtype=np.uint8))
        return table

    train = [("00001.jpg", 1), ("00002.jpg", 2), ("00003.jpg", 2)]
    test = [("00001.jpg", 2), ("00002.jpg", 1)]
    savemat(folder / "devkit" / "cars_train_annos.mat", {"annotations": annotations(train)})
    savemat(folder / "cars_test_annos_withlabels.mat", {"annotations": annotations(test)})
    for fname, _ in train:
        write_image(folder / "cars_train" / fname)
    for fname, _ in test:
        write_image(folder / "cars_test" / fname)
    return folder


def make_coop(
    root: Path, folder_name: str, image_folder: str, split_file: str, entries: dict[str, list[list]]
) -> Path:
    """A CoOp-layout dataset folder with its split file and the images it lists."""
    folder = root / folder_name
    for rows in entries.values():
        for relative, _, _ in rows:
            write_image(folder / image_folder / relative)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / split_file).write_text(json.dumps(entries))
    return folder


PETS_SPLIT = {
    "train": [
        ["Abyssinian_1.jpg", 0, "abyssinian"],
        ["american_bulldog_1.jpg", 1, "american_bulldog"],
    ],
    "val": [["Abyssinian_2.jpg", 0, "abyssinian"]],
    "test": [
        ["american_bulldog_2.jpg", 1, "american_bulldog"],
        ["Abyssinian_3.jpg", 0, "abyssinian"],
    ],
}
