import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speciarl import Verdict
from speciarl.metrics import (
    best_of_k,
    best_of_k_curve,
    best_of_n,
    best_verdict,
    bootstrap_ci,
    harmonic_mean,
    summarize,
)
from verdict_letters import A, G, L, M, S, W


def test_summarize_hand_computed():
    # 10 predictions: 2 wrong, 1 abstain, 1 generic, 2 less specific, 2 specific, 1 more, 1 unjudged
    verdicts = [W, W, A, G, L, L, S, S, M, None]
    summary = summarize(verdicts)
    assert summary["n"] == 10
    assert summary["counts"] == {
        "wrong": 2,
        "abstain": 1,
        "generic": 1,
        "less specific": 2,
        "specific": 2,
        "more specific": 1,
        "unjudged": 1,
    }
    assert summary["shares"]["less specific"] == pytest.approx(0.2)
    assert summary["shares"]["unjudged"] == pytest.approx(0.1)
    # correct = G + 2L + 2S + M = 6 of 10; specific among correct = 3 of 6
    assert summary["correctness"] == pytest.approx(0.6)
    assert summary["specificity"] == pytest.approx(0.5)
    assert summary["hm"] == pytest.approx(2 * 0.6 * 0.5 / 1.1)


def test_specificity_can_exceed_correctness():
    summary = summarize([S, W, W, W])
    assert summary["correctness"] == pytest.approx(0.25)
    assert summary["specificity"] == pytest.approx(1.0)
    assert summary["hm"] == pytest.approx(0.4)


def test_nothing_correct_gives_zero_specificity_and_hm():
    summary = summarize([W, A, None])
    assert summary["correctness"] == 0.0
    assert summary["specificity"] == 0.0
    assert summary["hm"] == 0.0


def test_summarize_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        summarize([])
    with pytest.raises(TypeError, match=r"verdicts\[0\]"):
        summarize(["specific"])  # type: ignore[list-item]


def test_harmonic_mean():
    assert harmonic_mean(0.0, 0.0) == 0.0
    assert harmonic_mean(1.0, 1.0) == 1.0
    assert harmonic_mean(0.920, 0.848) == pytest.approx(0.8825, abs=1e-4)  # paper's SpeciaRL row


def test_best_verdict_and_best_of_n():
    groups = [[W, G, L], [None, W], [None, None], [S, M, W]]
    assert [best_verdict(g) for g in groups] == [L, W, None, M]
    summary = best_of_n(groups)
    assert summary["n"] == 4
    assert summary["counts"]["less specific"] == 1
    assert summary["counts"]["unjudged"] == 1
    assert summary["correctness"] == pytest.approx(0.5)
    assert summary["specificity"] == pytest.approx(0.5)


def _enumerated_best_of_k(groups, k):
    """Brute force: average over every k-subset of every group."""
    totals = {}
    for group in groups:
        subsets = list(itertools.combinations(group, k))
        for subset in subsets:
            best = best_verdict(subset)
            totals[best] = totals.get(best, 0.0) + 1 / len(subsets)
    return totals


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_best_of_k_is_exact(k):
    groups = [[W, G, S, None], [A, A, L, W], [M, W, W, W], [G, G, L, S]]
    expected = _enumerated_best_of_k(groups, k)
    result = best_of_k(groups, k)
    assert result["k"] == k
    for verdict in [*Verdict, None]:
        name = "unjudged" if verdict is None else verdict.value
        assert result["counts"][name] == pytest.approx(expected.get(verdict, 0.0))


@given(
    st.lists(
        st.lists(st.one_of(st.none(), st.sampled_from(list(Verdict))), min_size=5, max_size=5),
        min_size=1,
        max_size=6,
    )
)
def test_best_of_k_ends_match_single_samples_and_the_oracle(groups):
    first = best_of_k(groups, 1)
    flat = summarize([v for g in groups for v in g])
    for name, share in flat["shares"].items():
        assert first["shares"][name] == pytest.approx(share)
    last = best_of_k(groups, 5)
    oracle = best_of_n(groups)
    assert last["shares"] == pytest.approx(oracle["shares"])
    curve = best_of_k_curve(groups)
    assert [point["k"] for point in curve] == [1, 2, 3, 4, 5]
    correctness = [point["correctness"] for point in curve]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(correctness))


def test_best_of_k_checks_k():
    with pytest.raises(ValueError, match=r"1\.\.2"):
        best_of_k([[S, G, W], [S, G]], 3)
    with pytest.raises(ValueError, match="group 1 has no predictions"):
        best_of_k([[S], []], 1)


def test_bootstrap_ci_is_seeded_and_brackets_the_estimate():
    verdicts = [S] * 50 + [G] * 30 + [W] * 15 + [None] * 5
    summary = summarize(verdicts)
    ci = bootstrap_ci(verdicts, seed=3)
    assert ci == bootstrap_ci(verdicts, seed=3)
    assert ci != bootstrap_ci(verdicts, seed=4)
    for name in ("correctness", "specificity", "hm"):
        low, high = ci[name]
        assert low <= summary[name] <= high
        assert high - low > 0.01
    # Normal approximation for correctness (p = 0.8, n = 100): half-width about 0.078.
    low, high = ci["correctness"]
    assert (high - low) / 2 == pytest.approx(1.96 * math.sqrt(0.8 * 0.2 / 100), abs=0.02)


def test_bootstrap_ci_narrows_with_more_data_and_checks_arguments():
    small = bootstrap_ci([S, G, W, W] * 25)
    large = bootstrap_ci([S, G, W, W] * 2500)
    width = lambda ci: ci["hm"][1] - ci["hm"][0]  # noqa: E731
    assert width(large) < width(small) / 5
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_ci([S], resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([S], confidence=1.0)


def test_bootstrap_ci_of_a_degenerate_sample_is_a_point():
    ci = bootstrap_ci([S] * 40)
    assert ci["correctness"] == (1.0, 1.0)
    assert ci["specificity"] == (1.0, 1.0)
