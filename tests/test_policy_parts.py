"""The policy's parts found in every supported architecture, built small from its transformers
config: LoRA lands on exactly the language model's decoder-layer linear layers, freezing stops
every vision weight, a model whose parts cannot be found says what was looked for; and the memory
plan's image cost per architecture."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from peft import get_peft_model
from transformers import AutoConfig, AutoModelForImageTextToText, LlamaConfig, LlamaForCausalLM

from speciarl.policy.architectures import shipped_config
from speciarl.policy.image_tokens import ImageTokensError, image_cost
from speciarl.policy.parts import (
    PolicyParts,
    PolicyPartsError,
    freeze_vision_tower,
    lora_target_modules,
    policy_parts,
    submodule,
)
from speciarl.train.config import ConfigError, LoraSettings, TrainConfig
from speciarl.train.memory_plan import count_parameters, plan_memory
from speciarl.train.setup import lora_config

LAYERS = 3
TEXT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "vocab_size": 300,
}
SIGLIP = {
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "image_size": 28,
    "patch_size": 7,
}
QWEN_TEXT = {**TEXT, "rope_parameters": {"rope_type": "default", "mrope_section": [2, 1, 1]}}
QWEN_VISION = {"depth": 2, "hidden_size": 32, "intermediate_size": 48, "num_heads": 4}
SMALL: dict[str, dict[str, Any]] = {
    "qwen2_5_vl": {
        "text_config": QWEN_TEXT,
        "vision_config": {**QWEN_VISION, "out_hidden_size": 32, "fullatt_block_indexes": [1]},
    },
    "qwen3_vl": {
        "text_config": QWEN_TEXT,
        "vision_config": {
            **QWEN_VISION,
            "out_hidden_size": 32,
            "deepstack_visual_indexes": [1],
            "num_position_embeddings": 16,
        },
    },
    "gemma3": {"text_config": TEXT, "vision_config": SIGLIP, "mm_tokens_per_image": 4},
    "internvl": {
        "text_config": TEXT,
        "vision_config": {**SIGLIP, "image_size": [28, 28], "patch_size": [7, 7]},
    },
    "llava_onevision": {"text_config": TEXT, "vision_config": SIGLIP},
    "idefics3": {"text_config": TEXT, "vision_config": SIGLIP},
    "smolvlm": {"text_config": TEXT, "vision_config": SIGLIP},
}
"""Each architecture's config with a small language model (3 layers) and vision tower."""

DECODER_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
EXPECTED = {
    "qwen2_5_vl": ("model.language_model", "model.visual", "model.visual.merger"),
    "qwen3_vl": ("model.language_model", "model.visual", "model.visual.merger"),
    "gemma3": ("model.language_model", "model.vision_tower", "model.multi_modal_projector"),
    "internvl": ("model.language_model", "model.vision_tower", "model.multi_modal_projector"),
    "llava_onevision": (
        "model.language_model",
        "model.vision_tower",
        "model.multi_modal_projector",
    ),
    "idefics3": ("model.text_model", "model.vision_model", "model.connector"),
    "smolvlm": ("model.text_model", "model.vision_model", "model.connector"),
}
"""Where transformers 5 keeps each part: the answer, read off the modelling files by hand."""


def small_config(architecture: str) -> Any:
    return AutoConfig.for_model(architecture, **SMALL[architecture])


def small_model(architecture: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return AutoModelForImageTextToText.from_config(small_config(architecture))


def vision_side(parts: PolicyParts) -> tuple[str, ...]:
    return tuple(p for p in (parts.vision_tower, parts.projector) if p is not None)


def under(name: str, paths: tuple[str, ...]) -> bool:
    return any(name == path or name.startswith(path + ".") for path in paths)


@pytest.mark.parametrize("architecture", SMALL)
def test_the_parts_are_found(architecture):
    model = small_model(architecture)
    parts = policy_parts(model)
    language_model, tower, projector = EXPECTED[architecture]
    assert parts.architecture == architecture
    assert (parts.language_model, parts.vision_tower, parts.projector) == EXPECTED[architecture]
    assert parts.decoder_layers == f"{language_model}.layers"
    assert len(submodule(model, parts.decoder_layers)) == LAYERS
    assert parts.linear_names == DECODER_LINEARS
    assert submodule(model, tower) is model.get_submodule(tower)
    assert sum(p.numel() for p in submodule(model, projector).parameters()) > 0


@pytest.mark.parametrize("architecture", SMALL)
def test_lora_lands_on_the_decoder_layer_linears_only(architecture):
    model = small_model(architecture)
    parts = policy_parts(model)
    settings = LoraSettings(r=4, alpha=8, dropout=0.0)
    wrapped = get_peft_model(model, lora_config(settings, model))
    adapted = [n for n, module in wrapped.named_modules() if hasattr(module, "lora_A")]
    assert len(adapted) == LAYERS * len(DECODER_LINEARS)
    layers = f"base_model.model.{parts.decoder_layers}."
    assert all(n.startswith(layers) for n in adapted)
    assert {n.rsplit(".", 1)[1] for n in adapted} == set(DECODER_LINEARS)
    trainable = [n for n, p in wrapped.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n and n.startswith(layers) for n in trainable)
    assert policy_parts(wrapped) == parts  # the same parts through the PEFT wrapper


def test_lora_on_some_names_or_all_linear_layers():
    parts = policy_parts(small_model("gemma3"))
    model = small_model("gemma3")
    some = get_peft_model(model, lora_config(LoraSettings(target_modules=["v_proj"]), model))
    assert len([n for n, m in some.named_modules() if hasattr(m, "lora_A")]) == LAYERS
    every = lora_target_modules(parts, ["all-linear"])
    assert every == lora_target_modules(parts, DECODER_LINEARS)
    with pytest.raises(PolicyPartsError, match="unknown: qkv_proj") as error:
        lora_target_modules(parts, ["q_proj", "qkv_proj"])
    assert "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj" in str(error.value)
    with pytest.raises(ConfigError, match="unknown: c_attn"):
        lora_config(LoraSettings(target_modules=["c_attn"]), model)


@pytest.mark.parametrize("architecture", SMALL)
def test_freezing_stops_every_vision_weight_and_no_other(architecture):
    model = small_model(architecture)
    parts = policy_parts(model)
    freeze_vision_tower(model, parts)
    named = dict(model.named_parameters())
    vision = {n for n in named if under(n, vision_side(parts))}
    assert vision and not [n for n in vision if named[n].requires_grad]
    assert all(named[n].requires_grad for n in set(named) - vision)


def test_the_parts_of_a_meta_build_of_a_real_size():
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(shipped_config("qwen3-vl-8b"))
    parts = policy_parts(model)
    assert (parts.decoder_layers, parts.projector) == (
        "model.language_model.layers",
        "model.visual.merger",
    )
    assert len(submodule(model, parts.decoder_layers)) == 36


def test_a_model_without_a_vision_tower_says_what_was_looked_for():
    text_only = LlamaForCausalLM(LlamaConfig(**{**TEXT, "num_hidden_layers": 1}))
    with pytest.raises(PolicyPartsError, match="LlamaForCausalLM: no vision tower found"):
        policy_parts(text_only)
    gemma = small_model("gemma3")
    del gemma.model.vision_tower
    with pytest.raises(PolicyPartsError) as error:
        policy_parts(gemma)
    message = str(error.value)
    assert "Gemma3ForConditionalGeneration: no vision tower found" in message
    assert "SiglipVisionConfig" in message and "get_encoder('image')" in message
    with pytest.raises(PolicyPartsError, match="not a transformers model"):
        policy_parts(torch.nn.Linear(2, 2))


def test_a_projector_among_several_siblings_is_refused_naming_them():
    model = small_model("llava_onevision")
    model.model.image_adapter = torch.nn.Linear(32, 32)
    with pytest.raises(PolicyPartsError) as error:
        policy_parts(model)
    assert "model.multi_modal_projector, model.image_adapter" in str(error.value)


def test_the_output_embeddings_beside_a_tower_at_the_root_are_no_projector():
    model = small_model("llava_onevision")
    model.vision_tower = model.model.vision_tower
    del model.model.vision_tower
    del model.model.multi_modal_projector
    parts = policy_parts(model)
    assert (parts.vision_tower, parts.projector) == ("vision_tower", None)
    freeze_vision_tower(model, parts)
    assert model.lm_head.weight.requires_grad


def test_a_model_without_its_layer_list_says_what_was_looked_for():
    model = small_model("internvl")
    model.model.language_model.layers = torch.nn.ModuleList(model.model.language_model.layers[:1])
    with pytest.raises(PolicyPartsError, match=r"no decoder layers found.*list of 3 layers"):
        policy_parts(model)


@pytest.mark.parametrize(
    ("architecture", "overrides", "tokens", "patches"),
    [
        ("qwen2_5_vl", {}, 1_003_520 // 28**2, 1_003_520 // 28**2 * 4),
        (
            "gemma3",
            {"vision_config": {"image_size": 896, "patch_size": 14}},
            256,
            (896 // 14) ** 2,
        ),
        ("internvl", {}, 13 * 256, 13 * (448 // 14) ** 2),
        ("idefics3", {"vision_config": {"image_size": 364, "patch_size": 14}}, 17 * 169, None),
        (
            "smolvlm",
            {"vision_config": {"image_size": 512, "patch_size": 16}, "scale_factor": 4},
            17 * 64,
            None,
        ),
    ],
)
def test_the_image_cost_of_each_family(architecture, overrides, tokens, patches):
    config = AutoConfig.for_model(architecture, **overrides)
    cost = image_cost(config, 1_003_520)
    assert cost.tokens == tokens
    assert patches is None or cost.patches == patches
    assert (cost.max_pixels is None) == (architecture != "qwen2_5_vl")


def test_qwen3_vl_unbudgeted_keeps_its_checkpoint_bound():
    cost = image_cost(shipped_config("qwen3-vl-8b"), None)
    assert (cost.tokens, cost.max_pixels) == (16384, 16384 * 32**2)
    assert cost.patch_values == 3 * 2 * 16**2


def test_an_image_cost_it_cannot_work_out_is_refused():
    with pytest.raises(ImageTokensError, match=r"llava_onevision.*anyres"):
        image_cost(small_config("llava_onevision"))
    with pytest.raises(ConfigError, match="memory plan: not planned: llava_onevision"):
        plan_memory(TrainConfig(), small_config("llava_onevision"))


def test_the_dry_run_says_once_why_it_has_no_memory_plan(tmp_path):
    from dataclasses import replace

    from speciarl.train.memory_plan import memory_report

    small_config("llava_onevision").save_pretrained(tmp_path)
    lines, problems = memory_report(replace(TrainConfig(), model=str(tmp_path)), 1, gpu_gib=80)
    assert problems == []
    assert lines[-1].startswith("memory plan: not planned: llava_onevision")
    assert lines[-1].count("memory plan") == 1


@pytest.mark.parametrize("architecture", ["gemma3", "idefics3"])
def test_the_memory_plan_of_another_family(architecture):
    config = small_config(architecture)
    lora = LoraSettings(r=4, alpha=8)
    counts = count_parameters(config, lora)
    per_layer = 4 * (2 * (32 + 32) + 2 * (32 + 16) + 3 * (32 + 64))  # q, o; k, v; mlp
    assert counts.trainable == LAYERS * per_layer
    assert counts.block_adapter == per_layer
    plan = plan_memory(TrainConfig(lora=lora), config)
    assert plan.sequence.image_tokens == image_cost(config).tokens
    assert plan.sequence.max_pixels is None
    assert plan.peak > 0


def test_a_processor_sizing_images_its_own_way_keeps_it_under_the_default_budget(tmp_path):
    """Gemma 3's fixed crop (as InternVL's, LLaVA-OneVision's and SmolVLM's tiles) takes no
    pixel budget: the default one leaves it be, any other is refused by name."""
    from datasets import Dataset
    from PIL import Image

    from speciarl.policy.image_budget import (
        DEFAULT_BUDGET,
        PROCESSOR_RANGE,
        ImageBudget,
        ImageBudgetError,
        fit_images,
        load_processor,
    )
    from speciarl.policy.tiny import build_tiny_model

    folder = str(build_tiny_model(tmp_path / "gemma3", architecture="gemma3"))
    own = load_processor(folder, PROCESSOR_RANGE).image_processor.size
    processor = load_processor(folder, DEFAULT_BUDGET)
    assert processor.image_processor.size == own
    dataset = Dataset.from_dict({"image": [Image.new("RGB", (50, 30))]})
    assert fit_images(dataset, processor) is dataset
    with pytest.raises(ImageBudgetError, match=r"\(Gemma3ImageProcessor\) takes no min_pixels"):
        load_processor(folder, ImageBudget(3136, 200_704))
