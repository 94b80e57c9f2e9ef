"""The memory plan's per-layer activation term against what autograd really keeps: a small
Qwen2.5-VL decoder with the project's LoRA, in bf16 autocast on the CPU, its saved tensors counted
with ``torch.autograd.graph.saved_tensors_hooks``.

One layer's share is the difference between a 3-layer and a 2-layer model. Dropout runs through
``torch.native_dropout``, the kernel CUDA uses (a bool mask kept for backward), instead of the CPU
path that keeps a noise tensor of the input's dtype."""

from __future__ import annotations

import pytest
import torch
from peft import get_peft_model
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from speciarl.train.config import LoraSettings
from speciarl.train.memory_plan import Shapes, layer_activation_bytes
from speciarl.train.setup import lora_config

BATCH, SEQUENCE = 2, 48
HEADS, KV_HEADS = 4, 2


def small_config(hidden: int, inner: int, layers: int) -> Qwen2_5_VLConfig:
    head_dim = hidden // HEADS
    quarter = head_dim // 8
    sections = [quarter, 3 * quarter // 2, head_dim // 2 - quarter - 3 * quarter // 2]
    return Qwen2_5_VLConfig(
        text_config={
            "hidden_size": hidden,
            "intermediate_size": inner,
            "num_hidden_layers": layers,
            "num_attention_heads": HEADS,
            "num_key_value_heads": KV_HEADS,
            "vocab_size": 512,
            "max_position_embeddings": 1024,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1e6,
                "mrope_section": sections,
            },
        },
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "fullatt_block_indexes": [0],
        },
        image_token_id=508,
        video_token_id=509,
        vision_start_token_id=510,
        vision_end_token_id=511,
    )


def cuda_dropout(input, p=0.5, training=True, inplace=False):
    """``F.dropout`` as CUDA runs it: the fused kernel that keeps a bool mask."""
    if not training or p == 0:
        return input
    return torch.native_dropout(input, p, True)[0]


def saved_bytes(config: Qwen2_5_VLConfig, lora: LoraSettings, *, padded: bool, bf16: bool) -> int:
    """Bytes autograd keeps from one forward of the language model (parameters excluded)."""
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).to(torch.bfloat16)
    adapters = lora_config(lora, model)
    model = get_peft_model(model, adapters, autocast_adapter_dtype=not bf16).train()
    weights = {parameter.untyped_storage().data_ptr() for parameter in model.parameters()}
    ids = torch.randint(0, 500, (BATCH, SEQUENCE))
    mask = torch.ones(BATCH, SEQUENCE, dtype=torch.long)
    if padded:
        mask[0, :5] = 0
    kept: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in weights:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    language_model = model.get_base_model().model.language_model
    with (
        torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor),
        torch.autocast("cpu", dtype=torch.bfloat16),
    ):
        language_model(input_ids=ids, attention_mask=mask)
    return sum(kept.values())


@pytest.mark.filterwarnings("ignore::FutureWarning")  # PEFT asks transformers a deprecated name
@pytest.mark.parametrize(
    ("hidden", "inner", "settings", "padded", "bf16"),
    [
        (128, 512, {}, False, False),  # the recipes' LoRA (dropout 0.05), fp32 adapters
        (128, 768, {}, True, False),  # a padded batch: masked SDPA, repeated key/value heads
        (192, 512, {"dropout": 0.0, "r": 16}, False, False),
        (128, 512, {"dropout": 0.0}, False, True),  # bf16 adapters (ZeRO-3): shared inputs
        (128, 512, {"target_modules": ["q_proj", "v_proj"]}, True, False),
    ],
)
def test_one_layer_keeps_what_the_plan_says(monkeypatch, hidden, inner, settings, padded, bf16):
    monkeypatch.setattr(torch.nn.functional, "dropout", cuda_dropout)
    lora = LoraSettings(**{"r": 8, "alpha": 16, **settings})
    one_layer = saved_bytes(small_config(hidden, inner, 3), lora, padded=padded, bf16=bf16)
    one_layer -= saved_bytes(small_config(hidden, inner, 2), lora, padded=padded, bf16=bf16)
    shapes = Shapes.of(small_config(hidden, inner, 2))
    kv_width = KV_HEADS * hidden // HEADS
    widths = {"q_proj": (hidden, hidden), "k_proj": (hidden, kv_width)}
    widths |= {"v_proj": (hidden, kv_width), "o_proj": (hidden, hidden)}
    widths |= {
        "gate_proj": (hidden, inner),
        "up_proj": (hidden, inner),
        "down_proj": (inner, hidden),
    }
    layer_adapter = sum(lora.r * sum(widths[name]) for name in lora.target_modules)
    planned = layer_activation_bytes(
        shapes,
        lora,
        BATCH,
        SEQUENCE,
        layer_adapter=layer_adapter,
        fp32_adapters=not bf16,
        padded=padded,
    )
    assert one_layer == planned
