import pytest

from speciarl.prompts import DEFAULT_PROMPT, PromptError, load_prompt, prompt_names

PAPER_PROMPTS = {
    "general",
    "be_specific",
    "calibrated",
    "elimination",
    "high_precision",
    "max_correctness",
    "max_specificity",
}


def test_every_paper_prompt_exists_with_the_answer_format():
    assert set(prompt_names()) == PAPER_PROMPTS
    assert DEFAULT_PROMPT == "general"
    for name in PAPER_PROMPTS:
        prompt = load_prompt(name)
        assert prompt.name == name and prompt.version >= 1
        for marker in ("<think>", "</think>", "<answer>", "</answer>", "None"):
            assert marker in prompt.text


def test_be_specific_only_adds_the_request_to_be_specific():
    general, specific = load_prompt("general").text, load_prompt("be_specific").text
    assert "be specific" in specific and "be specific" not in general
    assert general.splitlines()[1:] == specific.splitlines()[1:]


def test_prompts_have_distinct_digests():
    digests = {load_prompt(name).digest for name in PAPER_PROMPTS}
    assert len(digests) == len(PAPER_PROMPTS)


def test_unknown_prompt_is_named():
    with pytest.raises(PromptError, match="unknown prompt 'terse'"):
        load_prompt("terse")
