import pytest

from speciarl import Verdict
from speciarl.answer import AnswerStatus
from speciarl.judges import Cascade, Hierarchy, LexicalJudge
from speciarl.judges.taxonomy import TaxonomyJudge
from speciarl.rollouts import score_rollouts
from speciarl.selfcheck import EXAMPLE_HIERARCHY


@pytest.fixture(scope="module")
def judge():
    hierarchy = Hierarchy.load(EXAMPLE_HIERARCHY)
    return Cascade([LexicalJudge(), TaxonomyJudge(hierarchy)])


def answer(text):
    return f"<think>looking closely</think><answer>{text}</answer>"


def test_score_rollouts_of_two_interleaved_groups(judge):
    completions = [
        answer("warbler"),  # group 1: less specific -> c* = less specific
        answer("dog"),  # group 2: generic
        answer("bird"),  # group 1: generic
        answer("Samoyed"),  # group 2: specific -> c* = specific
        "Samoyed",  # group 2: no answer tag -> penalty, never judged
        answer("I don't know"),  # group 1: abstain
    ]
    labels = [
        "golden-winged warbler",
        "samoyed",
        "golden-winged warbler",
        "samoyed",
        "samoyed",
        "golden-winged warbler",
    ]
    scored = score_rollouts(completions, labels, [1, 2, 1, 2, 2, 1], judge)
    assert [s.reward.reward for s in scored] == [1.0, 0.0, 0.0, 1.0, -1.0, 0.0]
    assert [s.judgement.verdict for s in scored] == [
        Verdict.LESS_SPECIFIC,
        Verdict.GENERIC,
        Verdict.GENERIC,
        Verdict.SPECIFIC,
        None,
        Verdict.ABSTAIN,
    ]
    assert scored[4].answer.status is AnswerStatus.MISSING
    assert scored[4].judgement.judge is None
    assert [s.reward.reference for s in scored[:2]] == [Verdict.LESS_SPECIFIC, Verdict.SPECIFIC]
    assert judge.counters["pairs"] >= 5


def test_score_rollouts_uses_the_scheme_and_length_cap(judge):
    completions = [answer("warbler"), answer("golden winged warbler extra words here")]
    labels = ["golden-winged warbler"] * 2
    scored = score_rollouts(completions, labels, [0, 0], judge, scheme="scala1", max_words=3)
    assert scored[1].answer.status is AnswerStatus.TOO_LONG
    assert [s.reward.reward for s in scored] == [0.75, -1.0]


def test_score_rollouts_checks_lengths(judge):
    with pytest.raises(ValueError, match="one of each per rollout"):
        score_rollouts([answer("dog")], ["dog", "cat"], [0], judge)
