"""The tokenizer every tiny model shares in kind: byte-level BPE trained here, on our own text.

Each architecture's processor looks its image and turn tokens up by name on the tokenizer
(Gemma 3's ``boi_token``, InternVL's ``context_image_token``...), so the tokenizer carries that
architecture's special tokens, named as its processor expects, beside our answer-format tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

FORMAT_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")
"""Added as ordinary tokens, so decoding with ``skip_special_tokens`` keeps them in the text."""


@dataclass(frozen=True)
class TokenSet:
    """An architecture's special tokens: all of them, the roles a tokenizer names, and those its
    processor reads by name (``image_token``, ``boi_token``...)."""

    special: tuple[str, ...]
    eos: str
    """Where an assistant turn ends: generation stops there and TRL masks after it."""
    pad: str
    bos: str | None = None
    named: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        wanted = {self.eos, self.pad, *self.named.values()} | ({self.bos} if self.bos else set())
        missing = sorted(wanted - set(self.special))
        if missing:
            raise ValueError(f"tokens {missing} are named but not among the special tokens")


@dataclass(frozen=True)
class ChatTemplate:
    """A chat template file of ``speciarl/policy`` and the values its ``set`` lines take.

    One template serves several architectures that share a turn format (Qwen's and InternVL's
    ``<|im_start|>``), each with its own image placeholder: the values are written into the
    template as Jinja ``set`` statements when a model is built, so the saved template stands alone.
    """

    file: str
    values: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        body = (files("speciarl") / "policy" / self.file).read_text(encoding="utf-8")
        header = "".join(
            f"{{%- set {name} = {json.dumps(value)} -%}}\n" for name, value in self.values.items()
        )
        return header + body


def train_tokenizer(
    vocab_size: int, tokens: TokenSet, template: str, corpus: Iterable[str] = ()
) -> Any:
    """A fast tokenizer learnt from :func:`default_corpus` and ``corpus``, with ``tokens`` as
    special tokens, :data:`FORMAT_TOKENS` as ordinary added tokens, and ``template``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(tokens.special),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([*default_corpus(), *corpus], trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token=tokens.eos,
        pad_token=tokens.pad,
        bos_token=tokens.bos,
        padding_side="left",
        extra_special_tokens=[token for token in tokens.special if token != tokens.pad],
        model_specific_special_tokens=dict(tokens.named) or None,
    )
    tokenizer.add_tokens(list(FORMAT_TOKENS))
    tokenizer.chat_template = template
    return tokenizer


def default_corpus() -> list[str]:
    """Text the tokenizer learns from: prompts, every shipped class name, answer formats."""
    from speciarl.data.registry import REGISTRY
    from speciarl.prompts import load_prompt, prompt_names

    lines = [load_prompt(name).text for name in prompt_names()]
    for spec in REGISTRY.values():
        for class_id in spec.class_ids():
            label = spec.clean_label(class_id)
            lines.append(label)
            lines.append(f"<think>it looks like a {label}</think><answer>{label}</answer>")
    lines.append("<think>I cannot tell what this is</think><answer>None</answer>")
    return lines
