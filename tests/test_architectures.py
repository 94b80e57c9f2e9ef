"""The real Qwen2.5-VL-3B and -7B, built without weights on the meta device: where each recipe's
LoRA adapters land and how many parameters they train, checked against closed forms."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import get_peft_model
from transformers import AutoModelForImageTextToText

from speciarl.policy.architectures import SHIPPED_ARCHITECTURES, shipped_config
from speciarl.train.config import LoraSettings, TrainConfig, read_recipe
from speciarl.train.setup import load_policy, lora_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
DECODER_LINEARS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
PUBLISHED_BILLIONS = {"qwen2.5-vl-3b": 3.75, "qwen2.5-vl-7b": 8.29, "qwen3-vl-8b": 8.77}
"""Parameter counts the Hub's model pages give for the checkpoints."""


def recipes_by_lora() -> dict[str, tuple[LoraSettings, list[str]]]:
    """Each distinct LoRA setting of the shipped recipes, with the recipes that use it."""
    found: dict[str, tuple[LoraSettings, list[str]]] = {}
    for path in sorted(CONFIGS.glob("*.yaml")):
        lora = read_recipe(path).lora
        if lora is not None:
            found.setdefault(repr(lora), (lora, []))[1].append(path.stem)
    return found


LORA_CASES = list(recipes_by_lora().values())


def meta_model(name: str) -> torch.nn.Module:
    """The architecture with every tensor on the meta device: shapes only, no memory."""
    with torch.device("meta"):
        return AutoModelForImageTextToText.from_config(shipped_config(name))


def closed_form_lora_parameters(name: str, r: int, targets: list[str]) -> int:
    """r x (in + out) for each targeted linear layer of each decoder layer, from the config."""
    text = shipped_config(name).text_config
    hidden, inner = text.hidden_size, text.intermediate_size
    kv_width = text.num_key_value_heads * (hidden // text.num_attention_heads)
    shapes = {
        "q_proj": (hidden, hidden),
        "k_proj": (hidden, kv_width),
        "v_proj": (hidden, kv_width),
        "o_proj": (hidden, hidden),
        "gate_proj": (hidden, inner),
        "up_proj": (hidden, inner),
        "down_proj": (inner, hidden),
    }
    per_layer = sum(r * sum(shapes[target]) for target in targets)
    return per_layer * text.num_hidden_layers


def trainable(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def test_every_shipped_recipe_trains_with_lora():
    assert LORA_CASES, "no recipe has LoRA settings"
    assert all(settings.target_modules for settings, _ in LORA_CASES)


def test_the_shipped_configs_carry_the_published_shapes():
    small, large = (shipped_config(name) for name in ("qwen2.5-vl-3b", "qwen2.5-vl-7b"))
    assert (small.text_config.hidden_size, small.text_config.num_hidden_layers) == (2048, 36)
    assert (large.text_config.hidden_size, large.text_config.num_hidden_layers) == (3584, 28)
    assert small.tie_word_embeddings and not large.tie_word_embeddings
    for config in (small, large):
        assert config.text_config.rope_parameters["mrope_section"] == [16, 24, 24]
        assert config.vision_config.out_hidden_size == config.text_config.hidden_size
        assert config.vision_config.fullatt_block_indexes == [7, 15, 23, 31]


def test_the_shipped_qwen3_vl_carries_its_published_shapes():
    config = shipped_config("qwen3-vl-8b")
    text, vision = config.text_config, config.vision_config
    assert type(config).__name__ == "Qwen3VLConfig" and not config.tie_word_embeddings
    assert (text.hidden_size, text.num_hidden_layers, text.intermediate_size) == (4096, 36, 12288)
    assert (text.num_attention_heads, text.num_key_value_heads, text.head_dim) == (32, 8, 128)
    assert text.rope_parameters["mrope_section"] == [24, 20, 20]
    assert text.rope_parameters["rope_theta"] == 5e6
    assert (vision.depth, vision.hidden_size, vision.patch_size) == (27, 1152, 16)
    assert vision.deepstack_visual_indexes == [8, 16, 24]
    assert vision.out_hidden_size == text.hidden_size


def test_each_call_returns_its_own_config():
    first = shipped_config("qwen2.5-vl-7b")
    first.text_config.rope_parameters["mrope_section"].append(0)
    first.vision_config.fullatt_block_indexes.append(0)
    again = shipped_config("qwen2.5-vl-7b")
    assert again.text_config.rope_parameters["mrope_section"] == [16, 24, 24]
    assert again.vision_config.fullatt_block_indexes == [7, 15, 23, 31]


def test_an_unknown_architecture_names_the_known_ones():
    with pytest.raises(ValueError, match=r"qwen2\.5-vl-3b, qwen2\.5-vl-7b"):
        shipped_config("qwen2.5-vl-72b")


@pytest.mark.parametrize("name", SHIPPED_ARCHITECTURES)
def test_the_model_has_the_published_size(name):
    total = sum(p.numel() for p in meta_model(name).parameters())
    assert round(total / 1e9, 2) == PUBLISHED_BILLIONS[name]


@pytest.mark.parametrize("name", SHIPPED_ARCHITECTURES)
@pytest.mark.parametrize(
    ("settings", "recipes"), LORA_CASES, ids=[f"r{s.r}-alpha{s.alpha}" for s, _ in LORA_CASES]
)
def test_lora_sits_on_the_language_model_linears_only(name, settings, recipes):
    layers = shipped_config(name).text_config.num_hidden_layers
    with torch.device("meta"):
        base = meta_model(name)
        model = get_peft_model(base, lora_config(settings, base))
    adapted = [n for n, module in model.named_modules() if hasattr(module, "lora_A")]
    assert len(adapted) == len(settings.target_modules) * layers, f"recipes {recipes}"
    assert all(".language_model.layers." in n for n in adapted)
    assert {n.rsplit(".", 1)[1] for n in adapted} == set(settings.target_modules)
    assert not [n for n in adapted if ".visual." in n], "adapters in the vision tower"

    weights = trainable(model)
    assert all(".lora_" in n for n in weights)
    assert not [n for n in weights if ".visual." in n or "embed_tokens" in n or "lm_head" in n]
    expected = closed_form_lora_parameters(name, settings.r, settings.target_modules)
    assert sum(p.numel() for p in weights.values()) == expected


def test_the_paper_lora_trains_the_recorded_number_of_parameters():
    targets = list(DECODER_LINEARS)
    assert closed_form_lora_parameters("qwen2.5-vl-3b", 64, targets) == 119_734_272
    assert closed_form_lora_parameters("qwen2.5-vl-7b", 64, targets) == 161_480_704


@pytest.mark.parametrize("train_vision", [False, True])
def test_full_fine_tuning_freezes_the_vision_tower_unless_asked(
    monkeypatch, tiny_model, train_vision
):
    """``load_policy`` on the real 7B shapes: only its weight loading is replaced (by a meta
    build), the tiny checkpoint supplies the processor."""
    model = meta_model("qwen2.5-vl-7b")
    monkeypatch.setattr(
        AutoModelForImageTextToText, "from_pretrained", lambda *args, **kwargs: model
    )
    config = TrainConfig(model=str(tiny_model), lora=None, train_vision=train_vision)
    loaded, _ = load_policy(config)
    weights = trainable(loaded)
    visual = [n for n, _ in loaded.named_parameters() if n.startswith("model.visual.")]
    assert any(".merger." in n for n in visual)
    if train_vision:
        assert len(weights) == len(list(loaded.parameters()))
    else:
        assert not set(visual) & set(weights)
        assert set(weights) | set(visual) == {n for n, _ in loaded.named_parameters()}
