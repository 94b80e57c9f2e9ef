import pytest

from speciarl.answer import (
    NORMALIZATION_VERSION,
    AnswerStatus,
    exceeds_length_cap,
    extract_answer,
    name_key,
    normalize,
)


@pytest.mark.parametrize(
    ("completion", "status", "text"),
    [
        (
            "<think>pale bill</think><answer>Laysan Albatross</answer>",
            AnswerStatus.OK,
            "Laysan Albatross",
        ),
        ("<think>a</think>\n<answer>\n  Dog \n</answer>\n", AnswerStatus.OK, "Dog"),
        ("<answer>None</answer>", AnswerStatus.OK, "None"),
        ("<THINK>x</THINK><Answer>Dog</ANSWER>", AnswerStatus.OK, "Dog"),
        ("I think it's a dog.", AnswerStatus.MISSING, None),
        ("", AnswerStatus.MISSING, None),
        ("Dog</answer>", AnswerStatus.MISSING, None),
        ("<think>a</think><answer></answer>", AnswerStatus.EMPTY, None),
        ("<think>a</think><answer>  \n </answer>", AnswerStatus.EMPTY, None),
        ("<think>a</think><answer>Dog", AnswerStatus.UNCLOSED, None),
        ("<answer>Dog</answer><answer>Cat</answer>", AnswerStatus.REPEATED, None),
        ("<answer>Dog <answer>Cat</answer>", AnswerStatus.REPEATED, None),
        ("<answer>Dog</answer> and </answer>", AnswerStatus.REPEATED, None),
        # An answer must close before any other tag.
        ("<answer>Dog<think>hmm</think></answer>", AnswerStatus.UNCLOSED, None),
        ("</answer><answer>Dog", AnswerStatus.UNCLOSED, None),
        # An answer inside the reasoning does not count.
        ("<think>maybe <answer>Cat</answer></think><answer>Dog</answer>", AnswerStatus.OK, "Dog"),
        ("<think>maybe <answer>Cat</answer></think>", AnswerStatus.MISSING, None),
        ("<think>never closed <answer>Cat</answer>", AnswerStatus.MISSING, None),
        ("<answer>Dog</answer><think>then <answer>Cat</answer>", AnswerStatus.OK, "Dog"),
        # A reasoning whose opening tag was left out ends at the last stray </think>.
        ("reasoning <answer>Cat</answer></think><answer>Dog</answer>", AnswerStatus.OK, "Dog"),
        (
            "<think>a</think><think>b <answer>Cat</answer></think><answer>Dog</answer>",
            AnswerStatus.OK,
            "Dog",
        ),
    ],
)
def test_extract_answer_outcomes(completion, status, text):
    parsed = extract_answer(completion)
    assert parsed.status is status
    assert parsed.text == text
    assert parsed.formatted is (status is AnswerStatus.OK)
    assert parsed.normalized == (normalize(text) if text is not None else None)


def test_length_cap_is_a_format_failure_and_configurable():
    twenty = " ".join(["word"] * 20)
    assert extract_answer(f"<answer>{twenty}</answer>").status is AnswerStatus.OK
    assert extract_answer(f"<answer>{twenty} more</answer>").status is AnswerStatus.TOO_LONG
    assert extract_answer("<answer>" + "x" * 201 + "</answer>").status is AnswerStatus.TOO_LONG
    assert extract_answer("<answer>" + "x" * 200 + "</answer>").status is AnswerStatus.OK
    assert extract_answer("<answer>a b c</answer>", max_words=2).status is AnswerStatus.TOO_LONG
    assert extract_answer("<answer>abcdef</answer>", max_chars=5).status is AnswerStatus.TOO_LONG
    assert extract_answer("<answer>a b</answer>", max_words=2, max_chars=5).formatted


def test_length_cap_rejects_nonsense_limits():
    with pytest.raises(ValueError, match="positive"):
        exceeds_length_cap("a", max_words=0)


def test_huge_adversarial_output_does_not_crash_and_is_not_formatted():
    completion = (
        "<think>" + "<think>" * 10_000 + "</think>" + "<answer>" + "a " * 100_000 + "</answer>"
    )
    assert extract_answer(completion).status is AnswerStatus.TOO_LONG


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Black_footed_Albatross", "black footed albatross"),
        ("  Black-footed   Albatross! ", "black-footed albatross"),
        ("BOEING 707-320", "boeing 707-320"),
        ("Anna’s Hummingbird", "annas hummingbird"),
        ("Anna's Hummingbird", "annas hummingbird"),
        ("Ｓａｍｏｙｅｄ", "samoyed"),  # full-width letters fold under NFKC
        ("Straße", "strasse"),
        ("Crème Brûlée", "crème brûlée"),
        ("757\u2013200", "757-200"),
        ("robin/cardinal", "robin cardinal"),
        ('"}{\n\t<answer>', "answer"),
        ("???", ""),
    ],
)
def test_normalize(text, expected):
    assert normalize(text) == expected


def test_normalize_is_idempotent_and_versioned():
    text = "  The F/A-18 Hornet — Anna’s (male) "
    assert normalize(normalize(text)) == normalize(text)
    assert isinstance(NORMALIZATION_VERSION, int)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Black-footed Albatross", "black footed albatross"),
        ("a samoyed", "Samoyed"),
        ("The Boeing 707", "boeing 707"),
        ("An Indigo Bunting", "indigo bunting"),
    ],
)
def test_name_key_equates_spelling_variants(a, b):
    assert name_key(a) == name_key(b)


def test_name_key_keeps_words_that_only_look_like_articles():
    assert name_key("a") == "a"
    assert name_key("anhinga") == "anhinga"
    assert name_key("theristicus") == "theristicus"
