import json

import pytest

from data_fixtures import make_aircraft, make_cub, write_image
from speciarl.data.build import build_split, conversation, load_built
from speciarl.data.errors import DatasetError
from speciarl.data.prepare import PartRequest, select_mixture, select_samples
from speciarl.data.subsets import take_subset
from speciarl.prompts import load_prompt


def test_build_writes_trl_conversational_parquet_and_manifest(tmp_path):
    make_cub(tmp_path / "data")
    samples = select_samples("cub200", "train", root=tmp_path / "data")
    prompt = load_prompt("general")
    report = build_split(samples, tmp_path / "out", prompt, metadata={"dataset": "cub200"})
    assert report.written == 3 and report.failures == []
    table = load_built(tmp_path / "out")
    assert table.column_names == [
        "sample_id",
        "data_source",
        "split",
        "index",
        "label",
        "class_id",
        "prompt",
        "image",
    ]
    row = table[0]
    assert row["prompt"] == conversation(prompt) == [{"role": "user", "content": prompt.text}]
    assert row["data_source"] == "cub200"
    assert row["sample_id"] == "cub200/train/0"
    assert row["image"].size == (24, 24)  # decodes back to a PIL image
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows"] == 3
    assert manifest["prompt"] == {"name": "general", "version": 1, "digest": prompt.digest}
    assert not list((tmp_path / "out").glob(".*tmp"))


def test_build_keeps_original_bytes(tmp_path):
    import pyarrow.parquet as pq

    make_cub(tmp_path / "data")
    samples = select_samples("cub200", "test", root=tmp_path / "data")
    build_split(samples, tmp_path / "out", load_prompt("general"))
    stored = pq.read_table(tmp_path / "out" / "data.parquet").column("image").to_pylist()
    assert [item["bytes"] for item in stored] == [s.image_bytes() for s in samples]


def test_corrupt_images_are_reported_by_id_and_counted(tmp_path):
    folder = make_cub(tmp_path / "data")
    write_image(folder / "images" / "014.Indigo_Bunting/Indigo_Bunting_0001.jpg", b"garbage")
    samples = select_samples("cub200", "train", root=tmp_path / "data")
    report = build_split(samples, tmp_path / "out", load_prompt("general"))
    assert report.written == 2
    assert [f["sample_id"] for f in report.failures] == ["cub200/train/1"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["failures"][0]["sample_id"] == "cub200/train/1"
    assert len(load_built(tmp_path / "out")) == 2


def test_subsets_are_seeded_and_keep_source_order(tmp_path):
    samples = select_samples("synthetic", "train")
    first = take_subset(samples, 50, seed=1)
    assert [s.sample_id for s in first] == [s.sample_id for s in take_subset(samples, 50, seed=1)]
    assert first != take_subset(samples, 50, seed=2)
    assert [s.index for s in first] == sorted(s.index for s in first)
    with pytest.raises(DatasetError, match="has 3 samples"):
        take_subset(samples[:3], 4)
    with pytest.raises(DatasetError, match="positive size"):
        take_subset(samples, 0)


def test_balanced_subsets_spread_over_classes():
    samples = select_samples("synthetic", "train")
    classes = {s.class_id for s in samples}
    chosen = take_subset(samples, 2 * len(classes), seed=0, balanced=True)
    counts = {}
    for sample in chosen:
        counts[sample.class_id] = counts.get(sample.class_id, 0) + 1
    assert set(counts.values()) == {2}


def test_mixed_sets_take_a_seeded_part_of_each(tmp_path):
    make_cub(tmp_path)
    make_aircraft(tmp_path)
    parts = [PartRequest.parse("cub200:train:2"), PartRequest.parse("fgvc_aircraft:trainval:2")]
    mixed = select_mixture(parts, root=tmp_path, seed=0)
    assert [s.dataset for s in mixed] == ["cub200", "cub200", "fgvc_aircraft", "fgvc_aircraft"]
    with pytest.raises(DatasetError, match="NAME:SPLIT:COUNT"):
        PartRequest.parse("cub200:train")
