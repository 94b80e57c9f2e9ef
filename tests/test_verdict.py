import itertools

import pytest

from speciarl import Verdict
from speciarl.verdict import VERDICTS, VerdictParseError


def test_order_is_worst_to_best():
    assert [v.value for v in VERDICTS] == [
        "wrong",
        "abstain",
        "generic",
        "less specific",
        "specific",
        "more specific",
    ]
    assert all(a < b for a, b in itertools.pairwise(VERDICTS))
    assert max(VERDICTS) is Verdict.MORE_SPECIFIC
    assert min(VERDICTS) is Verdict.WRONG
    assert Verdict.SPECIFIC >= Verdict.SPECIFIC
    assert not Verdict.GENERIC > Verdict.LESS_SPECIFIC


def test_comparison_with_other_types_is_refused():
    with pytest.raises(TypeError):
        _ = Verdict.WRONG < 1  # type: ignore[operator]


@pytest.mark.parametrize(
    ("correct", "verdicts"),
    [
        (False, [Verdict.WRONG, Verdict.ABSTAIN]),
        (True, [Verdict.GENERIC, Verdict.LESS_SPECIFIC, Verdict.SPECIFIC, Verdict.MORE_SPECIFIC]),
    ],
)
def test_is_correct(correct, verdicts):
    assert all(v.is_correct is correct for v in verdicts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wrong", Verdict.WRONG),
        ("ABSTAIN", Verdict.ABSTAIN),
        ("  generic\n", Verdict.GENERIC),
        ("Less Specific", Verdict.LESS_SPECIFIC),
        ("less_specific", Verdict.LESS_SPECIFIC),
        ("less-specific", Verdict.LESS_SPECIFIC),
        ("less  specific", Verdict.LESS_SPECIFIC),
        ('"specific".', Verdict.SPECIFIC),
        ("**More_Specific**", Verdict.MORE_SPECIFIC),
        ("(more specific)", Verdict.MORE_SPECIFIC),
    ],
)
def test_parse_tolerates_case_space_and_punctuation(text, expected):
    assert Verdict.parse(text) is expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "correct", "specific or generic", "very specific", "lessspecific", "specifics"],
)
def test_parse_rejects_other_text_with_a_clear_error(text):
    with pytest.raises(VerdictParseError, match="not a verdict") as error:
        Verdict.parse(text)
    assert "more specific" in str(error.value)


def test_parse_rejects_non_strings():
    with pytest.raises(VerdictParseError, match="must be a string"):
        Verdict.parse(None)  # type: ignore[arg-type]


def test_parse_error_is_a_value_error_and_truncates_huge_text():
    with pytest.raises(ValueError) as error:
        Verdict.parse("x" * 10_000)
    assert len(str(error.value)) < 300
