"""Policy prompts: named, versioned data files, so every run records exactly what it asked."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files

import yaml

DEFAULT_PROMPT = "general"
_REQUIRED_MARKERS = ("<think>", "</think>", "<answer>", "</answer>", "None")


class PromptError(ValueError):
    """An unknown prompt name or a prompt file that breaks the rules."""


@dataclass(frozen=True, slots=True)
class PolicyPrompt:
    """The instruction given to the policy with each image."""

    name: str
    version: int
    text: str
    description: str = ""

    @property
    def digest(self) -> str:
        """Short hash of the text: two runs with equal digests asked exactly the same thing."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]


def prompt_names() -> list[str]:
    folder = files("speciarl") / "prompts" / "policy"
    return sorted(
        item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml")
    )


def load_prompt(name: str) -> PolicyPrompt:
    """The policy prompt called ``name``, validated."""
    if name not in prompt_names():
        raise PromptError(f"unknown prompt {name!r}; choose one of {', '.join(prompt_names())}")
    resource = files("speciarl") / "prompts" / "policy" / f"{name}.yaml"
    content = yaml.safe_load(resource.read_text(encoding="utf-8"))
    if not isinstance(content, dict) or set(content) != {"name", "version", "description", "text"}:
        raise PromptError(f"prompt file {name}.yaml needs exactly name, version, description, text")
    if content["name"] != name or not isinstance(content["version"], int):
        raise PromptError(f"prompt file {name}.yaml: name must be {name!r}, version an integer")
    text = content["text"]
    missing = [marker for marker in _REQUIRED_MARKERS if marker not in text]
    if missing:
        raise PromptError(f"prompt {name!r} lacks the format markers {', '.join(missing)}")
    return PolicyPrompt(name, content["version"], text, content["description"])
