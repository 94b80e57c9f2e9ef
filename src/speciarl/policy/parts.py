"""Where a vision-language policy keeps its parts: language model, decoder layers, vision tower.

The paper puts LoRA on every linear layer of the language model's decoder layers and keeps the
vision tower frozen. Each family names those parts its own way (Qwen's ``model.visual``, Gemma 3's
``model.vision_tower``, Idefics3's ``model.text_model``...), so the parts are found from the loaded
model itself rather than from a table of names: the language model and the vision tower are the
outermost submodules built from the model's text and vision configs (transformers'
``get_decoder()`` and ``get_encoder("image")`` as a second try), the decoder layers are the
language model's layer list, the projector is what sits beside the tower (or, as in Qwen, the
tower's own merger into the language model's width). This module is the only place in speciarl
that names a model's submodules; everything else goes through :class:`PolicyParts`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

ALL_LINEAR = "all-linear"
"""PEFT's name for every linear layer: here, every linear layer of the decoder layers."""


class PolicyPartsError(ValueError):
    """A model whose parts cannot be found, or a request the parts cannot meet."""


@dataclass(frozen=True)
class PolicyParts:
    """Where a vision-language policy keeps its parts, as dotted module paths of the loaded model
    (of the base model under a PEFT wrapper)."""

    architecture: str
    """``config.model_type``: ``qwen2_5_vl``, ``gemma3``, ``internvl``, ``llava_onevision``..."""
    decoder_layers: str
    """The language model's decoder-layer list, e.g. ``model.language_model.layers``."""
    linear_names: tuple[str, ...]
    """Leaf names of the linear layers inside one decoder layer, in the order they appear."""
    vision_tower: str
    """E.g. ``model.visual``, ``model.vision_tower``, ``model.vision_model``."""
    projector: str | None
    """What maps the tower's features into the language model's width: a sibling of the tower
    (``model.multi_modal_projector``, ``model.connector``) or inside it (``model.visual.merger``);
    ``None`` when none is found."""
    language_model: str
    """The language model without its head, e.g. ``model.language_model``."""

    @property
    def first_decoder_layer(self) -> str:
        return f"{self.decoder_layers}.0"


def base_model(model: nn.Module) -> nn.Module:
    """The transformers model under a PEFT wrapper (the model itself otherwise): the one whose
    module paths :class:`PolicyParts` holds."""
    unwrap = getattr(model, "get_base_model", None)
    return unwrap() if callable(unwrap) else model


def submodule(model: nn.Module, path: str) -> nn.Module:
    """The module at ``path`` (a :class:`PolicyParts` path) of ``model``, PEFT-wrapped or not."""
    return base_model(model).get_submodule(path)


def policy_parts(model: nn.Module) -> PolicyParts:
    """The parts of ``model`` (a transformers vision-language model, possibly PEFT-wrapped, on any
    device including meta); raises :class:`PolicyPartsError` naming what was looked for."""
    from torch import nn

    base = base_model(model)
    config = getattr(base, "config", None)
    kind = type(base).__name__
    if config is None:
        raise PolicyPartsError(f"{kind}: not a transformers model (it has no config)")
    text_config = config.get_text_config()
    vision_config = getattr(config, "vision_config", None)
    paths = {id(module): name for name, module in base.named_modules()}
    language_model = _find(base, paths, text_config, "get_decoder", ())
    if language_model is None:
        raise PolicyPartsError(
            f"{kind}: no language model found: looked for a submodule built from its text "
            f"config ({type(text_config).__name__}) and for transformers' get_decoder()"
        )
    if vision_config is None:
        raise PolicyPartsError(
            f"{kind}: no vision tower found: its config ({type(config).__name__}) has no "
            "vision_config; a policy must be a vision-language model"
        )
    vision_tower = _find(base, paths, vision_config, "get_encoder", ("image",))
    if vision_tower is None or _inside(language_model, vision_tower):
        raise PolicyPartsError(
            f"{kind}: no vision tower found: looked for a submodule built from its vision "
            f"config ({type(vision_config).__name__}) and for transformers' "
            "get_encoder('image')"
        )
    layers = _decoder_layers(base.get_submodule(language_model), text_config)
    if layers is None:
        raise PolicyPartsError(
            f"{kind}: no decoder layers found in its language model {language_model}: looked "
            f"for a module list of {getattr(text_config, 'num_hidden_layers', 'its')} layers"
        )
    layer_path = f"{language_model}.{layers}"
    linear_names = _linear_names(base.get_submodule(f"{layer_path}.0"), nn.Linear)
    if not linear_names:
        raise PolicyPartsError(f"{kind}: the decoder layer {layer_path}.0 has no linear layers")
    return PolicyParts(
        architecture=str(getattr(config, "model_type", kind)),
        decoder_layers=layer_path,
        linear_names=linear_names,
        vision_tower=vision_tower,
        projector=_projector(base, paths, language_model, vision_tower, nn),
        language_model=language_model,
    )


def lora_target_modules(parts: PolicyParts, names: Sequence[str]) -> str:
    """A PEFT ``target_modules`` regex (PEFT full-matches it against module paths) that hits the
    linear layers called ``names`` inside the decoder layers and nothing else; ``["all-linear"]``
    means every linear layer there. A name no decoder layer has is a :class:`PolicyPartsError`."""
    wanted = parts.linear_names if list(names) == [ALL_LINEAR] else tuple(names)
    unknown = [name for name in wanted if name not in parts.linear_names]
    if not wanted or unknown:
        raise PolicyPartsError(
            f"lora.target_modules {list(names)}: {parts.architecture}'s decoder layers have "
            f"linear layers {', '.join(parts.linear_names)} (or {ALL_LINEAR!r}); "
            + (f"unknown: {', '.join(unknown)}" if unknown else "none named")
        )
    alternatives = "|".join(re.escape(name) for name in wanted)
    return rf"{re.escape(parts.decoder_layers)}\.\d+\.(?:.*\.)?(?:{alternatives})"


def freeze_vision_tower(model: nn.Module, parts: PolicyParts) -> None:
    """Stop gradients in the vision tower and its projector: the vision side as Qwen2.5-VL keeps
    it in ``model.visual``, merger included, frozen alike in every architecture."""
    submodule(model, parts.vision_tower).requires_grad_(False)
    if parts.projector is not None:
        submodule(model, parts.projector).requires_grad_(False)


def _find(
    base: nn.Module, paths: dict[int, str], part_config: Any, lookup: str, args: tuple[str, ...]
) -> str | None:
    """The outermost submodule built from ``part_config`` (one of its class), else what
    transformers' ``lookup`` returns, as a path; ``None`` when neither finds a proper submodule."""
    wanted = type(part_config)
    for name, module in base.named_modules():
        if name and type(getattr(module, "config", None)) is wanted:
            return name
    method = getattr(base, lookup, None)
    found = method(*args) if callable(method) else None
    name = paths.get(id(found))
    return name or None  # "" is the model itself: nothing found


def _inside(outer: str, inner: str) -> bool:
    return inner == outer or inner.startswith(outer + ".")


def _decoder_layers(language_model: nn.Module, text_config: Any) -> str | None:
    """Path (in the language model) of its layer list: the outermost module list as long as the
    text config's ``num_hidden_layers``, or the longest one when the config does not say."""
    from torch import nn

    lists = [
        (name, module)
        for name, module in language_model.named_modules()
        if name and isinstance(module, nn.ModuleList) and len(module) > 0
    ]
    count = getattr(text_config, "num_hidden_layers", None)
    if count is not None:
        return next((name for name, module in lists if len(module) == count), None)
    return max(lists, key=lambda item: len(item[1]), default=(None,))[0]


def _linear_names(layer: nn.Module, linear: type) -> tuple[str, ...]:
    """Leaf names of the linear layers in ``layer``; a LoRA-wrapped one counts once under its own
    name (its base layer and adapters are not linear layers of the model)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    names: list[str] = []
    wrapped: list[str] = []
    for name, module in layer.named_modules():
        if any(name.startswith(prefix + ".") for prefix in wrapped):
            continue
        if isinstance(module, BaseTunerLayer):
            wrapped.append(name)
        elif not isinstance(module, linear):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if leaf not in names:
            names.append(leaf)
    return tuple(names)


def _projector(
    base: nn.Module, paths: dict[int, str], language_model: str, vision_tower: str, nn: Any
) -> str | None:
    """The tower's one sibling with weights besides the language model and the embeddings (a
    LLaVA-style projector); with none, what follows the tower's block list inside it (Qwen's
    merger); ``None`` when neither is there. Several candidate siblings are a
    :class:`PolicyPartsError` naming them: guessing could leave the projector trainable."""
    parent, _, _ = vision_tower.rpartition(".")
    prefix = f"{parent}." if parent else ""
    embeddings = [
        paths[id(module)]
        for module in (base.get_input_embeddings(), base.get_output_embeddings())
        if module is not None and id(module) in paths
    ]
    siblings = [
        f"{prefix}{name}"
        for name, child in base.get_submodule(parent).named_children()
        if f"{prefix}{name}" != vision_tower
        and not _inside(f"{prefix}{name}", language_model)
        and not any(
            _inside(f"{prefix}{name}", path) or _inside(path, f"{prefix}{name}")
            for path in embeddings
        )
        and any(True for _ in child.parameters())
    ]
    if len(siblings) > 1:
        raise PolicyPartsError(
            f"{type(base).__name__}: cannot tell its projector from the vision tower "
            f"{vision_tower}'s siblings {', '.join(siblings)}; only one of them should hold "
            "weights besides the language model"
        )
    if siblings:
        return siblings[0]
    after_blocks = False
    for name, child in base.get_submodule(vision_tower).named_children():
        if isinstance(child, nn.ModuleList):
            after_blocks = True
        elif after_blocks and any(True for _ in child.parameters()):
            return f"{vision_tower}.{name}"
    return None
