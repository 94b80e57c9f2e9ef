"""The README's "Your own dataset in five commands", run as written on a generated ImageFolder
dataset with the tiny local model: a guide a newcomer copies must work line by line."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from data_fixtures import jpeg, write_image
from speciarl.judges.hierarchy import Hierarchy

ROOT = Path(__file__).resolve().parents[1]
HEADING = "## Your own dataset in five commands"
CLASSES = {
    "golden_winged_warbler": (200, 180, 40),
    "blue_winged_warbler": (40, 90, 200),
    "house_sparrow": (120, 90, 60),
}
TRAIN_PER_CLASS, TEST_PER_CLASS = 4, 2


def guide_script() -> str:
    """The guide's first bash block, as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split(HEADING, 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


def make_imagefolder(root: Path) -> None:
    for split, count in (("train", TRAIN_PER_CLASS), ("test", TEST_PER_CLASS)):
        for name, colour in CLASSES.items():
            for number in range(count):
                shade = tuple(min(255, c + 9 * number) for c in colour)
                write_image(root / split / name / f"img{number}.jpg", jpeg(shade, size=56))


def test_the_guide_names_its_variables_and_five_commands():
    script = guide_script()
    assert re.search(r"^MODEL=\S+", script, re.MULTILINE)
    assert re.search(r"^DATA=mydata\b", script, re.MULTILINE)
    commands = [line for line in script.splitlines() if line.startswith(".venv/bin/speciarl")]
    assert [line.split()[1] for line in commands] == ["data", "hierarchy", "data", "train", "eval"]


def test_the_guide_runs_as_written(tmp_path, tiny_model):
    """Only ``MODEL=`` changes (the guide asks the reader to set it): to the tiny model."""
    work = tmp_path / "work"
    (work / ".venv" / "bin").mkdir(parents=True)
    (work / ".venv" / "bin" / "speciarl").symlink_to(Path(sys.executable).parent / "speciarl")
    (work / "configs").symlink_to(ROOT / "configs")
    make_imagefolder(work / "mydata")
    script = re.sub(r"^MODEL=\S+", f"MODEL={tiny_model}", guide_script(), flags=re.MULTILINE)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    built = json.loads((work / "runs/mydata/train/manifest.json").read_text())
    assert built["rows"] == TRAIN_PER_CLASS * len(CLASSES) and built["failures"] == []

    drafted = yaml.safe_load((work / "mydata-hierarchy.yaml").read_text())
    assert drafted["closed_world"] is False
    [warbler] = Hierarchy.load(work / "mydata-hierarchy.yaml").resolve("warbler")
    assert {child.name for child in warbler.children} == {
        "golden winged warbler",
        "blue winged warbler",
    }
    assert re.search(r"^labels\s+3$", done.stdout, re.MULTILINE)
    assert re.search(r"^missing\s+0$", done.stdout, re.MULTILINE)
    assert "missing from the judge's hierarchy" not in done.stderr

    assert (work / "runs/own_data_smoke/adapter/adapter_config.json").is_file()
    report = json.loads((work / "runs/mydata/eval/report.json").read_text())
    assert set(report["datasets"]) == {"mydata"}
    assert report["datasets"]["mydata"]["n_images"] == TEST_PER_CLASS * len(CLASSES)


@pytest.mark.parametrize("name", ["own_data", "own_data_smoke"])
def test_the_guides_recipes_dry_run_on_the_guides_data(tmp_path, tiny_model, name):
    """The full and the smoke run's recipes pass their start-up checks on the guide's data."""
    from typer.testing import CliRunner

    from speciarl.cli import app

    make_imagefolder(tmp_path / "mydata")
    draft = CliRunner().invoke(
        app,
        [
            "hierarchy",
            "draft",
            "--dataset",
            str(tmp_path / "mydata"),
            "--out",
            str(tmp_path / "h.yaml"),
        ],
    )
    assert draft.exit_code == 0, draft.output
    result = CliRunner().invoke(
        app,
        [
            "train",
            "--config",
            str(ROOT / "configs" / f"{name}.yaml"),
            f"model={tiny_model}",
            f"data.dataset={tmp_path / 'mydata'}",
            f"judge.hierarchy={tmp_path / 'h.yaml'}",
            "judge.endpoint=null",
            "judge.model=null",
            f"output_dir={tmp_path / 'run'}",
            "--dry-run",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "as dataset mydata (image folder with split folders" in result.output
