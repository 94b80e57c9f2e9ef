"""The demo's own logic; the whole pipeline is exercised by `speciarl demo --quick`."""

from collections import Counter

import pytest

from speciarl.data.registry import get_dataset
from speciarl.data.synthetic import species
from speciarl.demo import DemoSettings, Entry, _draw, mixed_level_target, twin_behaviour
from speciarl.evaluate.predict import GenerationSettings, predict
from speciarl.evaluate.run import prediction_store, verdict_store
from speciarl.evaluate.verify import verify
from speciarl.judges.factory import build_judge


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


def test_entry_folders_are_readable_slugs():
    assert Entry("RFT (binary reward)", "m").slug == "rft-binary-reward"
    assert Entry("base best-of-8", "m").slug == "base-best-of-8"


class _Answers:
    name = "scripted"

    def __init__(self, answer_of):
        self.answer_of = answer_of

    def generate(self, images, prompt, settings, seeds):
        return [[f"<answer>{self.answer_of}</answer>"] for _ in images]


def test_twin_behaviour_counts_hedges_and_wrong_answers_on_twins_only(tmp_path):
    twins = [s for s in get_dataset("synthetic").load("test") if species_of(s).lookalikes][:4]
    others = [s for s in get_dataset("synthetic").load("test") if not species_of(s).lookalikes][:3]
    family = species_of(twins[0]).family
    store = prediction_store(tmp_path, "synthetic")
    predict(twins + others, _Answers(family), store, GenerationSettings(), model_name="x")
    verify(
        store,
        verdict_store(tmp_path, "synthetic"),
        build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy()),
    )
    same_family = sum(species_of(s).family == family for s in twins)
    behaviour = twin_behaviour(tmp_path)
    assert behaviour["predictions"] == 4
    assert behaviour["hedged"] == same_family / 4
    assert behaviour["wrong"] == (4 - same_family) / 4


def species_of(sample):
    return {s.name: s for s in species()}[sample.label]
