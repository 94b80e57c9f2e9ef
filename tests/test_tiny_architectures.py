"""Each tiny architecture's chat format meets our prompts as its own processor and model expect.

Training renders a text-only ``[{"role": "user", "content": text}]`` prompt to which TRL adds the
image (`trl.data_utils.prepare_multimodal_messages`); prediction renders a user turn that holds an
image part and a text part. Both must give one image placeholder, expanded by the processor into
as many image tokens as the model's vision side produces for that image.
"""

from dataclasses import dataclass

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor
from trl.data_utils import prepare_multimodal_messages
from typer.testing import CliRunner

from speciarl.answer import extract_answer
from speciarl.cli import app
from speciarl.data.build import conversation
from speciarl.policy.tiny import ARCHITECTURES, build_tiny_model
from speciarl.prompts import load_prompt

PROMPT = load_prompt("general")
IMAGE = Image.new("RGB", (112, 112), (180, 40, 40))
"""The size of the synthetic benchmark's images."""

QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"
CHATML_ANSWER = "<|im_start|>assistant\n"


@dataclass(frozen=True)
class Format:
    """An architecture's own chat format, written from its published format, not read from
    speciarl."""

    placeholder: str
    """What an image is in the rendered prompt."""
    image_token: str
    """The token the processor repeats for the image's features."""
    image_tokens: int
    """How many of them the model reads for IMAGE (the tiny sizes)."""
    answer_header: str
    """What the generation prompt ends with: the answer follows it."""


FORMAT = {
    "qwen2.5-vl": Format(QWEN_IMAGE, "<|image_pad|>", 16, CHATML_ANSWER),
    "qwen3-vl": Format(QWEN_IMAGE, "<|image_pad|>", 9, CHATML_ANSWER),
    "gemma3": Format("<start_of_image>", "<image_soft_token>", 16, "<start_of_turn>model\n"),
    "internvl": Format("<IMG_CONTEXT>", "<IMG_CONTEXT>", 16, CHATML_ANSWER),
    "llava-onevision": Format("<image>", "<image>", 24, CHATML_ANSWER),
    "smolvlm": Format("<image>", "<image>", 16, "Assistant:"),
}


@pytest.fixture(scope="module", params=list(ARCHITECTURES))
def built(request, tmp_path_factory):
    arch = request.param
    folder = build_tiny_model(tmp_path_factory.mktemp(arch) / "model", architecture=arch)
    return (
        arch,
        AutoProcessor.from_pretrained(folder),
        AutoModelForImageTextToText.from_pretrained(folder),
    )


def training_prompt(system: str | None = None) -> list[dict]:
    """The prompt column of a training row, with the image TRL adds to it."""
    messages = conversation(PROMPT)
    if system is not None:
        messages = [{"role": "system", "content": system}, *messages]
    return prepare_multimodal_messages(messages, images=[IMAGE])


def prediction_prompt() -> list[dict]:
    """The conversation `speciarl predict` renders (`speciarl.evaluate.predict`)."""
    content = [{"type": "image"}, {"type": "text", "text": PROMPT.text}]
    return [{"role": "user", "content": content}]


def test_every_architecture_is_described():
    assert set(FORMAT) == set(ARCHITECTURES)


@pytest.mark.parametrize("messages", [training_prompt, prediction_prompt], ids=["train", "predict"])
def test_one_image_placeholder_becomes_the_image_tokens_the_model_reads(built, messages):
    arch, processor, model = built
    expected = FORMAT[arch]
    text = processor.apply_chat_template(messages(), add_generation_prompt=True)
    assert text.count(expected.placeholder) == 1
    assert PROMPT.text.strip() in text
    inputs = processor(text=[text], images=[IMAGE], return_tensors="pt")
    image_id = processor.tokenizer.convert_tokens_to_ids(expected.image_token)
    assert (inputs["input_ids"] == image_id).sum().item() == expected.image_tokens
    with torch.no_grad():  # raises if image features and image tokens disagree
        logits = model(**inputs).logits
    assert logits.shape[:2] == inputs["input_ids"].shape


def test_a_system_message_is_kept_as_the_architecture_keeps_it(built):
    arch, processor, _ = built
    text = processor.apply_chat_template(
        training_prompt("Answer briefly."), add_generation_prompt=True
    )
    assert text.count("Answer briefly.") == 1
    if arch == "gemma3":  # no system role: it opens the first user turn
        assert "<start_of_turn>user\nAnswer briefly.\n\n<start_of_image>" in text
        assert "system" not in text
    elif arch == "smolvlm":
        assert text.startswith("<|im_start|>System: Answer briefly.<end_of_utterance>\nUser:")
    else:
        assert text.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>\n<|im_start|>user")


def test_only_qwen2_5_adds_a_system_turn_of_its_own(built):
    arch, processor, _ = built
    text = processor.apply_chat_template(training_prompt(), add_generation_prompt=True)
    assert ("You are a helpful assistant." in text) == (arch == "qwen2.5-vl")


def test_the_generation_prompt_ends_where_the_answer_starts(built):
    arch, processor, _ = built
    prompt = processor.apply_chat_template(training_prompt(), add_generation_prompt=True)
    assert prompt.endswith(FORMAT[arch].answer_header)
    answer = {"role": "assistant", "content": [{"type": "text", "text": "<answer>x</answer>"}]}
    whole = processor.apply_chat_template([*training_prompt(), answer])
    assert whole.startswith(prompt)  # the assistant's turn opens exactly as the prompt ends
    assert whole.removeprefix(prompt).lstrip().startswith("<answer>x</answer>")


def test_the_answer_parser_reads_a_decoded_completion(built):
    _, processor, _ = built
    tokenizer = processor.tokenizer
    completion = "<think>a red bird with a crest</think><answer>northern cardinal</answer>"
    ids = tokenizer(completion + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
    assert ids[-1] == tokenizer.eos_token_id
    decoded = tokenizer.decode(ids, skip_special_tokens=True)
    assert decoded == completion
    assert extract_answer(decoded).text == "northern cardinal"


def test_tiny_model_command_builds_the_architecture_asked_for(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["tiny-model", "--out", str(tmp_path / "m"), "--arch", "gemma3"])
    assert result.exit_code == 0, result.output
    config = AutoModelForImageTextToText.from_pretrained(tmp_path / "m").config
    assert config.model_type == "gemma3"
    bad = runner.invoke(app, ["tiny-model", "--out", str(tmp_path / "x"), "--arch", "gpt2"])
    assert bad.exit_code == 2
    assert "unknown architecture 'gpt2'; choose one of qwen2.5-vl, qwen3-vl" in bad.stderr
    assert not (tmp_path / "x").exists()
