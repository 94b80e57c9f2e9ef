"""The evaluation report, its figures and the comparison table, against hand-computed numbers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from speciarl.evaluate import report as report_module
from speciarl.evaluate.compare import compare_table
from speciarl.evaluate.plots import tradeoff_scatter, verdict_bars
from speciarl.evaluate.report import (
    CATEGORIES,
    LABELS,
    DatasetResult,
    best_counts,
    build_report,
    cluster_bootstrap,
    image_counts,
    render_markdown,
    scores,
)
from speciarl.metrics import best_verdict, bootstrap_ci, scores_from_counts
from verdict_letters import A, G, L, M, S, W


def result(name, groups, format_failures=0):
    ids = f"{name}:{len(groups)}"  # stands in for the digest of the images' sample ids
    return DatasetResult(name, groups, format_failures, sum(len(g) for g in groups), "test", ids)


# Four datasets, two predictions per image. Hand-computed values are in the tests below.
FLOWERS = result("flowers102", [[S, G], [W, None], [M, L]], format_failures=1)
FOOD = result("food101", [[S, S], [A, G]])
PETS = result("oxford_pets", [[L, L], [W, W]])
CARS = result("stanford_cars", [[S, W]])
SMALL = [FLOWERS, FOOD, PETS, CARS]

# (specificity, correctness, hm) of every dataset, and of its best-of-2 oracle.
EXPECTED = {
    "flowers102": (2 / 4, 4 / 6, 4 / 7),
    "food101": (2 / 3, 3 / 4, 12 / 17),
    "oxford_pets": (0.0, 2 / 4, 0.0),
    "stanford_cars": (1.0, 1 / 2, 2 / 3),
}
EXPECTED_BEST = {
    "flowers102": (1.0, 2 / 3, 0.8),
    "food101": (1 / 2, 1.0, 2 / 3),
    "oxford_pets": (0.0, 1 / 2, 0.0),
    "stanford_cars": (1.0, 1.0, 1.0),
}
METRICS = ("specificity", "correctness", "hm")


@pytest.fixture(scope="module")
def small_report():
    return build_report(SMALL, model="tiny", resamples=200, seed=3)


def random_groups(rng, images, n, weights=(10, 2, 5, 10, 60, 10, 3)):
    return [rng.choices(CATEGORIES, weights, k=n) for _ in range(images)]


# --- per-dataset numbers ---------------------------------------------------------------------


def test_dataset_metrics_are_the_hand_computed_ones(small_report):
    for name, expected in EXPECTED.items():
        section = small_report["datasets"][name]
        for metric, value in zip(METRICS, expected, strict=True):
            assert section[metric]["value"] == pytest.approx(value), (name, metric)


def test_counts_shares_sizes_and_format_failures(small_report):
    flowers = small_report["datasets"]["flowers102"]
    assert flowers["n_images"] == 3
    assert flowers["n_predictions"] == 6
    assert flowers["predictions_per_image"] == {"min": 2, "max": 2}
    assert flowers["counts"] == {
        "wrong": 1,
        "abstain": 0,
        "generic": 1,
        "less specific": 1,
        "specific": 1,
        "more specific": 1,
        "unjudged": 1,
    }
    assert flowers["shares"]["specific"] == pytest.approx(1 / 6)
    assert flowers["shares"]["abstain"] == 0.0
    assert sum(flowers["shares"].values()) == pytest.approx(1.0)
    assert list(flowers["shares"]) == list(LABELS)
    assert flowers["format_failures"] == 1
    assert flowers["format_failure_rate"] == pytest.approx(1 / 6)
    assert flowers["undecided"] == 0
    food = small_report["datasets"]["food101"]
    assert food["counts"]["specific"] == 2
    assert food["format_failure_rate"] == 0.0
    for label in LABELS:
        low, high = food["share_ci"][label]
        assert low <= food["shares"][label] <= high


def test_unjudged_that_is_not_a_format_failure_is_undecided():
    report = build_report([result("x", [[None, None], [S, None]], 1)], model="m", resamples=20)
    section = report["datasets"]["x"]
    assert section["counts"]["unjudged"] == 3
    assert section["format_failures"] == 1
    assert section["undecided"] == 2


def test_best_of_n_and_best_of_k_curve(small_report):
    for name, expected in EXPECTED_BEST.items():
        oracle = small_report["datasets"][name]["best_of_n"]
        assert oracle["n"] == 2
        for metric, value in zip(METRICS, expected, strict=True):
            assert oracle[metric]["value"] == pytest.approx(value), (name, metric)
            low, high = oracle[metric]["ci"]
            assert low <= oracle[metric]["value"] + 1e-12
            assert high >= oracle[metric]["value"] - 1e-12
    assert small_report["datasets"]["flowers102"]["best_of_n"]["counts"]["more specific"] == 1
    curve = small_report["datasets"]["flowers102"]["best_of_k"]
    assert [entry["k"] for entry in curve] == [1, 2]
    assert curve[0]["hm"] == pytest.approx(4 / 7)  # best of 1 = the plain metrics
    assert curve[1]["hm"] == pytest.approx(0.8)  # best of N = the oracle
    assert curve[1]["shares"]["unjudged"] == 0.0


def test_best_of_k_expectation_by_hand():
    # One image [W, S, G]: best of 2 is S in 2 of the 3 pairs, G in the third.
    report = build_report([result("x", [[W, S, G]])], model="m", resamples=10)
    k2 = report["datasets"]["x"]["best_of_k"][1]
    assert k2["k"] == 2
    assert k2["shares"]["specific"] == pytest.approx(2 / 3)
    assert k2["shares"]["generic"] == pytest.approx(1 / 3)
    assert k2["correctness"] == pytest.approx(1.0)
    assert k2["specificity"] == pytest.approx(2 / 3)


def test_single_prediction_per_image_has_no_oracle_or_curve():
    report = build_report([result("x", [[S], [W], [G]])], model="m", resamples=10)
    section = report["datasets"]["x"]
    assert "best_of_n" not in section
    assert "best_of_k" not in section
    assert "best_of_n" not in report["overall"]
    assert "—" in render_markdown(report)
    assert "Best-of-k" not in render_markdown(report)


def test_uneven_groups_keep_the_oracle_but_no_curve():
    report = build_report([result("x", [[S], [W, M], [G, G]])], model="m", resamples=10)
    section = report["datasets"]["x"]
    assert section["predictions_per_image"] == {"min": 1, "max": 2}
    assert section["best_of_n"]["n"] == 2
    assert section["best_of_n"]["correctness"]["value"] == pytest.approx(1.0)
    assert section["best_of_n"]["specificity"]["value"] == pytest.approx(2 / 3)
    assert "best_of_k" not in section


# --- groups and overall -----------------------------------------------------------------------


def test_groups_are_macro_averages_of_present_groups(small_report):
    assert list(small_report["groups"]) == ["fine-grained"]  # no fgvc_aircraft
    group = small_report["groups"]["fine-grained"]
    assert group["datasets"] == ["flowers102", "food101", "oxford_pets"]
    members = ["flowers102", "food101", "oxford_pets"]
    for index, metric in enumerate(METRICS):
        mean = sum(EXPECTED[name][index] for name in members) / 3
        assert group[metric]["value"] == pytest.approx(mean)
        best_mean = sum(EXPECTED_BEST[name][index] for name in members) / 3
        assert group["best_of_n"][metric]["value"] == pytest.approx(best_mean)
    # The group HM is the mean of HMs, not the HM of the mean specificity and correctness.
    assert group["hm"]["value"] == pytest.approx((4 / 7 + 12 / 17 + 0) / 3)
    assert group["n_images"] == 7
    assert group["n_predictions"] == 14
    assert group["shares"]["wrong"] == pytest.approx((1 / 6 + 0 + 2 / 4) / 3)
    assert group["format_failure_rate"] == pytest.approx((1 / 6) / 3)
    assert group["best_of_n"]["n"] == [2, 2, 2]


def test_overall_covers_every_dataset(small_report):
    overall = small_report["overall"]
    assert overall["datasets"] == ["flowers102", "food101", "oxford_pets", "stanford_cars"]
    for index, metric in enumerate(METRICS):
        mean = sum(values[index] for values in EXPECTED.values()) / 4
        assert overall[metric]["value"] == pytest.approx(mean)


def test_both_groups_when_all_their_datasets_are_present():
    rng = random.Random(5)
    names = ["flowers102", "food101", "oxford_pets", "stanford_cars", "fgvc_aircraft", "cub200"]
    results = [result(name, random_groups(rng, 30, 3)) for name in names]
    report = build_report(results, model="m", resamples=50)
    assert list(report["groups"]) == ["fine-grained", "very fine-grained"]
    assert report["groups"]["very fine-grained"]["datasets"] == ["stanford_cars", "fgvc_aircraft"]
    assert len(report["overall"]["datasets"]) == 6


def test_group_ci_averages_the_datasets_draws():
    # With one dataset's draws fixed, the group's draws are the mean of the draws.
    rng = random.Random(9)
    results = [result(n, random_groups(rng, 200, 2)) for n in ("flowers102", "food101")]
    results.append(result("oxford_pets", [[S, S]] * 50))  # no variability at all
    report = build_report(results, model="m", resamples=400, seed=1)
    group = report["groups"]["fine-grained"]
    for metric in METRICS:
        low, high = group[metric]["ci"]
        widths = [report["datasets"][n][metric]["ci"] for n in ("flowers102", "food101")]
        # Averaging three independent draws shrinks the spread below the widest member's.
        assert high - low < max(h - lo for lo, h in widths)
        assert low <= group[metric]["value"] <= high


# --- the cluster bootstrap --------------------------------------------------------------------


def test_bootstrap_is_seeded_and_reproducible(small_report):
    again = build_report(SMALL, model="tiny", resamples=200, seed=3)
    assert again == small_report
    larger = [result("food101", random_groups(random.Random(4), 300, 3))]
    seeded = [build_report(larger, model="m", resamples=200, seed=seed) for seed in (0, 0, 1)]
    assert seeded[0] == seeded[1]
    assert seeded[0]["overall"]["hm"]["ci"] != seeded[2]["overall"]["hm"]["ci"]
    assert seeded[0]["overall"]["hm"]["value"] == seeded[2]["overall"]["hm"]["value"]


def test_dataset_ci_does_not_depend_on_the_other_datasets(small_report):
    alone = build_report([FOOD], model="tiny", resamples=200, seed=3)
    assert alone["datasets"]["food101"] == small_report["datasets"]["food101"]


def test_ci_contains_the_estimate_and_is_ordered():
    rng = random.Random(0)
    results = [result("flowers102", random_groups(rng, 500, 4))]
    report = build_report(results, model="m", resamples=500)
    for metric in METRICS:
        low, high = report["datasets"]["flowers102"][metric]["ci"]
        assert 0.0 <= low < report["datasets"]["flowers102"][metric]["value"] < high <= 1.0


def test_cluster_ci_is_wider_when_an_images_predictions_agree():
    # Five identical verdicts per image: five predictions carry one image's worth of evidence.
    rng = random.Random(1)
    firsts = [rng.choices(CATEGORIES, (15, 5, 10, 10, 50, 10, 0))[0] for _ in range(600)]
    groups = [[verdict] * 5 for verdict in firsts]
    report = build_report([result("x", groups)], model="m", resamples=1000)
    naive = bootstrap_ci([v for g in groups for v in g], resamples=1000)
    for metric in METRICS:
        low, high = report["datasets"]["x"][metric]["ci"]
        ratio = (high - low) / (naive[metric][1] - naive[metric][0])
        assert ratio > 1.8, (metric, ratio)  # about sqrt(5) = 2.24


def test_cluster_ci_agrees_with_bootstrap_ci_for_one_prediction_per_image():
    rng = random.Random(2)
    verdicts = rng.choices(CATEGORIES, (10, 3, 7, 10, 55, 12, 3), k=3000)
    report = build_report([result("x", [[v] for v in verdicts])], model="m", resamples=2000)
    reference = bootstrap_ci(verdicts, resamples=2000)
    for metric in METRICS:
        ours = report["datasets"]["x"][metric]["ci"]
        assert ours == pytest.approx(list(reference[metric]), abs=0.004), metric


def test_cluster_bootstrap_totals_and_chunking(monkeypatch):
    per_image = np.array([[1, 0, 1], [0, 2, 1], [3, 1, 1], [1, 0, 1]])  # last column: one image
    monkeypatch.setattr(report_module, "_CHUNK_ITEMS", 5)  # one resample per chunk
    totals = cluster_bootstrap(per_image, 300, np.random.default_rng(0))
    assert totals.shape == (300, 3)
    assert np.all(totals[:, 2] == 4)  # every resample draws four whole images
    # Resampled totals are sums of whole rows: column 0 is a sum of four of {1, 0, 3, 1}.
    assert set(totals[:, 0].tolist()) <= set(range(13))
    assert totals[:, 0].mean() == pytest.approx(4 * 1.25, rel=0.1)
    again = cluster_bootstrap(per_image, 300, np.random.default_rng(0))
    assert np.array_equal(totals, again)
    with pytest.raises(ValueError):
        cluster_bootstrap(per_image, 0, np.random.default_rng(0))
    with pytest.raises(ValueError):
        cluster_bootstrap(np.zeros((0, 7)), 10, np.random.default_rng(0))


def test_vectorised_helpers_match_the_metrics_module():
    rng = random.Random(3)
    groups = [*random_groups(rng, 200, 3), [None, None], [W, A]]
    per_image = image_counts(groups)
    assert per_image.shape == (202, 7)
    for group, row in zip(groups, per_image, strict=True):
        assert row.tolist() == [group.count(category) for category in CATEGORIES]
    best = best_counts(per_image)
    for group, row in zip(groups, best, strict=True):
        assert CATEGORIES[int(np.argmax(row))] == best_verdict(group)
        assert row.sum() == 1
    for row in [*per_image[:20], np.array([0, 3, 0, 0, 0, 0, 1])]:
        reference = scores_from_counts(dict(zip(CATEGORIES, row.tolist(), strict=True)))
        ours = scores(row)
        for metric in METRICS:
            assert float(ours[metric]) == pytest.approx(reference[metric])


# --- validation and serialisation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ([], "no dataset"),
        ([DatasetResult("x", [], 0, 0)], "no images"),
        ([DatasetResult("x", [[S], []], 0, 1)], "no predictions"),
        ([DatasetResult("x", [[S, W]], 0, 3)], "n_predictions"),
        ([DatasetResult("x", [[S, None]], 2, 2)], "format_failures"),
        ([FOOD, FOOD], "more than once"),
    ],
)
def test_invalid_input_is_refused(results, message):
    with pytest.raises(ValueError, match=message):
        build_report(results, model="m", resamples=10)


def test_invalid_options_are_refused():
    with pytest.raises(ValueError, match="resamples"):
        build_report([FOOD], model="m", resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        build_report([FOOD], model="m", confidence=1.0)


def test_report_is_json_serialisable_and_has_meta(small_report):
    assert json.loads(json.dumps(small_report)) == small_report
    assert small_report["model"] == "tiny"
    meta = small_report["meta"]
    assert (meta["resamples"], meta["confidence"], meta["seed"]) == (200, 0.95, 3)
    assert meta["verdicts"] == list(LABELS)
    for name in ("correctness", "specificity", "hm", "best_of_n", "group"):
        assert isinstance(meta["definitions"][name], str) and "\n" not in meta["definitions"][name]


# --- Markdown ---------------------------------------------------------------------------------


def test_markdown_shows_the_numbers(small_report):
    text = render_markdown(small_report)
    flowers = small_report["datasets"]["flowers102"]
    low, high = flowers["hm"]["ci"]
    assert f"0.571 [{low:.3f}, {high:.3f}]" in text
    assert "| flowers102 | 3 | 6 | 0.500 [" in text
    assert "16.7 % (1)" in text  # format failures
    assert "(N=2)" in text
    assert "0.800 [" in text  # flowers' best-of-2 HM
    assert "**fine-grained** (mean of 3)" in text
    assert "**overall** (mean of 4)" in text
    assert "very fine-grained" not in text.split("## Definitions")[0]
    assert f"{(4 / 7 + 12 / 17) / 3:.3f} [" in text  # the group's macro HM
    assert (
        "| wrong | abstain | generic | less specific | specific | more specific | unjudged |"
        in (text)
    )
    assert "| food101 | 0.0 % | 25.0 % | 25.0 % | 0.0 % | 50.0 % | 0.0 % | 0.0 % |" in text
    assert "| k=1 | k=2 |" in text
    assert "| flowers102 | 0.571 | 0.800 |" in text
    assert "# Evaluation report: tiny" in text


# --- figures ----------------------------------------------------------------------------------


def _assert_png(path: Path, min_width: int, min_height: int) -> None:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        width, height = image.size
    assert width >= min_width and height >= min_height
    assert width < 5000 and height < 5000


def test_figures_are_valid_pngs(tmp_path, small_report):
    other = build_report(
        [result("flowers102", [[S, S], [M, G], [W, S]]), FOOD, PETS],
        model="speciarl",
        resamples=50,
    )
    bars, scatter = tmp_path / "figs" / "bars.png", tmp_path / "figs" / "tradeoff.png"
    verdict_bars([small_report, other], bars)
    tradeoff_scatter([small_report, other], scatter)
    _assert_png(bars, 800, 400)
    _assert_png(scatter, 800, 600)
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == ["bars.png", "tradeoff.png"]
    with pytest.raises(ValueError):
        verdict_bars([], tmp_path / "none.png")
    with pytest.raises(ValueError):
        tradeoff_scatter([], tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


# --- comparison table -------------------------------------------------------------------------


def test_compare_table_marks_the_best_hm_and_shows_images_split_and_intervals(small_report):
    better = build_report(
        [
            result("flowers102", [[S, S], [M, S], [S, G]]),
            result("food101", [[S, S], [S, G]]),
            result("oxford_pets", [[S, L], [S, S]]),
            result("stanford_cars", [[W, W]]),
        ],
        model="speciarl",
        resamples=20,
    )
    table = compare_table([small_report, better])
    lines = table.strip().splitlines()
    assert lines[0] == (
        "| model | split | images | fine-grained spec | fine-grained corr | fine-grained HM "
        "| overall spec | overall corr | overall HM |"
    )
    tiny, speciarl = lines[2], lines[4]  # each followed by its best-of-2 oracle's row
    low, high = small_report["groups"]["fine-grained"]["specificity"]["ci"]
    assert tiny.startswith(
        f"| tiny (mean of 2 samples) | test | 8 | 0.389 [{low:.3f}, {high:.3f}] |"
    )
    fine_hm = f"{better['groups']['fine-grained']['hm']['value']:.3f}"
    assert f"| **{fine_hm}** [" in speciarl
    assert "**" not in tiny.split("|")[6]
    assert table.count("**") == 4  # one bold value per HM column
    assert "Mixed" not in table and "Note" not in table


def test_compare_table_refuses_different_datasets_unless_mixed_is_allowed(small_report):
    cars_only = build_report([CARS, result("fgvc_aircraft", [[S, S]])], model="b", resamples=20)
    with pytest.raises(ValueError, match=r"different images \(datasets: .* in tiny, .* in b\)"):
        compare_table([small_report, cars_only])
    table = compare_table([small_report, cars_only], allow_mixed=True)
    assert table.startswith("**Mixed runs, not comparable**: datasets: ")
    header = table.splitlines()[2]
    assert "very fine-grained HM" in header and "fine-grained HM" in header
    tiny = table.splitlines()[4]
    assert tiny.count("—") == 3  # tiny has no very fine-grained group
    assert "8 (flowers102 3, food101 2, oxford_pets 2, stanford_cars 1)" in tiny
    assert table.count("**") == 2  # the warning only: no best value across incomparable runs
    with pytest.raises(ValueError):
        compare_table([])
