"""The judge's hierarchy for a user's own data: ``--hierarchy`` in verify/eval, ``judge.hierarchy``
in training, none at all for a dataset that ships none, and the start-up warnings that name the
labels a hierarchy lacks.

Datasets are the synthetic shapes (no files needed); a "user's dataset" is a name the registry
does not know, such as an evaluation folder's sub-folder renamed to ``my_shapes``.
"""

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from data_fixtures import jpeg, write_image
from eval_folders import cli, error_of, predicted_folder
from speciarl.cli import app
from speciarl.data.prepare import select_samples
from speciarl.data.registry import REGISTRY
from speciarl.evaluate.judging import NO_LLM, Judging
from speciarl.evaluate.pipeline import run_verification
from speciarl.evaluate.run import prediction_store
from speciarl.judges.base import Pair
from speciarl.judges.describe import judge_id, judge_summary
from speciarl.train.config import ConfigError, load_config
from speciarl.train.preflight import Findings, check_hierarchy, inspect
from speciarl.train.setup import judge_hierarchy, training_judge
from speciarl.verdict import Verdict

CONFIGS = Path(__file__).parents[1] / "configs"
NO_LLM_ARGS = ["judge.endpoint=null", "judge.model=null"]
runner = CliRunner()

OWN_SHAPES = """\
name: own-shapes
roots:
- name: roundish thing
  rank: close
  children:
  - name: {label}
"""


def own_hierarchy(folder: Path, label: str = "plain red circle", name: str = "own.yaml") -> Path:
    """A hierarchy file knowing one synthetic label, under a close parent no shipped one has."""
    path = folder / name
    path.write_text(OWN_SHAPES.format(label=label))
    return path


def labels_of(out: Path, dataset: str = "synthetic") -> list[str]:
    return [record["label"] for record in prediction_store(out, dataset).load().values()]


# --- verify and eval ----------------------------------------------------------------------------


def test_the_given_hierarchy_decides_what_only_it_knows(tmp_path):
    pair = Pair("plain red circle", "roundish thing")
    shipped = Judging().judge_for("synthetic").judge([pair])[0]
    assert shipped.verdict is not Verdict.LESS_SPECIFIC  # synthetic's tree has no such node
    for dataset in ("synthetic", "my_shapes"):  # a shipped dataset, and one of the user's own
        judging = Judging(hierarchy=str(own_hierarchy(tmp_path)))
        judged = judging.judge_for(dataset).judge([pair])[0]
        assert (judged.verdict, judged.judge) == (Verdict.LESS_SPECIFIC, "taxonomy")
        assert judge_summary(judging.judge_for(dataset)) == "lexical > taxonomy[own-shapes]"


def test_a_shipped_name_as_hierarchy_judges_with_that_datasets_tree():
    judging = Judging(hierarchy="synthetic")
    assert judge_summary(judging.judge_for("my_shapes")) == "lexical > taxonomy[synthetic]"
    assert judging.hierarchy_source("my_shapes") == "synthetic"


def test_another_hierarchy_is_another_judge_and_set_up(tmp_path):
    first = Judging(hierarchy=str(own_hierarchy(tmp_path)))
    second = Judging(hierarchy=str(own_hierarchy(tmp_path, "plain blue circle", "other.yaml")))
    ids = {judge_id(j.judge_for("synthetic")) for j in (first, second, Judging())}
    assert len(ids) == 3
    setups = [first.setup_id, second.setup_id, Judging().setup_id]
    assert setups[2] == NO_LLM and len(set(setups)) == 3
    assert all(setup.startswith("taxonomy-") for setup in setups[:2])  # not a `hierarchy` prefix


def test_a_hierarchy_that_is_neither_a_dataset_nor_a_file_names_the_option(tmp_path):
    with pytest.raises(ValueError, match=r"^--hierarchy: .*birds\.yaml: neither a dataset"):
        Judging(hierarchy=str(tmp_path / "birds.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("roots: []\n")
    with pytest.raises(ValueError, match=r"^--hierarchy: .*broken\.yaml: roots: expected"):
        Judging(hierarchy=str(broken))
    out = predicted_folder(tmp_path / "out", ["plain red circle"], subset=2)
    result = cli("verify", "--out", out, "--hierarchy", tmp_path / "birds.yaml", code=2)
    assert error_of(result).startswith(f"--hierarchy: {tmp_path / 'birds.yaml'}: neither")


def test_a_users_dataset_without_hierarchy_is_judged_by_exact_names_without_the_cache(tmp_path):
    judging = Judging(cache=tmp_path / "verdicts.sqlite")
    judge = judging.judge_for("my_shapes")
    assert judge_summary(judge) == "lexical"
    exact, other = judge.judge([Pair("plain red circle", "plain red circle"), Pair("a", "b")])
    assert (exact.verdict, exact.judge) == (Verdict.SPECIFIC, "lexical")
    assert other.verdict is None
    [warning] = judging.warnings_for("my_shapes", ["plain red circle", "dotted red circle"])
    assert warning.startswith("my_shapes: all 2 labels lack a hierarchy")
    assert "only exact names (the lexical judge) decide, as no LLM judge is set" in warning
    assert "--cache goes unused" in warning
    assert "--hierarchy FILE" in warning and "speciarl hierarchy draft --labels FILE" in warning


def test_verify_warns_of_a_users_dataset_without_hierarchy_and_judges_it_lexically(tmp_path):
    names = list(dict.fromkeys(s.label for s in select_samples("synthetic", "test", subset=4)))
    out = predicted_folder(tmp_path / "out", [*names, "circle"], subset=4)  # each label, once
    (out / "synthetic").rename(out / "my_shapes")  # as a user's dataset's folder would be named
    labels = labels_of(out, "my_shapes")
    assert set(labels) == set(names)
    printed: list[str] = []
    run_verification(out, Judging(cache=tmp_path / "verdicts.sqlite"), echo=printed.append)
    warnings = [line for line in printed if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"warning: my_shapes: all {len(set(labels))} labels lack a")
    [store] = (out / "my_shapes").glob("verdicts-*.jsonl")
    records = [json.loads(line) for line in store.read_text().splitlines()]
    assert {(r["judge_setup"], r["judge"]) for r in records} == {("lexical", "lexical")}
    specific = [r for r in records if r["verdict"] == "specific"]
    assert len(specific) == 4  # each image's own name; "circle" needs a tree: undecided
    assert not [r for r in records if r["answer"] == "circle"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["judges"][NO_LLM]["datasets"]["my_shapes"]["hierarchy"] is None


def test_verify_warns_of_labels_the_given_hierarchy_lacks(tmp_path):
    out = predicted_folder(tmp_path / "out", ["roundish thing"], subset=6)
    labels = list(dict.fromkeys(labels_of(out)))
    covered, missing = labels[0], labels[1:]
    assert missing  # six images of several classes
    hierarchy = own_hierarchy(tmp_path, covered)
    result = cli("verify", "--out", out, "--hierarchy", hierarchy)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: synthetic: {len(missing)} of {len(labels)} labels are missing from the judge's "
        f"hierarchy 'own-shapes' ({', '.join(repr(label) for label in missing[:5])}"
        + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        + "); answers about them that are not the label itself stay undecided (no LLM judge is "
        f"set); see `speciarl data coverage --dataset synthetic --hierarchy {hierarchy}`"
    ]
    # the covered label's images are judged by the file's tree: "roundish thing" is its parent
    [store] = (out / "synthetic").glob("verdicts-*.jsonl")
    records = [json.loads(line) for line in store.read_text().splitlines()]
    assert len(records) == labels_of(out).count(covered)
    assert {(r["verdict"], r["judge"]) for r in records} == {("less specific", "taxonomy")}
    manifest = json.loads((out / "manifest.json").read_text())
    [(setup, entry)] = manifest["judges"].items()
    assert setup.startswith("taxonomy-")
    recorded = entry["datasets"]["synthetic"]
    assert recorded["hierarchy"] == str(hierarchy)
    assert recorded["description"]["hierarchy"] == "own-shapes"


def test_another_hierarchy_judges_into_another_store_and_set_up(tmp_path):
    out = predicted_folder(tmp_path / "out", ["roundish thing"], subset=6)
    cli("verify", "--out", out)  # the shipped synthetic tree, no warning: it knows every label
    hierarchy = own_hierarchy(tmp_path, labels_of(out)[0])
    first = cli("verify", "--out", out, "--hierarchy", hierarchy)
    assert len(list((out / "synthetic").glob("verdicts-*.jsonl"))) == 2
    assert "judge set-up taxonomy-" in first.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["judges"]) == 2 and NO_LLM in manifest["judges"]
    assert manifest["judges"][NO_LLM]["datasets"]["synthetic"]["hierarchy"] == "synthetic"


def test_a_shipped_dataset_fully_covered_gets_no_warning(tmp_path):
    out = predicted_folder(tmp_path / "out", ["circle"], subset=4)
    result = cli("verify", "--out", out)
    assert "warning" not in result.stderr


def test_eval_warns_before_it_predicts(tmp_path):
    """The warning comes from the checked samples, before the policy loads (here it cannot)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    hierarchy = own_hierarchy(tmp_path, "no such shape")
    arguments = ["--datasets", "synthetic", "--subset", "3", "--out", tmp_path / "out"]
    command = ["eval", "--model", model, *arguments, "--hierarchy", hierarchy]
    result = runner.invoke(app, [str(argument) for argument in command])
    assert result.exit_code == 2, result.output
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warning.startswith("warning: synthetic: 3 of 3 labels are missing from the judge's")
    failed = result.stderr.index(f"error: --model {model}: cannot load it")
    assert result.stderr.index(warning) < failed


# --- training -----------------------------------------------------------------------------------


def recipe(*overrides: str):
    return load_config(CONFIGS / "synthetic_tiny.yaml", [*NO_LLM_ARGS, *overrides])


@pytest.fixture
def my_shapes(tmp_path, monkeypatch) -> str:
    """A user's image folder of two synthetic classes, named by its relative path."""
    for label in ("plain red circle", "dotted red circle"):
        write_image(tmp_path / "my_shapes" / label.replace(" ", "_") / "0.jpg", jpeg())
    monkeypatch.chdir(tmp_path)
    return "my_shapes"


def test_judge_hierarchy_of_a_users_dataset_is_none_and_its_judge_exact_names_only(
    tmp_path, my_shapes
):
    config = recipe("data.dataset=my_shapes", "judge.hierarchy=null")
    assert "my_shapes" not in REGISTRY
    assert judge_hierarchy(config) is None
    judge = training_judge(config, tmp_path)  # judge.cache is set: it must be left out
    assert judge_summary(judge) == "lexical"
    assert not (tmp_path / "verdicts.sqlite").exists()
    llm = ["judge.endpoint=http://127.0.0.1:9/v1", "judge.model=judge"]
    with_llm = training_judge(
        recipe("data.dataset=my_shapes", "judge.hierarchy=null", *llm), tmp_path
    )
    assert judge_summary(with_llm) == "lexical > llm[judge, prompt base v1]"
    assert (tmp_path / "verdicts.sqlite").exists()


def test_a_users_dataset_without_hierarchy_or_llm_is_a_problem_naming_judge_hierarchy(my_shapes):
    findings = inspect(recipe("data.dataset=my_shapes", "judge.hierarchy=null"))
    [problem] = [p for p in findings.problems if p.startswith("judge.hierarchy")]
    assert problem.startswith("judge.hierarchy: not set, and my_shapes ships no label hierarchy")
    assert "the reward would only see exact label matches" in problem
    assert "speciarl hierarchy draft" in problem


def test_a_users_dataset_with_an_llm_but_no_hierarchy_is_a_warning(my_shapes):
    llm = ["judge.endpoint=http://127.0.0.1:9/v1", "judge.model=judge"]
    findings = Findings()
    check_hierarchy(recipe("data.dataset=my_shapes", "judge.hierarchy=null", *llm), findings)
    assert findings.problems == []
    [warning] = findings.warnings
    assert "every answer that is not the label itself goes to the LLM judge" in warning


def test_a_mixed_set_with_a_part_of_the_users_own_needs_judge_hierarchy(tmp_path, my_shapes):
    parts = "data.parts=[synthetic:train:4, my_shapes:train:4]"
    with pytest.raises(ConfigError, match=r"judge\.hierarchy: not set, and the data\.parts"):
        judge_hierarchy(recipe(parts, "judge.hierarchy=null"))
    findings = Findings()
    check_hierarchy(recipe(parts, "judge.hierarchy=null"), findings)
    assert len(findings.problems) == 1 and "my_shapes" in findings.problems[0]
    given = own_hierarchy(tmp_path)
    assert judge_hierarchy(recipe(parts, f"judge.hierarchy={given}")).name == "own-shapes"


def test_training_labels_the_hierarchy_lacks_are_a_warning_in_the_dry_run(tmp_path, tiny_model):
    hierarchy = tmp_path / "shapes.yaml"  # synthetic's own tree without one of its 48 labels
    shipped = (CONFIGS.parent / "src/speciarl/data/hierarchies/synthetic.yaml").read_text()
    assert shipped.count("    - name: pseudo red circle\n") == 1
    hierarchy.write_text(shipped.replace("    - name: pseudo red circle\n", ""))
    command = ["train", "--config", str(CONFIGS / "synthetic_tiny.yaml"), "--dry-run"]
    overrides = [f"model={tiny_model}", f"judge.hierarchy={hierarchy}", *NO_LLM_ARGS]
    result = runner.invoke(app, [*command, *overrides])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "WARNING synthetic: 1 of 48 labels are missing from the judge's hierarchy 'synthetic' "
        "('pseudo red circle'); answers about them that are not the label itself stay undecided "
        f"(no LLM judge is set); see `speciarl data coverage --dataset synthetic --hierarchy "
        f"{hierarchy}`"
    )


def test_a_real_run_logs_the_warnings(tmp_path, caplog):
    from speciarl.train.preflight import require

    hierarchy = own_hierarchy(tmp_path)
    config = recipe(f"model={tmp_path}", f"judge.hierarchy={hierarchy}")
    logged = caplog.at_level(logging.WARNING, logger="speciarl.train.preflight")
    with logged, pytest.raises(ConfigError):  # no model here: the run stops, after logging
        require(config)
    assert any(
        "synthetic: 47 of 48 labels are missing" in record.getMessage() for record in caplog.records
    )


def test_a_built_copy_of_a_shipped_dataset_keeps_its_hierarchy(tmp_path):
    built = runner.invoke(
        app,
        [
            "data",
            "build",
            "synthetic",
            "--split",
            "train",
            "--subset",
            "4",
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert built.exit_code == 0, built.output
    config = recipe(f"data.dataset={tmp_path / 'b'}", "judge.hierarchy=null")
    assert judge_hierarchy(config).digest == REGISTRY["synthetic"].hierarchy().digest


def test_a_mistyped_dataset_is_one_problem_named_by_data_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a runs/ folder (left by `make demo`) would name the model too
    findings = inspect(recipe("data.dataset=synthetc", "judge.hierarchy=null"), judged=True)
    assert [p.split(":")[0] for p in findings.problems] == ["data.dataset"]
