"""Tiny SmolVLM (transformers' ``idefics3``: SmolVLM's own checkpoints are Idefics3 models): a
SigLIP-style tower, pixel shuffle, a Llama language model and ``User:``/``Assistant:`` turns.

transformers' newer ``smolvlm`` model type (SmolVLM2) has the same parts, but its processor needs
the ``num2words`` package, which speciarl does not depend on. The processor turns ``<image>`` into
``<fake_token_around_image><global-img>``, a run of ``<image>`` and ``<fake_token_around_image>``;
image splitting is off, so an image is one tile.
"""

from __future__ import annotations

from typing import Any

from speciarl.policy.tiny.architecture import TinyArchitecture, decoder_sizes
from speciarl.policy.tiny.spec import TinySpec
from speciarl.policy.tiny.tokenizer import ChatTemplate, TokenSet

SMOLVLM_TOKENS = TokenSet(
    special=(
        "<|endoftext|>",
        "<|im_start|>",
        "<end_of_utterance>",
        "<fake_token_around_image>",
        "<image>",
        "<global-img>",
    ),
    eos="<end_of_utterance>",
    pad="<|endoftext|>",
    bos="<|im_start|>",
)
PATCH = 14
SCALE = 2
"""Pixel shuffle keeps one token per 2 x 2 patches."""


def _tile(spec: TinySpec) -> int:
    step = PATCH * SCALE
    return max(step, spec.image_pixels // step * step)


def _tokens_per_tile(spec: TinySpec) -> int:
    return (_tile(spec) // PATCH) ** 2 // SCALE**2


def _config(spec: TinySpec, tokenizer: Any) -> Any:
    from transformers import Idefics3Config

    return Idefics3Config(
        vision_config={
            "hidden_size": spec.vision_hidden_size,
            "intermediate_size": 2 * spec.vision_hidden_size,
            "num_hidden_layers": spec.vision_depth,
            "num_attention_heads": spec.vision_heads,
            "image_size": _tile(spec),
            "patch_size": PATCH,
        },
        text_config={"model_type": "llama", **decoder_sizes(spec, tokenizer)},
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        scale_factor=SCALE,
        tie_word_embeddings=True,
    )


def _processor(spec: TinySpec, tokenizer: Any, chat_template: str) -> Any:
    from transformers import Idefics3ImageProcessor, Idefics3Processor

    side = {"longest_edge": _tile(spec)}
    return Idefics3Processor(
        image_processor=Idefics3ImageProcessor(
            do_image_splitting=False, size=side, max_image_size=side
        ),
        tokenizer=tokenizer,
        image_seq_len=_tokens_per_tile(spec),
        chat_template=chat_template,
    )


SMOLVLM = TinyArchitecture(
    name="smolvlm",
    title="SmolVLM, Idefics3",
    tokens=SMOLVLM_TOKENS,
    template=ChatTemplate("chat_template_smolvlm.jinja"),
    config=_config,
    processor=_processor,
)
