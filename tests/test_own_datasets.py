"""Your own data through every door: a dataset reference (a folder, a CSV/JSONL/Parquet file, a
built folder, ``hub:``) loads as a shipped dataset does, with stable sample ids, through
``get_dataset``, ``speciarl data build``, a recipe's start-up checks and an evaluation plan."""

import json
from pathlib import Path

import datasets
import pytest
from typer.testing import CliRunner

from data_fixtures import jpeg, make_cub, write_image
from speciarl.cli import app
from speciarl.data.errors import DatasetError
from speciarl.data.prepare import PartRequest, select_samples
from speciarl.data.registry import REGISTRY, get_dataset
from speciarl.data.sample import ImageReadError
from speciarl.evaluate.plan import EvalPlan
from speciarl.train.config import load_config
from speciarl.train.preflight import Findings, check_data, inspect
from speciarl.train.setup import prepare_dataset
from test_data_hub import save_hub_copy

CONFIGS = Path(__file__).parents[1] / "configs"
runner = CliRunner()
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]


def class_folders(root: Path, counts: dict[str, int]) -> dict[str, list[bytes]]:
    """ROOT/<class>/<nn>.jpg, each image distinct; returns the bytes written per class."""
    written: dict[str, list[bytes]] = {}
    for offset, (name, count) in enumerate(counts.items()):
        for number in range(count):
            colour = COLOURS[(offset + number) % len(COLOURS)]
            data = jpeg(tuple(min(255, c + number) for c in colour), size=8)
            written.setdefault(name, []).append(
                write_image(root / name / f"{number:02d}.jpg", data)
            )
    return written


def ids_and_labels(spec, split):
    return [(s.sample_id, s.label, s.class_id) for s in spec.load(split)]


# --- image folders -----------------------------------------------------------------------------


def test_split_folders_keep_their_splits_and_sorted_order(tmp_path):
    root = tmp_path / "My Birds"
    train = class_folders(root / "train", {"001.Black_footed_Albatross": 2, "Indigo_Bunting": 1})
    class_folders(root / "val", {"Indigo_Bunting": 1})
    write_image(root / "train" / "Indigo_Bunting" / "UPPER.JPG")  # extensions: any case
    (root / "train" / "Indigo_Bunting" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("about")
    (root / ".hidden").mkdir()
    (root / "train" / "Indigo_Bunting" / ".DS_Store").write_text("")

    spec = get_dataset(str(root))
    assert spec.name == "my-birds" and spec.title == str(root) and spec.reference == str(root)
    assert spec.splits == ("train", "val") and not spec.needs_root
    assert ids_and_labels(spec, "train") == [
        ("my-birds/train/0", "Black footed Albatross", "001.Black_footed_Albatross"),
        ("my-birds/train/1", "Black footed Albatross", "001.Black_footed_Albatross"),
        ("my-birds/train/2", "Indigo Bunting", "Indigo_Bunting"),
        ("my-birds/train/3", "Indigo Bunting", "Indigo_Bunting"),
    ]
    assert [s.sample_id for s in spec.load("val")] == ["my-birds/val/0"]
    first = spec.load("train")[0]
    assert first.image_bytes() == train["001.Black_footed_Albatross"][0]
    assert first.origin.endswith("001.Black_footed_Albatross/00.jpg")
    assert "split folders" in spec.layout
    assert "ignored 2 non-image files" in spec.layout and "notes.txt" in spec.layout
    assert spec.class_ids() == ["001.Black_footed_Albatross", "Indigo_Bunting"]
    assert spec.clean_label("001.Black_footed_Albatross") == "Black footed Albatross"


def test_class_folders_are_split_by_seed_stratified_disjoint_and_stable(tmp_path):
    counts = {"alpha": 10, "beta": 5, "gamma": 2, "delta": 1}
    class_folders(tmp_path / "shapes", counts)
    spec = get_dataset(str(tmp_path / "shapes"))
    assert spec.splits == ("train", "test", "all")
    train, test, everything = (spec.load(split) for split in spec.splits)
    origins = {
        split: [s.origin for s in chosen]
        for split, chosen in zip(spec.splits, (train, test, everything), strict=True)
    }
    assert not set(origins["train"]) & set(origins["test"])
    assert set(origins["train"]) | set(origins["test"]) == set(origins["all"])
    assert origins["all"] == sorted(origins["all"])  # sorted classes, then sorted files
    per_class = {c: sum(s.class_id == c for s in test) for c in counts}
    assert per_class == {"alpha": 2, "beta": 1, "gamma": 1, "delta": 0}  # round(0.2 n), >=1 each
    assert {s.class_id for s in train} == set(counts)
    for split, chosen in zip(spec.splits, (train, test, everything), strict=True):
        assert [s.index for s in chosen] == list(range(len(chosen)))
        assert [s.sample_id for s in chosen] == [f"shapes/{split}/{i}" for i in range(len(chosen))]
        assert origins[split] == [o for o in origins["all"] if o in set(origins[split])]

    again = get_dataset(str(tmp_path / "shapes"))
    assert [(s.sample_id, s.origin) for s in again.load("test")] == [
        (s.sample_id, s.origin) for s in test
    ]
    reseeded = get_dataset(f"{tmp_path / 'shapes'}?seed=7&test_fraction=0.5")
    assert {s.origin for s in reseeded.load("test")} != set(origins["test"])
    assert sum(s.class_id == "alpha" for s in reseeded.load("test")) == 5


def test_a_new_class_does_not_move_the_others(tmp_path):
    class_folders(tmp_path / "d", {"alpha": 10, "beta": 6})
    before = {s.origin for s in get_dataset(str(tmp_path / "d")).load("test")}
    class_folders(tmp_path / "d", {"zeta": 4})
    after = {s.origin for s in get_dataset(str(tmp_path / "d")).load("test")}
    assert before < after and all("zeta" in origin for origin in after - before)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: (root / "empty").mkdir(parents=True), "class folder {root}/empty holds no"),
        (lambda root: write_image(root / "loose.jpg"), "{root}/loose.jpg is an image directly"),
        (lambda root: write_image(root / "a" / "deep" / "x.jpg"), "{root}/a holds folders (deep"),
    ],
)
def test_folder_layouts_that_would_guess_are_errors_naming_the_folder(tmp_path, make, expected):
    root = tmp_path / "data"
    class_folders(root, {"a": 2, "b": 2})
    make(root)
    with pytest.raises(DatasetError) as raised:
        get_dataset(str(root))
    assert expected.format(root=root) in str(raised.value)


def test_a_folder_without_class_folders_is_named(tmp_path):
    write_image(tmp_path / "flat" / "a.jpg")
    with pytest.raises(DatasetError, match="no class folders in"):
        get_dataset(str(tmp_path / "flat"))


def test_relative_paths_and_home_are_resolved(tmp_path, monkeypatch):
    class_folders(tmp_path / "home" / "pics", {"a": 2, "b": 2})
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "home")
    assert get_dataset("~/pics").name == "pics"
    assert get_dataset("pics").name == "pics"  # a bare word that is a folder here
    monkeypatch.chdir(tmp_path / "home" / "pics")
    assert get_dataset(".").name == "pics"


# --- manifest tables ---------------------------------------------------------------------------


def write_rows(folder: Path, rows: list[tuple[str, str, str | None]]) -> None:
    for image, _, _ in rows:
        write_image(folder / image, jpeg(COLOURS[len(image) % 5], size=8))


def test_csv_with_a_split_column_relative_to_its_own_folder(tmp_path, monkeypatch):
    folder = tmp_path / "tables"
    write_rows(folder, [("img/1.png", "", None), ("img/2.png", "", None), ("img/3.png", "", None)])
    (folder / "labels.csv").write_text(
        "filename,species,split\nimg/1.png,house_sparrow,train\n\nimg/2.png,Blue  Jay,test\n"
        "img/3.png,house_sparrow,train\n"
    )
    monkeypatch.chdir(tmp_path)  # not the table's folder: paths are relative to the table
    spec = get_dataset("tables/labels.csv")
    assert spec.name == "labels" and spec.splits == ("train", "test")
    assert ids_and_labels(spec, "train") == [
        ("labels/train/0", "house sparrow", "house_sparrow"),
        ("labels/train/1", "house sparrow", "house_sparrow"),
    ]
    assert ids_and_labels(spec, "test") == [("labels/test/0", "Blue Jay", "Blue  Jay")]
    assert spec.load("test")[0].image_bytes() == (folder / "img/2.png").read_bytes()
    assert "image column 'filename', label column 'species', split column 'split'" in spec.layout


def test_csv_without_a_split_column_is_split_by_seed(tmp_path):
    rows = "".join(f"{c}{i}.jpg,{c}\n" for c in ("a", "b") for i in range(5))
    (tmp_path / "set.csv").write_text("image,label\n" + rows)
    spec = get_dataset(str(tmp_path / "set.csv"))
    assert spec.splits == ("train", "test", "all")
    assert [s.class_id for s in spec.load("test")] == ["a", "b"]
    assert len(spec.load("train")) == 8 and len(spec.load("all")) == 10


def test_a_missing_image_is_a_sample_that_cannot_be_read_not_an_error(tmp_path):
    (tmp_path / "t.csv").write_text("path,label\nabsent.jpg,a\n")
    [sample] = get_dataset(f"{tmp_path / 't.csv'}?test_fraction=0.5").load("all")
    with pytest.raises(ImageReadError, match=r"t/all/0: cannot read .*absent\.jpg"):
        sample.image_bytes()


@pytest.mark.parametrize(
    ("text", "options", "expected"),
    [
        ("image,name\na.jpg,x\n", "", "t.csv: no label column; expected one of label, class"),
        ("image,label\na.jpg,x\nb.jpg,  \n", "", "t.csv line 3: empty value in column 'label'"),
        ("image,label\na.jpg,x\nb.jpg,x,extra\n", "", "t.csv line 3: 3 fields, but the header"),
        ("image,label\na.jpg,___\n", "", "t.csv line 2, column 'label': empty label"),
        ("image,label\na.jpg,x\n", "?label=kind", "t.csv: no column 'kind' (option label=kind)"),
        ("", "", "t.csv: empty file"),
        ("image,label,split\na.jpg,x,my split\n", "", "split name 'my split' must be"),
    ],
)
def test_table_problems_name_file_line_and_column(tmp_path, text, options, expected):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DatasetError) as raised:
        get_dataset(str(tmp_path / "t.csv") + options)
    assert expected in str(raised.value)


def test_jsonl_and_json_manifests(tmp_path):
    write_rows(tmp_path, [("x.jpg", "", None), ("y.jpg", "", None)])
    rows = [
        {"file": "x.jpg", "category": "Red_Fox", "split": "train"},
        {"file": str(tmp_path / "y.jpg"), "category": "Arctic Fox", "split": "test"},
    ]
    (tmp_path / "foxes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = get_dataset(str(tmp_path / "foxes.jsonl"))
    assert ids_and_labels(spec, "train") == [("foxes/train/0", "Red Fox", "Red_Fox")]
    assert spec.load("test")[0].image_bytes() == (tmp_path / "y.jpg").read_bytes()
    (tmp_path / "foxes.json").write_text(json.dumps(rows))
    assert ids_and_labels(get_dataset(str(tmp_path / "foxes.json")), "test") == [
        ("foxes/test/0", "Arctic Fox", "Arctic Fox")
    ]
    (tmp_path / "bad.jsonl").write_text(json.dumps(rows[0]) + "\n{not json\n")
    with pytest.raises(DatasetError, match=r"bad.jsonl line 2: not JSON"):
        get_dataset(str(tmp_path / "bad.jsonl"))
    (tmp_path / "nolabel.jsonl").write_text('{"file": "x.jpg", "category": null}\n')
    with pytest.raises(DatasetError, match=r"nolabel.jsonl line 1: no value in column 'category'"):
        get_dataset(str(tmp_path / "nolabel.jsonl"))


# --- options and names -------------------------------------------------------------------------


def test_options_name_the_dataset_and_the_columns(tmp_path):
    rows = "".join(f"{i}.jpg,{c},junk\n" for i, c in enumerate("aabb"))
    (tmp_path / "t.csv").write_text("image,kind,label\n" + rows)
    spec = get_dataset(f"{tmp_path / 't.csv'}?label=kind&name=My.Set&test_fraction=0.5")
    assert spec.name == "my-set"
    assert [s.sample_id for s in spec.load("test")] == ["my-set/test/0", "my-set/test/1"]
    assert {s.label for s in spec.load("all")} == {"a", "b"}


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("?colour=red", "unknown option 'colour'; choose from image, label, split, name"),
        ("?seed=one", "option 'seed' must be a whole number, got 'one'"),
        ("?test_fraction=1", "option 'test_fraction' must be a number between 0 and 1"),
        ("?seed=1&seed=2", "option 'seed' is given twice"),
        ("?seed", "option 'seed' is not key=value"),
        ("?name=%%%", "option 'name': '%%%' gives an empty dataset name"),
        ("?label=kind", "option 'label' does not apply: an image folder has no columns"),
    ],
)
def test_bad_options_are_named(tmp_path, options, expected):
    class_folders(tmp_path / "d", {"a": 2})
    with pytest.raises(DatasetError, match="option") as raised:
        get_dataset(str(tmp_path / "d") + options)
    assert expected in str(raised.value)


def test_options_that_do_not_apply_to_the_source_are_refused(tmp_path):
    class_folders(tmp_path / "d" / "train", {"a": 2})
    with pytest.raises(DatasetError, match="'test_fraction' does not apply: the source has its"):
        get_dataset(f"{tmp_path / 'd'}?test_fraction=0.3")


def test_a_shipped_name_is_not_taken_by_a_users_folder(tmp_path, monkeypatch):
    class_folders(tmp_path / "cub200", {"a": 2})
    monkeypatch.chdir(tmp_path)
    assert get_dataset("cub200") is REGISTRY["cub200"]  # the shipped one, as before
    with pytest.raises(DatasetError, match=r"'cub200' is the name of a shipped dataset.*\?name="):
        get_dataset("./cub200")
    with pytest.raises(DatasetError, match="is the name of a shipped dataset"):
        get_dataset("./cub200?name=synthetic")
    assert get_dataset("./cub200?name=my_cub").name == "my_cub"


def test_unknown_references_say_what_a_reference_may_be(tmp_path):
    with pytest.raises(DatasetError) as raised:
        get_dataset("birds")
    message = str(raised.value)
    assert message.startswith("unknown dataset 'birds'; choose one of cub200, fgvc_aircraft")
    assert "a path that exists" in message and "hub:ID" in message
    assert "no such file" not in message
    with pytest.raises(DatasetError, match=f"no such file or folder: {tmp_path}/no/birds.csv"):
        get_dataset(str(tmp_path / "no" / "birds.csv"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"is a \.txt file; give a folder or a \.csv"):
        get_dataset(str(tmp_path / "notes.txt"))


def test_a_user_spec_has_no_hierarchy_and_refuses_shipped_options(tmp_path):
    class_folders(tmp_path / "d", {"a": 2})
    spec = get_dataset(str(tmp_path / "d"))
    with pytest.raises(DatasetError) as raised:
        spec.hierarchy()
    assert str(raised.value) == (
        "d: no label hierarchy ships with your own data; give one (judge.hierarchy in a recipe, "
        "--hierarchy for verify/eval; `speciarl hierarchy draft` writes a start)"
    )
    for options in ({"root": tmp_path}, {"source": "hub"}, {"hub_id": "x/y"}):
        with pytest.raises(DatasetError, match="apply to shipped datasets only"):
            spec.load("all", **options)


def test_mixed_set_parts_may_hold_colons():
    assert PartRequest.parse("hub:someone/birds:train:500") == PartRequest(
        "hub:someone/birds", "train", 500
    )
    assert PartRequest.parse("./a?name=x:test:3") == PartRequest("./a?name=x", "test", 3)
    for bad in ("x:y", "hub:x:train:", ":train:3", "cub200:train:many"):
        with pytest.raises(DatasetError, match="NAME:SPLIT:COUNT"):
            PartRequest.parse(bad)


def test_subsets_and_balance_work_on_user_data(tmp_path):
    class_folders(tmp_path / "d", {"a": 6, "b": 2, "c": 2})
    balanced = select_samples(str(tmp_path / "d"), "all", subset=6, balanced=True, seed=3)
    assert sorted(s.class_id for s in balanced) == ["a", "a", "b", "b", "c", "c"]
    assert [s.index for s in balanced] == sorted(s.index for s in balanced)
    again = select_samples(str(tmp_path / "d"), "all", subset=6, balanced=True, seed=3)
    assert [s.sample_id for s in again] == [s.sample_id for s in balanced]


# --- Parquet and the Hub -----------------------------------------------------------------------


def build(*arguments: str) -> dict:
    out = arguments[arguments.index("--out") + 1]
    result = runner.invoke(app, ["data", "build", *arguments])
    assert result.exit_code == 0, result.output
    return json.loads((Path(out) / "manifest.json").read_text())


def test_a_built_folder_and_file_keep_their_sample_ids(tmp_path):
    class_folders(tmp_path / "pics", {"a": 5, "b": 5})
    source = get_dataset(str(tmp_path / "pics"))
    built = build(
        str(tmp_path / "pics"), "--split", "train", "--subset", "5", "--out", str(tmp_path / "b")
    )
    assert built["dataset"] == "pics" and built["reference"] == str(tmp_path / "pics")
    for reference in (tmp_path / "b", tmp_path / "b" / "data.parquet"):
        spec = get_dataset(str(reference))
        assert spec.name == "pics" and spec.splits == ("train",)
        samples = spec.load("train")
        assert len(samples) == 5
        originals = {s.sample_id: s for s in source.load("train")}
        for sample in samples:
            original = originals[sample.sample_id]
            assert (sample.label, sample.class_id) == (original.label, original.class_id)
            assert sample.image_bytes() == original.image_bytes()
    renamed = get_dataset(f"{tmp_path / 'b'}?name=again")
    assert renamed.load("train")[0].sample_id.startswith("again/train/")
    with pytest.raises(DatasetError, match="'test_fraction' does not apply"):
        get_dataset(f"{tmp_path / 'b'}?test_fraction=0.5")


def test_a_built_shipped_dataset_keeps_its_name_and_hierarchy(tmp_path):
    make_cub(tmp_path / "data")
    build(
        "cub200", "--root", str(tmp_path / "data"), "--split", "train", "--out", str(tmp_path / "c")
    )
    spec = get_dataset(str(tmp_path / "c"))
    assert spec.name == "cub200" and spec.reference is not None
    assert [s.sample_id for s in spec.load("train")] == [f"cub200/train/{i}" for i in range(3)]
    assert spec.hierarchy().name == REGISTRY["cub200"].hierarchy().name
    assert spec.clean_label("001.Black_footed_Albatross") == "Black footed Albatross"


def test_a_generic_parquet_file_is_a_table(tmp_path):
    images = [jpeg(COLOURS[i], size=8) for i in range(4)]
    table = datasets.Dataset.from_dict(
        {
            "picture": [{"bytes": data, "path": None} for data in images],
            "species": ["wren", "wren", "robin", "robin"],
            "fine": ["winter_wren", "house_wren", "robin", "robin"],
        },
        features=datasets.Features(
            {
                "picture": datasets.Image(),
                "species": datasets.Value("string"),
                "fine": datasets.Value("string"),
            }
        ),
    )
    table.to_parquet(str(tmp_path / "birds.parquet"))
    spec = get_dataset(str(tmp_path / "birds.parquet") + "?test_fraction=0.5")
    assert spec.name == "birds" and spec.splits == ("train", "test", "all")
    assert [s.label for s in spec.load("all")] == ["wren", "wren", "robin", "robin"]
    assert [s.image_bytes() for s in spec.load("all")] == images  # the original bytes
    fine = get_dataset(str(tmp_path / "birds.parquet") + "?label=fine")
    assert [s.label for s in fine.load("all")][:2] == ["winter wren", "house wren"]


def saved_dataset_dict(folder: Path) -> list[bytes]:
    images = [jpeg(COLOURS[i], size=8) for i in range(3)]
    features = datasets.Features(
        {"img": datasets.Image(), "fine_label": datasets.ClassLabel(names=["tree_frog", "toad"])}
    )
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"img": [{"bytes": d, "path": None} for d in images[:2]], "fine_label": [0, 1]},
                features=features,
            ),
            "validation": datasets.Dataset.from_dict(
                {"img": [{"bytes": images[2], "path": None}], "fine_label": [1]},
                features=features,
            ),
        }
    ).save_to_disk(str(folder))
    return images


def test_hub_reference_to_a_save_to_disk_folder_and_the_folder_itself(tmp_path):
    images = saved_dataset_dict(tmp_path / "frogs")
    for reference in (f"hub:{tmp_path / 'frogs'}", str(tmp_path / "frogs")):
        spec = get_dataset(reference)
        assert spec.name == "frogs" and spec.splits == ("train", "validation")
        assert ids_and_labels(spec, "train") == [
            ("frogs/train/0", "tree frog", "tree_frog"),
            ("frogs/train/1", "toad", "toad"),
        ]
        assert spec.load("validation")[0].image_bytes() == images[2]
    with pytest.raises(DatasetError, match="'split' does not apply: the dataset has its own"):
        get_dataset(f"hub:{tmp_path / 'frogs'}?split=x")


def test_hub_reference_to_a_parquet_repository_folder(tmp_path):
    red, blue = jpeg((200, 0, 0)), jpeg((0, 0, 200))
    folder = save_hub_copy(
        tmp_path / "owner" / "pets",
        {"train": [(red, 0), (blue, 1)], "test": [(blue, 1)]},
        ["Cat", "Big_Dog"],
    )
    spec = get_dataset(f"hub:{folder}/")
    assert spec.name == "pets" and set(spec.splits) == {"train", "test"}
    assert ids_and_labels(spec, "test") == [("pets/test/0", "Big Dog", "Big_Dog")]
    assert spec.load("train")[1].image_bytes() == blue
    assert spec.class_ids() == ["Big_Dog", "Cat"]
    with pytest.raises(DatasetError, match="no column 'nothing' \\(option label=nothing\\)"):
        get_dataset(f"hub:{folder}?label=nothing")


def test_an_unloadable_hub_reference_is_named(tmp_path):
    with pytest.raises(DatasetError, match=f"hub:{tmp_path}/absent: cannot load"):
        get_dataset(f"hub:{tmp_path}/absent")


# --- speciarl data build -----------------------------------------------------------------------


def test_data_build_lists_corrupt_and_missing_images_by_sample_id(tmp_path):
    folder = tmp_path / "set"
    write_image(folder / "ok1.jpg", jpeg((10, 10, 10), size=8))
    write_image(folder / "ok2.jpg", jpeg((90, 10, 10), size=8))
    write_image(folder / "broken.jpg", b"not a jpeg")
    (folder / "rows.csv").write_text(
        "image,label,split\nok1.jpg,a,test\nabsent.jpg,b,test\nbroken.jpg,b,test\nok2.jpg,a,test\n"
    )
    result = runner.invoke(
        app, ["data", "build", str(folder / "rows.csv"), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows"] == 2 and manifest["dataset"] == "rows"
    assert [f["sample_id"] for f in manifest["failures"]] == ["rows/test/1", "rows/test/2"]
    assert "cannot read" in manifest["failures"][0]["error"]
    assert "corrupt image" in manifest["failures"][1]["error"]
    assert "2 unreadable image(s), listed in the manifest" in result.stderr
    rebuilt = get_dataset(str(tmp_path / "out"))
    assert [s.sample_id for s in rebuilt.load("test")] == ["rows/test/0", "rows/test/3"]


def test_data_build_subset_balanced_and_what_was_skipped(tmp_path):
    class_folders(tmp_path / "pics", {"a": 6, "b": 2})
    (tmp_path / "pics" / "a" / "Thumbs.db").write_text("x")
    out = tmp_path / "out"
    arguments = [str(tmp_path / "pics"), "--split", "all", "--subset", "4", "--balanced"]
    result = runner.invoke(app, ["data", "build", *arguments, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ignored 1 non-image files" in result.stderr  # said, not skipped silently
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == 4 and manifest["balanced"] and manifest["subset"] == 4
    labels = datasets.Dataset.from_parquet(str(out / "data.parquet"))["label"]
    assert sorted(labels) == ["a", "a", "b", "b"]


def test_data_build_mixes_user_datasets_and_refuses_shipped_options(tmp_path):
    class_folders(tmp_path / "pics", {"a": 3, "b": 3})
    saved_dataset_dict(tmp_path / "frogs")
    manifest = build(
        "mixed",
        "--part",
        f"{tmp_path / 'pics'}:all:4",
        "--part",
        f"hub:{tmp_path / 'frogs'}:train:2",
        "--part",
        "synthetic:test:1",
        "--out",
        str(tmp_path / "mixed"),
    )
    assert manifest["rows"] == 7
    ids = datasets.Dataset.from_parquet(str(tmp_path / "mixed" / "data.parquet"))["sample_id"]
    assert sum(i.startswith("pics/all/") for i in ids) == 4
    assert sum(i.startswith("frogs/train/") for i in ids) == 2
    mixed = get_dataset(str(tmp_path / "mixed"))  # a built mixed set keeps every row's id
    assert mixed.name == "mixed" and sorted(s.sample_id for s in mixed.load("all")) == sorted(
        i for i in ids if "/all/" in i
    )
    result = runner.invoke(
        app,
        [
            "data",
            "build",
            str(tmp_path / "pics"),
            "--root",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "apply to shipped datasets only" in result.stderr


def test_data_show_draws_user_data(tmp_path):
    class_folders(tmp_path / "pics", {"a": 3, "b": 3})
    out = tmp_path / "grid.png"
    result = runner.invoke(
        app,
        [
            "data",
            "show",
            str(tmp_path / "pics"),
            "--split",
            "all",
            "--count",
            "4",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and "wrote 4 samples" in result.stderr


# --- a recipe and an evaluation plan -----------------------------------------------------------


def fake_model(folder: Path) -> Path:
    """A folder the model checks accept (they read config.json, nothing loads)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def test_a_recipe_trains_on_a_dataset_reference(tmp_path):
    class_folders(tmp_path / "pics", {"a": 5, "b": 5})
    reference = f"{tmp_path / 'pics'}?name=mine"
    overrides = [
        f"model={fake_model(tmp_path / 'model')}",
        f"data.dataset={reference}",
        "data.subset=4",
        "judge.endpoint=null",
        "judge.model=null",
    ]
    config = load_config(CONFIGS / "cub_speciarl.yaml", overrides)
    findings = inspect(config, judged=False)
    assert findings.problems == []
    assert any(
        line.startswith(f"data: {reference} train, 8 images, as dataset mine")
        for line in findings.checked
    )

    built = prepare_dataset(config, tmp_path / "run")
    assert len(built) == 4 and all(i.startswith("mine/train/") for i in built["sample_id"])

    too_many = load_config(CONFIGS / "cub_speciarl.yaml", [*overrides[:2], "data.subset=9"])
    found = Findings()
    check_data(too_many, found)
    assert found.problems == [f"data.subset: 9 images asked for, but {reference} train has 8"]
    rooted = load_config(CONFIGS / "cub_speciarl.yaml", [*overrides, f"data.root={tmp_path}"])
    found = Findings()
    check_data(rooted, found)
    assert found.problems == [
        f"data.root {tmp_path}: applies to shipped datasets only; {reference} (data.dataset) is "
        "read from its own files"
    ]


def test_recipe_problems_with_references_name_their_keys(tmp_path):
    class_folders(tmp_path / "pics", {"a": 2})
    (tmp_path / "t.csv").write_text("image,label\nx.jpg,\n")
    parts = f"[{tmp_path / 'pics'}:all:1, {tmp_path / 't.csv'}:train:1, {tmp_path}/nope:train:1]"
    config = load_config(
        CONFIGS / "mixed_speciarl.yaml",
        [f"data.parts={parts}", f"data.root={tmp_path}", "data.source=hub"],
    )
    found = Findings()
    check_data(config, found)
    assert found.problems[0].startswith(f"data.parts {tmp_path / 't.csv'}:train:1: ")
    assert "line 2: empty value in column 'label'" in found.problems[0]
    assert found.problems[1].startswith(f"data.parts {tmp_path}/nope:train:1: unknown dataset")
    assert len(found.problems) == 2  # the folder part reads its own files despite root/source
    assert any(
        line.startswith(f"data: {tmp_path / 'pics'} all, 2 images") for line in found.checked
    )


def eval_plan(model: Path, references: str, **extra) -> EvalPlan:
    return EvalPlan.create(
        model=str(model),
        adapter=None,
        datasets=references,
        split=extra.pop("split", "test"),
        subset=extra.pop("subset", None),
        source=extra.pop("source", "local"),
        backend="transformers",
        **extra,
    )


def test_an_evaluation_plan_takes_references_keyed_by_their_names(tmp_path):
    model = fake_model(tmp_path / "model")
    class_folders(tmp_path / "pics", {"a": 5, "b": 5})
    saved_dataset_dict(tmp_path / "frogs")
    (tmp_path / "t.csv").write_text("image,label,split\nno.jpg,a,test\n")
    references = f"{tmp_path / 'pics'}?name=photos, synthetic, {tmp_path / 'frogs'}"
    plan = eval_plan(model, references, split="train", subset=2, root=tmp_path / "unused")
    samples = plan.check()
    assert list(samples) == ["photos", "synthetic", "frogs"]
    assert [s.sample_id.split("/")[0] for s in samples["photos"]] == ["photos", "photos"]
    assert len(samples["frogs"]) == 2

    with pytest.raises(ValueError, match="both resolve to the dataset name 'pics'"):
        eval_plan(model, f"{tmp_path / 'pics'},{tmp_path / 'pics'}?test_fraction=0.5")
    with pytest.raises(ValueError, match=r"--split validation: .*pics has no such split"):
        eval_plan(model, str(tmp_path / "pics"), split="validation")
    with pytest.raises(ValueError, match=f"--datasets {tmp_path / 't.csv'}: t/test/0: cannot read"):
        eval_plan(model, str(tmp_path / "t.csv")).check()
    with pytest.raises(ValueError, match="--datasets: unknown dataset 'birds'"):
        eval_plan(model, "birds")
