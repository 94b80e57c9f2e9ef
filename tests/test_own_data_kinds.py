"""Each kind of user dataset (an image folder, a CSV manifest, a Parquet file, a Hugging Face
dataset) through the three doors a user takes: ``speciarl data build``, a training recipe (its
start-up checks and the training set it builds) and ``speciarl eval`` with the tiny model."""

import json
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from data_fixtures import jpeg, write_image
from speciarl.cli import app
from speciarl.train.config import load_config
from speciarl.train.preflight import inspect
from speciarl.train.setup import prepare_dataset

CONFIGS = Path(__file__).parents[1] / "configs"
CLASSES = {"tree_frog": (40, 160, 40), "cane_toad": (150, 110, 60)}
COUNTS = {"train": 4, "test": 2}
HIERARCHY = """name: amphibians
roots:
  - name: amphibian
    rank: broad
    children:
      - {name: tree frog}
      - {name: cane toad}
"""
runner = CliRunner()


def images() -> list[tuple[str, str, bytes]]:
    """(split, class id, image bytes), every image distinct."""
    made = []
    for split, count in COUNTS.items():
        for class_id, colour in CLASSES.items():
            for number in range(count):
                shade = tuple(min(255, c + 11 * number + (split == "test")) for c in colour)
                made.append((split, class_id, jpeg(shade, size=32)))
    return made


def image_folder(root: Path) -> str:
    for number, (split, class_id, data) in enumerate(images()):
        write_image(root / "frogs" / split / class_id / f"{number:02d}.jpg", data)
    return str(root / "frogs")


def csv_manifest(root: Path) -> str:
    lines = ["image,label,split"]
    for number, (split, class_id, data) in enumerate(images()):
        write_image(root / "pictures" / f"{number:02d}.jpg", data)
        lines.append(f"pictures/{number:02d}.jpg,{class_id},{split}")
    (root / "frogs.csv").write_text("\n".join(lines) + "\n")
    return str(root / "frogs.csv")


def parquet_file(root: Path) -> str:
    made = images()
    table = datasets.Dataset.from_dict(
        {
            "photo": [{"bytes": data, "path": None} for _, _, data in made],
            "species": [class_id for _, class_id, _ in made],
            "split": [split for split, _, _ in made],
        },
        features=datasets.Features(
            {
                "photo": datasets.Image(),
                "species": datasets.Value("string"),
                "split": datasets.Value("string"),
            }
        ),
    )
    table.to_parquet(str(root / "frogs.parquet"))
    return str(root / "frogs.parquet") + "?label=species"


def hub_dataset(root: Path) -> str:
    names = list(CLASSES)
    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=names)}
    )
    made = images()
    datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {
                    "image": [{"bytes": d, "path": None} for s, _, d in made if s == split],
                    "label": [names.index(c) for s, c, _ in made if s == split],
                },
                features=features,
            )
            for split in COUNTS
        }
    ).save_to_disk(str(root / "frogs"))
    return f"hub:{root / 'frogs'}"


KINDS = {
    "image-folder": image_folder,
    "csv": csv_manifest,
    "parquet": parquet_file,
    "hub": hub_dataset,
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_users_dataset_builds_trains_and_evaluates(tmp_path, tiny_model, kind):
    reference = KINDS[kind](tmp_path)
    (tmp_path / "amphibians.yaml").write_text(HIERARCHY)

    built = runner.invoke(
        app, ["data", "build", reference, "--split", "train", "--out", str(tmp_path / "built")]
    )
    assert built.exit_code == 0, built.output
    manifest = json.loads((tmp_path / "built" / "manifest.json").read_text())
    assert (manifest["dataset"], manifest["rows"], manifest["failures"]) == ("frogs", 8, [])

    config = load_config(
        CONFIGS / "synthetic_tiny.yaml",
        [
            f"model={tiny_model}",
            f"data.dataset={reference}",
            "data.subset=4",
            f"judge.hierarchy={tmp_path / 'amphibians.yaml'}",
            f"output_dir={tmp_path / 'run'}",
        ],
    )
    findings = inspect(config)
    assert findings.problems == [] and findings.warnings == []
    training = prepare_dataset(config, tmp_path / "run")
    assert len(training) == 4
    assert all(sample_id.startswith("frogs/train/") for sample_id in training["sample_id"])
    assert set(training["label"]) <= {"tree frog", "cane toad"}

    evaluated = runner.invoke(
        app,
        [
            "eval",
            "--model",
            str(tiny_model),
            "--datasets",
            reference,
            "--hierarchy",
            str(tmp_path / "amphibians.yaml"),
            "--out",
            str(tmp_path / "eval"),
        ],
    )
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert list(report["datasets"]) == ["frogs"]
    assert report["datasets"]["frogs"]["n_images"] == 4  # the test split
    predictions = (tmp_path / "eval" / "frogs" / "predictions.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["sample_id"] for line in predictions) == [
        f"frogs/test/{index}" for index in range(4)
    ]
