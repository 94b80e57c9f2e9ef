"""The demo's own logic; the whole pipeline is exercised by `speciarl demo --quick`."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from speciarl.data.registry import get_dataset
from speciarl.data.synthetic import species
from speciarl.demo import (
    BASE_PROMPTS,
    DemoError,
    DemoSettings,
    Entry,
    PromptLevels,
    _draw,
    base_prompt,
    lookalike_behaviour,
    mixed_level_target,
)
from speciarl.evaluate.predict import Completion, GenerationSettings, predict
from speciarl.evaluate.run import prediction_store, verdict_store
from speciarl.evaluate.verify import verify
from speciarl.judges.describe import judge_id
from speciarl.judges.factory import build_judge
from speciarl.prompts import PromptError, load_prompt
from speciarl.train.sft import with_targets


def test_levels_are_drawn_in_the_asked_proportions_and_fixed_per_image():
    draws = Counter(_draw(f"0:{i}", (0.5, 0.35, 0.15)) for i in range(20_000))
    assert draws["species"] / 20_000 == pytest.approx(0.5, abs=0.02)
    assert draws["family"] / 20_000 == pytest.approx(0.35, abs=0.02)
    assert draws["order"] / 20_000 == pytest.approx(0.15, abs=0.02)
    assert _draw("0:7", (0.5, 0.35, 0.15)) == _draw("0:7", (0.5, 0.35, 0.15))


def test_mixed_level_targets_name_the_image_at_one_level_of_its_hierarchy():
    target = mixed_level_target(DemoSettings())
    info = {s.name: s for s in species()}
    answers = Counter()
    for index, name in enumerate(info):
        text = target({"label": name, "sample_id": f"synthetic/train/{index}"})
        assert text.startswith("<think>") and text.endswith("</answer>")
        answer = text.split("<answer>")[1].removesuffix("</answer>")
        assert answer in (name, info[name].family, info[name].order)
        answers[answer == name] += 1
    assert answers[True] and answers[False]


def test_each_base_row_gets_a_prompt_fixed_by_its_id_and_that_prompt_sets_its_level_mix():
    settings = DemoSettings()
    prompt_of, target = base_prompt(settings), mixed_level_target(settings)
    info = {s.name: s for s in species()}
    names = list(info)
    prompts, levels = Counter(), {taught.prompt: Counter() for taught in BASE_PROMPTS}
    for index in range(6000):
        row = {"label": names[index % len(names)], "sample_id": f"synthetic/train/{index}"}
        prompt = prompt_of(row)
        assert prompt == prompt_of(dict(row)), "fixed per image"
        prompts[prompt] += 1
        answer = target(row).split("<answer>")[1].removesuffix("</answer>")
        level = {info[row["label"]].family: "family", info[row["label"]].order: "order"}
        levels[prompt][level.get(answer, "species")] += 1
    for taught in BASE_PROMPTS:
        assert prompts[taught.prompt] / 6000 == pytest.approx(taught.share, abs=0.03)
        drawn = levels[taught.prompt]
        for level, share in zip(("species", "family", "order"), taught.levels, strict=True):
            assert drawn[level] / drawn.total() == pytest.approx(share, abs=0.04), taught.prompt
    species_share = {p: c["species"] / c.total() for p, c in levels.items()}
    assert species_share["be_specific"] > species_share["general"] > species_share["high_precision"]
    other_seed = base_prompt(DemoSettings(seed=1))
    assert any(other_seed(r) != prompt_of(r) for r in ({"sample_id": str(i)} for i in range(20)))


def test_sft_rows_are_asked_with_their_own_prompt_and_answered_at_its_level():
    import datasets

    settings = DemoSettings()
    rows = [
        {
            "sample_id": f"synthetic/train/{index}",
            "label": name,
            "prompt": [{"role": "user", "content": "built prompt"}],
        }
        for index, name in enumerate(s.name for s in species())
    ]
    built = with_targets(
        datasets.Dataset.from_list(rows), mixed_level_target(settings), base_prompt(settings)
    )
    asked = Counter()
    for row, original in zip(built, rows, strict=True):
        name = base_prompt(settings)(original)
        assert row["prompt"] == [{"role": "user", "content": load_prompt(name).text}]
        assert row["completion"] == [
            {"role": "assistant", "content": mixed_level_target(settings)(original)}
        ]
        asked[name] += 1
    assert set(asked) == {taught.prompt for taught in BASE_PROMPTS}
    plain = with_targets(datasets.Dataset.from_list(rows))
    assert plain[0]["prompt"] == rows[0]["prompt"], "without a choice the built prompt stays"


@pytest.mark.parametrize(
    ("prompts", "error"),
    [
        ((PromptLevels("general", 1.0, (0.5, 0.5, 0.5)),), DemoError),
        ((PromptLevels("general", 0.5, (1.0, 0.0, 0.0)),), DemoError),
        ((PromptLevels("shout", 1.0, (1.0, 0.0, 0.0)),), PromptError),
    ],
)
def test_base_prompts_that_cannot_be_drawn_are_refused_at_once(prompts, error):
    with pytest.raises(error):
        DemoSettings(base_prompts=prompts)


def test_entry_folders_are_readable_slugs():
    assert Entry("RFT (binary reward)", "m").slug == "rft-binary-reward"
    assert Entry("base best-of-8", "m").slug == "base-best-of-8"


class _Answers:
    name = "scripted"

    def __init__(self, answer_of):
        self.answer_of = answer_of

    def generate(self, images, prompt, settings, seeds):
        return [[Completion(f"<answer>{self.answer_of}</answer>", False)] for _ in images]


def test_lookalike_behaviour_counts_hedges_and_wrong_answers_on_lookalikes_only(tmp_path):
    lookalikes = [s for s in get_dataset("synthetic").load("test") if species_of(s).lookalikes][:4]
    others = [s for s in get_dataset("synthetic").load("test") if not species_of(s).lookalikes][:3]
    family = species_of(lookalikes[0]).family
    store = prediction_store(tmp_path, "synthetic")
    predict(lookalikes + others, _Answers(family), store, GenerationSettings(), model_name="x")
    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    verify(store, verdict_store(tmp_path, "synthetic", judge_id(judge)), judge)
    same_family = sum(species_of(s).family == family for s in lookalikes)
    behaviour = lookalike_behaviour(tmp_path)
    assert behaviour["predictions"] == 4
    assert behaviour["hedged"] == same_family / 4
    assert behaviour["wrong"] == (4 - same_family) / 4


def species_of(sample):
    return {s.name: s for s in species()}[sample.label]


def test_quick_demo_runs_end_to_end_and_resumes(tmp_path):
    """`speciarl demo --quick`, as CI runs it: every stage, the table, both plots; a second run
    finds all six stages done. Only seed-robust facts about the figures are asserted."""
    speciarl = Path(sys.executable).parent / "speciarl"
    command = [str(speciarl), "demo", "--quick", "--out", str(tmp_path)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    names = [row["model"] for row in results["rows"]]
    assert names == [
        "base",
        "base + be specific",
        "base best-of-4",
        "SFT on species",
        "RFT (binary reward)",
        "SpeciaRL",
    ]
    for row in results["rows"]:
        for metric in ("specificity", "correctness", "hm"):
            low, high = row[metric]["ci"]
            assert 0 <= low <= row[metric]["value"] <= high <= 1, (row["model"], metric)
        assert row["lookalikes"]["predictions"] > 0
    assert first.stdout == (tmp_path / "results.md").read_text()  # the table, and only it
    assert len(first.stdout.splitlines()) == len(names) + 2  # header, rule, one line per row
    for plot in ("verdict_bars.png", "tradeoff.png"):
        assert (tmp_path / plot).stat().st_size > 10_000
    pages = {path.name for path in (tmp_path / "pages").iterdir()}
    assert pages == {
        "compare-base-vs-speciarl.html",
        "compare-rft-binary-reward-vs-speciarl.html",
        "rollouts-rft-binary.html",
        "rollouts-speciarl.html",
    }
    for page in (tmp_path / "pages").iterdir():
        assert "data:image/" in page.read_text(encoding="utf-8"), page.name  # thumbnails
    for slug in ("base", "speciarl"):
        assert (tmp_path / "eval" / slug / "report.html").is_file()
    second = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("done before") == 6
    assert second.stdout == first.stdout


def test_best_of_n_reports_are_plotted_at_their_oracle_point():
    from speciarl.demo import _oracle_view

    plain = {"specificity": {"value": 0.3}, "best_of_n": {"specificity": {"value": 0.6}}}
    report = {
        "model": "base best-of-8",
        "datasets": {"synthetic": plain},
        "groups": {"fine": plain},
        "overall": plain,
    }
    view = _oracle_view(report)
    assert view["datasets"]["synthetic"] == {"specificity": {"value": 0.6}}
    assert view["overall"] == {"specificity": {"value": 0.6}}
    assert view["groups"] == {} and view["model"] == "base best-of-8"
    assert report["overall"] is plain, "the report itself is left alone"


def test_a_run_folder_of_other_settings_is_refused_before_any_work(tmp_path):
    from dataclasses import replace

    from speciarl.demo import QUICK, DemoError, _claim_folder, run_demo

    _claim_folder(tmp_path, QUICK)
    _claim_folder(tmp_path, QUICK)  # the same settings resume
    with pytest.raises(DemoError, match=r"other settings \(base_steps, rl_steps differ\)"):
        run_demo(tmp_path, replace(QUICK, base_steps=31, rl_steps=4))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["settings.json"]


def test_the_command_names_a_folder_of_other_settings(tmp_path):
    from typer.testing import CliRunner

    from speciarl.cli import app
    from speciarl.demo import DemoSettings, _claim_folder

    _claim_folder(tmp_path, DemoSettings())
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "holds a demo run with other settings" in result.output


def test_a_stage_counts_as_done_only_once_its_run_finished(tmp_path):
    from speciarl.demo import _stage

    said = []

    def interrupted(folder):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "config.json").write_text("{}")  # saved in part, then stopped
        raise KeyboardInterrupt

    def finished(folder):
        return folder / "model"

    with pytest.raises(KeyboardInterrupt):
        _stage(tmp_path / "base", said.append, "base", interrupted)
    assert _stage(tmp_path / "base", said.append, "base", finished) == tmp_path / "base" / "model"
    assert (
        _stage(tmp_path / "base", said.append, "base", interrupted) == tmp_path / "base" / "model"
    )
    assert said == ["base", "base", "base: done before"]
