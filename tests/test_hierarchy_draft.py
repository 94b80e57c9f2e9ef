import pytest
import yaml
from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.judges.hierarchy import Hierarchy, Rank
from speciarl.judges.hierarchy_draft import (
    DraftError,
    Group,
    draft_hierarchy,
    read_labels,
    write_draft,
)

runner = CliRunner()


def roots_of(labels, **options):
    """The draft's roots as plain data: a label, or (group name, [members])."""
    draft = draft_hierarchy(labels, name="test", **options)
    return [
        (root.name, list(root.members)) if isinstance(root, Group) else root for root in draft.roots
    ]


def assert_each_label_is_one_node(hierarchy, labels):
    for label in labels:
        assert len(hierarchy.resolve(label)) == 1, label


def test_labels_ending_in_the_same_word_share_a_close_parent():
    labels = ["Golden winged Warbler", "Blue Jay", "Blue winged Warbler", "Cardinal"]
    assert roots_of(labels) == [
        ("warbler", ["Golden winged Warbler", "Blue winged Warbler"]),
        "Blue Jay",
        "Cardinal",
    ]
    hierarchy = Hierarchy.from_dict(draft_hierarchy(labels, name="birds").to_dict())
    [warbler] = hierarchy.resolve("warbler")
    assert warbler.rank is Rank.CLOSE
    assert [child.name for child in warbler.children] == labels[0:3:2]


def test_numbers_and_short_words_never_group():
    labels = ["737-200", "747-200", "Audi A4 2012", "BMW M3 2012", "Musk ox", "Ox", "F-16", "X-16"]
    assert roots_of(labels) == labels


def test_a_label_that_is_the_word_becomes_the_group_node():
    labels = ["Golden-winged Warbler", "Warbler", "Blue winged warbler"]
    assert roots_of(labels) == [("Warbler", ["Golden-winged Warbler", "Blue winged warbler"])]
    # The word and one label that ends in it make a group of two labels.
    assert roots_of(["Sparrow", "House Sparrow"]) == [("Sparrow", ["House Sparrow"])]


def test_a_word_of_one_label_stays_a_root_leaf():
    assert roots_of(["House Sparrow", "Blue Jay", "Jay"]) == [
        "House Sparrow",
        ("Jay", ["Blue Jay"]),
    ]
    assert roots_of(["House Sparrow", "Warbler"]) == ["House Sparrow", "Warbler"]


def test_words_compare_by_name_key_case_and_punctuation_aside():
    labels = ["Golden-winged WARBLER.", "blue_winged warbler", "Kirtland's Warbler!"]
    assert roots_of(labels) == [("warbler", labels)]


def test_the_draft_is_open_world_unless_asked():
    assert draft_hierarchy(["a"], name="n").to_dict()["closed_world"] is False
    assert draft_hierarchy(["a"], name="n", closed_world=True).to_dict()["closed_world"] is True


def test_duplicate_labels_are_an_error_naming_both_lines(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("Blue Jay\nCardinal\n\nblue-jay\n", encoding="utf-8")
    with pytest.raises(DraftError, match=r"line 4: 'blue-jay' is the same label as line 1"):
        read_labels(path)
    with pytest.raises(DraftError, match="same label"):
        draft_hierarchy(["Blue Jay", "the blue jay"], name="n")


def test_blank_lines_and_comments_are_skipped(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text(
        "\ufeff# my birds\r\n\n  Blue Jay  \n   # a comment\nCardinal\n\n", encoding="utf-8"
    )
    assert read_labels(path) == ["Blue Jay", "Cardinal"]
    (tmp_path / "empty.txt").write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(DraftError, match="no labels"):
        read_labels(tmp_path / "empty.txt")
    (tmp_path / "odd.txt").write_text("Blue Jay\n!!!\n", encoding="utf-8")
    with pytest.raises(DraftError, match="line 2"):
        read_labels(tmp_path / "odd.txt")


def test_written_draft_loads_and_resolves_every_label(tmp_path):
    labels = [
        "Golden winged Warbler",
        "Warbler",
        "Blue winged Warbler",
        "Blue Jay",
        "Green Jay",
        "yes",  # YAML would read an unquoted yes as true
        "737-200",
        "null",
    ]
    out = tmp_path / "draft.yaml"
    write_draft(draft_hierarchy(labels, name="birds"), out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# DRAFT")
    assert "broad" in text and "synonyms" in text and "warbler (3)" in text.lower()
    hierarchy = Hierarchy.load(out)
    assert hierarchy.name == "birds" and hierarchy.closed_world is False
    assert_each_label_is_one_node(hierarchy, labels)


def test_every_shipped_label_set_drafts_into_a_valid_hierarchy():
    from hierarchy_checks import HIERARCHY_DATASETS, cleaned_labels

    for name in HIERARCHY_DATASETS:
        labels = cleaned_labels(name)
        draft = draft_hierarchy(labels, name=name)
        hierarchy = Hierarchy.from_dict(yaml.safe_load(draft.to_yaml()))
        assert_each_label_is_one_node(hierarchy, labels)
        assert len(draft.ungrouped) + sum(group.size for group in draft.groups) == len(labels)


def test_cli_drafts_from_a_labels_file(tmp_path):
    labels = tmp_path / "my_birds.txt"
    labels.write_text("# birds\nGolden winged Warbler\nBlue winged Warbler\nCardinal\n")
    out = tmp_path / "hierarchy.yaml"
    result = runner.invoke(
        app, ["hierarchy", "draft", "--labels", str(labels), "--out", str(out), "--closed-world"]
    )
    assert result.exit_code == 0, result.output
    assert "3 labels, 1 group, 1 ungrouped root" in result.stderr
    assert "speciarl data coverage --dataset" in result.stderr
    hierarchy = Hierarchy.load(out)
    assert hierarchy.name == "my_birds" and hierarchy.closed_world is True
    assert_each_label_is_one_node(hierarchy, ["Golden winged Warbler", "warbler", "Cardinal"])


def test_cli_refuses_to_overwrite_without_force(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("Blue Jay\nGreen Jay\n")
    out = tmp_path / "hierarchy.yaml"
    out.write_text("kept\n")
    args = ["hierarchy", "draft", "--labels", str(labels), "--out", str(out), "--name", "jays"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert out.read_text() == "kept\n"
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert Hierarchy.load(out).name == "jays"


def test_cli_drafts_from_a_dataset_and_names_the_next_command(tmp_path):
    out = tmp_path / "synthetic.yaml"
    result = runner.invoke(app, ["hierarchy", "draft", "--dataset", "synthetic", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert f"speciarl data coverage --dataset synthetic --hierarchy {out}" in result.stderr
    hierarchy = Hierarchy.load(out)
    # Synthetic labels end in their shape: four groups of twelve.
    assert [(root.name, len(root.children)) for root in hierarchy.roots] == [
        ("circle", 12),
        ("square", 12),
        ("triangle", 12),
        ("star", 12),
    ]


def test_cli_errors(tmp_path):
    out = str(tmp_path / "out.yaml")
    labels = tmp_path / "labels.txt"
    labels.write_text("Blue Jay\nBLUE JAY\n")
    for args, message in [
        (["--out", out], "either --labels"),
        (["--labels", str(labels), "--dataset", "synthetic", "--out", out], "not both"),
        (["--labels", str(tmp_path / "absent.txt"), "--out", out], "absent.txt"),
        (["--labels", str(labels), "--out", out], "line 2"),
        (["--dataset", "no_such_dataset", "--out", out], "unknown dataset"),
        (["--dataset", "synthetic", "--out", str(tmp_path / "out.json")], ".yaml"),
    ]:
        result = runner.invoke(app, ["hierarchy", "draft", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    assert not (tmp_path / "out.yaml").exists()
