"""The agreement figures of judge-eval, checked against sums worked out by hand."""

import pytest

from speciarl.judges.agreement import (
    COLUMNS,
    ROWS,
    Agreement,
    add_matrices,
    agreement,
    cohen_kappa,
    confusion_matrix,
    weighted_kappa,
)
from verdict_letters import A, G, L, M, S, W

# Twelve pairs, (label, judged):
#   wrong labels:    3 judged wrong, 1 judged generic
#   abstain label:   1 left undecided
#   generic labels:  2 judged generic, 1 judged specific
#   specific labels: 3 judged specific, 1 left undecided
HAND_CASE = (
    [(W, W)] * 3 + [(W, G)] + [(A, None)] + [(G, G)] * 2 + [(G, S)] + [(S, S)] * 3 + [(S, None)]
)


def hand_case() -> Agreement:
    labels, judged = zip(*HAND_CASE, strict=True)
    return agreement(labels, judged)


def test_the_confusion_matrix_has_a_row_per_label_and_a_column_per_verdict_plus_undecided():
    figures = hand_case()
    assert ROWS == ("wrong", "abstain", "generic", "less specific", "specific", "more specific")
    assert COLUMNS[:-1] == ROWS and COLUMNS[-1] == "undecided"
    assert figures.confusion == (
        (3, 0, 1, 0, 0, 0, 0),
        (0, 0, 0, 0, 0, 0, 1),
        (0, 0, 2, 0, 1, 0, 0),
        (0, 0, 0, 0, 0, 0, 0),
        (0, 0, 0, 0, 3, 0, 1),
        (0, 0, 0, 0, 0, 0, 0),
    )


def test_coverage_and_accuracies_by_hand():
    figures = hand_case()
    # 12 pairs, 10 decided, 3 + 2 + 3 = 8 on the diagonal.
    assert (figures.pairs, figures.decided, figures.agreed) == (12, 10, 8)
    assert figures.coverage == pytest.approx(10 / 12)
    assert figures.accuracy_decided == pytest.approx(8 / 10)
    assert figures.accuracy == pytest.approx(8 / 12)  # undecided pairs are not right


def test_cohen_kappa_by_hand_on_the_decided_pairs():
    # Decided pairs only (N = 10). Rows (labels): wrong 4, generic 3, specific 3.
    # Columns (judged): wrong 3, generic 3, specific 4.
    # p_o = 8/10 = 0.8; p_e = (4*3 + 3*3 + 3*4) / 100 = 33/100.
    # kappa = (0.8 - 0.33) / (1 - 0.33) = 0.47 / 0.67 = 47/67.
    assert hand_case().kappa == pytest.approx(47 / 67)


def test_quadratic_weighted_kappa_by_hand_on_the_six_step_scale():
    # Ranks: wrong 0, generic 2, specific 4; weight (i - j)^2 (the 1/25 scale cancels).
    # Observed weighted disagreement: wrong->generic 1 pair * 4 + generic->specific 1 * 4 = 8.
    # Expected, sum over i != j of w_ij * row_i * column_j (rows 4, 3, 3; columns 3, 3, 4):
    #   (wrong, generic) 4*3*4 = 48     (wrong, specific) 4*4*16 = 256
    #   (generic, wrong) 3*3*4 = 36     (generic, specific) 3*4*4 = 48
    #   (specific, wrong) 3*3*16 = 144  (specific, generic) 3*3*4 = 36    total 568
    # kappa_w = 1 - N * observed / expected = 1 - 10 * 8 / 568 = 1 - 10/71 = 61/71.
    assert hand_case().weighted_kappa == pytest.approx(61 / 71)


def test_per_verdict_precision_over_judged_and_recall_over_all_labelled():
    figures = hand_case()
    wrong, abstain, generic = figures.verdict(W), figures.verdict(A), figures.verdict(G)
    specific, less, more = figures.verdict(S), figures.verdict(L), figures.verdict(M)
    assert (wrong.labelled, wrong.judged, wrong.agreed) == (4, 3, 3)
    assert wrong.precision == 1.0 and wrong.recall == pytest.approx(3 / 4)
    # Never given by the judge: precision undefined; the one label was left undecided.
    assert abstain.precision is None and abstain.recall == 0.0
    assert generic.precision == pytest.approx(2 / 3) and generic.recall == pytest.approx(2 / 3)
    # Judged specific: 3 right + 1 generic label; labelled specific: 3 found + 1 undecided.
    assert specific.precision == pytest.approx(3 / 4) and specific.recall == pytest.approx(3 / 4)
    for absent in (less, more):
        assert (absent.labelled, absent.judged, absent.precision, absent.recall) == (
            0,
            0,
            None,
            None,
        )


def test_to_dict_holds_every_figure():
    data = hand_case().to_dict()
    assert data["pairs"] == 12 and data["decided"] == 10 and data["agreed"] == 8
    assert data["kappa"] == pytest.approx(47 / 67)
    assert data["weighted_kappa"] == pytest.approx(61 / 71)
    assert data["verdicts"]["generic"] == {
        "labelled": 3,
        "judged": 3,
        "agreed": 2,
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3),
    }
    assert data["confusion"]["columns"][-1] == "undecided"
    assert data["confusion"]["counts"][4] == [0, 0, 0, 0, 3, 0, 1]


def test_nothing_decided_leaves_the_decided_figures_undefined():
    figures = agreement([S, G, W], [None, None, None])
    assert figures.coverage == 0.0
    assert figures.accuracy == 0.0
    assert figures.accuracy_decided is None
    assert figures.kappa is None and figures.weighted_kappa is None
    assert figures.verdict(S).recall == 0.0 and figures.verdict(S).precision is None


def test_no_pairs_at_all_leaves_every_share_undefined():
    figures = agreement([], [])
    assert figures.pairs == 0
    assert figures.coverage is None and figures.accuracy is None
    assert figures.kappa is None and figures.weighted_kappa is None


def test_a_single_verdict_on_both_sides_has_no_kappa():
    # p_e = 1: chance agreement is already perfect, (p_o - p_e) / (1 - p_e) is 0/0.
    figures = agreement([S, S, S], [S, S, S])
    assert figures.accuracy == 1.0
    assert figures.kappa is None and figures.weighted_kappa is None


def test_a_single_label_with_a_judge_that_varies_has_kappa_zero():
    # Labels all specific; judged 3 specific, 1 generic. p_o = 3/4; p_e = (4 * 3) / 16 = 3/4:
    # kappa = 0. Weighted: observed 1 * (4-2)^2 = 4, N * 4 = 16; expected 4 * 1 * 4 = 16: 1 - 1 = 0.
    figures = agreement([S, S, S, S], [S, S, S, G])
    assert figures.kappa == pytest.approx(0.0)
    assert figures.weighted_kappa == pytest.approx(0.0)


def test_perfect_agreement_has_kappa_one_and_opposite_ends_go_negative():
    assert agreement([W, S, M], [W, S, M]).kappa == pytest.approx(1.0)
    # Two pairs, each side uses both ends once, always disagreeing:
    # p_o = 0, p_e = (1*1 + 1*1)/4 = 1/2, kappa = -1; weighted: 1 - 2 * 50 / (2 * 25) = -1.
    swapped = agreement([W, M], [M, W])
    assert swapped.kappa == pytest.approx(-1.0)
    assert swapped.weighted_kappa == pytest.approx(-1.0)


def test_kappas_of_plain_matrices_and_their_shape():
    # 2 x 2: [[20, 5], [10, 15]]: p_o = 35/50 = 0.7; rows 25, 25; columns 30, 20;
    # p_e = (25*30 + 25*20) / 2500 = 0.5; kappa = 0.2 / 0.5 = 0.4. With two classes the
    # quadratic weights are the 0/1 weights, so the weighted kappa is the same.
    assert cohen_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4)
    assert weighted_kappa([[20, 5], [10, 15]]) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="square"):
        cohen_kappa([[1, 2, 3], [4, 5, 6]])


def test_matrices_add_up_so_datasets_pool():
    first = confusion_matrix([S, G], [S, None])
    second = confusion_matrix([S, W], [L, W])
    pooled = add_matrices([first, second])
    assert pooled == confusion_matrix([S, G, S, W], [S, None, L, W])
    assert Agreement(pooled).pairs == 4
    with pytest.raises(ValueError, match="6 rows and 7 columns"):
        add_matrices([((1, 2),)])
    with pytest.raises(ValueError, match="3 reference verdicts but 2"):
        confusion_matrix([S, S, S], [S, S])
