import json

from PIL import Image
from typer.testing import CliRunner

from data_fixtures import make_cub, write_image
from speciarl.cli import app

runner = CliRunner()


def test_data_list_names_every_dataset():
    result = runner.invoke(app, ["data", "list"])
    assert result.exit_code == 0, result.output
    for name in (
        "cub200",
        "fgvc_aircraft",
        "flowers102",
        "food101",
        "oxford_pets",
        "stanford_cars",
        "caltech101",
        "synthetic",
    ):
        assert name in result.stdout
    assert "tanganke/stanford_cars" in result.stdout


def test_data_build_with_subset(tmp_path):
    out = tmp_path / "built"
    result = runner.invoke(
        app, ["data", "build", "synthetic", "--split", "train", "--subset", "12", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["rows"] == 12 and manifest["subset"] == 12 and manifest["dataset"] == "synthetic"
    )


def test_data_build_reports_corrupt_images(tmp_path):
    folder = make_cub(tmp_path / "data")
    write_image(folder / "images" / "014.Indigo_Bunting/Indigo_Bunting_0003.jpg", b"bad")
    result = runner.invoke(
        app,
        [
            "data",
            "build",
            "cub200",
            "--split",
            "test",
            "--root",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "unreadable: cub200/test/1" in result.stderr
    assert "1 unreadable image(s)" in result.stderr


def test_data_build_mixed(tmp_path):
    make_cub(tmp_path / "data")
    result = runner.invoke(
        app,
        [
            "data",
            "build",
            "mixed",
            "--part",
            "cub200:train:2",
            "--part",
            "synthetic:test:3",
            "--root",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "mixed"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "mixed" / "manifest.json").read_text())["rows"] == 5


def test_data_build_errors_are_named(tmp_path):
    cases = [
        (["data", "build", "birds", "--out", str(tmp_path / "o")], "unknown dataset 'birds'"),
        (["data", "build", "cub200", "--out", str(tmp_path / "o")], "give the dataset root"),
        (
            ["data", "build", "cub200", "--root", str(tmp_path / "none"), "--out", str(tmp_path)],
            "does not exist",
        ),
        (
            ["data", "build", "synthetic", "--split", "dev", "--out", str(tmp_path)],
            "unknown split 'dev'",
        ),
        (
            ["data", "build", "synthetic", "--layout", "xml", "--out", str(tmp_path)],
            "unknown layout 'xml'",
        ),
        (
            ["data", "build", "synthetic", "--prompt", "terse", "--out", str(tmp_path)],
            "unknown prompt 'terse'",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)


def test_data_show_writes_a_png_grid(tmp_path):
    out = tmp_path / "grid.png"
    result = runner.invoke(app, ["data", "show", "synthetic", "--count", "8", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with Image.open(out) as grid:
        assert grid.format == "PNG"
        assert grid.width == 6 * 160 and grid.height > 2 * 160


def test_judge_with_a_dataset_hierarchy(tmp_path):
    pairs = tmp_path / "p.jsonl"
    pairs.write_text(
        json.dumps({"ground_truth": "striped red circle", "prediction": "red circle"}) + "\n"
    )
    out = tmp_path / "o.jsonl"
    result = runner.invoke(
        app, ["judge", "--pairs", str(pairs), "--dataset", "synthetic", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["verdict"] == "less specific"
    both = runner.invoke(
        app,
        [
            "judge",
            "--pairs",
            str(pairs),
            "--dataset",
            "synthetic",
            "--hierarchy",
            str(tmp_path / "h.yaml"),
            "--out",
            str(out),
        ],
    )
    assert both.exit_code == 2 and "not both" in both.stderr


def test_judge_builds_the_aircraft_hierarchy_from_the_dataset_root(tmp_path):
    from data_fixtures import make_aircraft

    make_aircraft(tmp_path / "data")
    pairs = tmp_path / "p.jsonl"
    rows = [
        {"ground_truth": "707-320", "prediction": "Boeing 707"},
        {"ground_truth": "707-320", "prediction": "Boeing"},
        {"ground_truth": "F-16A/B", "prediction": "A300B4"},
    ]
    pairs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "o.jsonl"
    result = runner.invoke(
        app,
        [
            "judge",
            "--pairs",
            str(pairs),
            "--judge",
            "taxonomy",
            "--dataset",
            "fgvc_aircraft",
            "--root",
            str(tmp_path / "data"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    verdicts = [json.loads(line)["verdict"] for line in out.read_text().splitlines()]
    assert verdicts == ["less specific", "generic", "wrong"]
