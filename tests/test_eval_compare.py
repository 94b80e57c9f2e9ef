"""``compare`` shows split, image counts and intervals, and refuses runs on different images."""

import json

import pytest

from eval_folders import cli, error_of, predicted_folder
from speciarl.evaluate.report import format_ci
from speciarl.testing.openai_server import ScriptedOpenAIServer, rule_responder

ANSWER = ["circle"]
SAMPLED = ["plain green circle", "I don't know"]  # one image of the six is one


def evaluated(out, answers=ANSWER, **selection):
    """A run folder with its report, named after the folder: one prediction per image per
    answer."""
    predicted_folder(out, answers, **selection)
    cli("verify", "--out", out)
    cli("report", "--out", out, "--resamples", "50", "--name", out.name)
    return out


@pytest.fixture
def base(tmp_path):
    return evaluated(tmp_path / "base", subset=6)


def test_runs_on_the_same_images_are_compared_with_split_counts_and_intervals(base, tmp_path):
    same = evaluated(tmp_path / "same", subset=6)
    table = cli("compare", base, same).stdout
    lines = table.strip().splitlines()
    assert lines[0] == "| model | split | images | overall spec | overall corr | overall HM |"
    overall = json.loads((base / "report.json").read_text())["overall"]
    low, high = overall["hm"]["ci"]
    assert lines[2].startswith("| base | test | 6 | ")
    assert f"**{overall['hm']['value']:.3f}** [{low:.3f}, {high:.3f}] |" in lines[2]
    assert "Mixed" not in table and "Note" not in table


@pytest.mark.parametrize(
    ("selection", "difference"),
    [
        (
            {"split": "val", "subset": 4},
            "synthetic split: test in {base}, val in {other}; "
            "synthetic images: 6 in {base}, 4 in {other}",
        ),
        ({"subset": 4}, "synthetic images: 6 in {base}, 4 in {other}"),
        ({"subset": 6, "seed": 1}, "synthetic: other sample ids in {base} than in {other}"),
    ],
)
def test_runs_on_different_images_are_refused_unless_mixing_is_allowed(
    base, tmp_path, selection, difference
):
    other = evaluated(tmp_path / "other", **selection)
    result = cli("compare", base, other, code=2)
    expected = difference.format(base=base, other=other)
    assert error_of(result) == (
        f"the runs were evaluated on different images ({expected}); "
        "give --allow-mixed to put them in one table anyway"
    )
    table = cli("compare", base, other, "--allow-mixed").stdout
    assert table.startswith(f"**Mixed runs, not comparable**: {expected}. No best value")
    rows = table.strip().splitlines()[4:]
    assert [row.split(" | ")[0] for row in rows] == ["| base", "| other"]
    assert not any("**" in row for row in rows)


def test_a_report_that_does_not_record_its_images_is_refused(base, tmp_path):
    old = evaluated(tmp_path / "old", subset=6)
    report = json.loads((old / "report.json").read_text())
    for section in report["datasets"].values():
        del section["split"], section["sample_ids_sha256"]
    (old / "report.json").write_text(json.dumps(report))
    result = cli("compare", base, old, code=2)
    assert error_of(result) == (
        f"{old}: the report does not record which images it evaluated (made by an older "
        "speciarl); rerun `speciarl report` on it, or give --allow-mixed"
    )
    cli("report", "--out", old, "--resamples", "50")  # what the message advises
    cli("compare", base, old)


def test_runs_judged_by_different_judge_set_ups_say_so(base, tmp_path):
    other = evaluated(tmp_path / "other", subset=6)
    wrong = rule_responder(lambda truth, prediction: "wrong")
    with ScriptedOpenAIServer(wrong, models=["judge"]) as server:
        cli("verify", "--out", other, "--endpoint", server.base_url, "--judge-model", "judge")
    cli("report", "--out", other, "--resamples", "50")
    table = cli("compare", base, other).stdout
    assert "Note: the runs were judged by different judge set-ups: " in table
    assert f"{base}: hierarchy (lexical and taxonomy judges, no LLM)" in table
    assert "(LLM judge, prompt base v1)" in table


def test_a_run_sampled_several_times_shows_its_sample_mean_and_its_oracle_each_named(
    base, tmp_path
):
    sampled = evaluated(tmp_path / "base best-of-2", SAMPLED, subset=6)
    overall = json.loads((sampled / "report.json").read_text())["overall"]
    oracle = overall["best_of_n"]
    assert oracle["correctness"]["value"] > overall["correctness"]["value"], "figures differ"
    lines = cli("compare", base, sampled).stdout.strip().splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [row[0] for row in cells] == [
        "base",
        "base best-of-2 (mean of 2 samples)",
        "base best-of-2 (oracle best of 2)",
    ]
    for row, figures in ((cells[1], overall), (cells[2], oracle)):
        assert row[1:3] == ["test", "6"]
        assert [cell.replace("**", "") for cell in row[3:]] == [
            format_ci(figures[metric]) for metric in ("specificity", "correctness", "hm")
        ]
    assert oracle["hm"]["value"] > overall["hm"]["value"] > 0
    assert cells[1][5].startswith("**"), "the sample mean is a method's figure: it may be best"
    assert "**" not in lines[4], "the oracle picks by the true label: it is never marked best"
