"""The LLM judge's prompts: named, versioned data files in ``speciarl/prompts/judge/``.

A prompt fixes the system message and the strings the model may answer with (its *choices*),
and how each choice maps to a verdict. Its digest enters the judge's identity, so editing a
prompt never reuses cached verdicts of the old one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files

import yaml

from speciarl.verdict import Verdict, VerdictParseError

DEFAULT_JUDGE_PROMPT = "base"
_FIELDS = {"name", "version", "description", "choices", "system"}
_OPTIONAL_FIELDS = {"verdicts"}


class JudgePromptError(ValueError):
    """An unknown judge prompt, or a prompt file that breaks the format."""


@dataclass(frozen=True, slots=True)
class JudgePrompt:
    """System message, allowed answers and their verdicts."""

    name: str
    version: int
    description: str
    system: str
    choices: tuple[str, ...]
    verdict_of: Mapping[str, Verdict]

    @property
    def digest(self) -> str:
        """Hash of everything that can change a verdict: the text, the choices, their mapping."""
        content = {
            "system": self.system,
            "choices": list(self.choices),
            "verdicts": {choice: verdict.value for choice, verdict in self.verdict_of.items()},
        }
        encoded = json.dumps(content, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()[:16]


def judge_prompt_names() -> list[str]:
    folder = files("speciarl") / "prompts" / "judge"
    return sorted(
        item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml")
    )


def load_judge_prompt(name: str) -> JudgePrompt:
    """The judge prompt called ``name``, validated."""
    if name not in judge_prompt_names():
        raise JudgePromptError(
            f"unknown judge prompt {name!r}; choose one of {', '.join(judge_prompt_names())}"
        )
    resource = files("speciarl") / "prompts" / "judge" / f"{name}.yaml"
    content = yaml.safe_load(resource.read_text(encoding="utf-8"))
    if not isinstance(content, dict) or not _FIELDS <= set(content) <= _FIELDS | _OPTIONAL_FIELDS:
        raise JudgePromptError(
            f"judge prompt {name}.yaml needs the fields {', '.join(sorted(_FIELDS))}"
            " (and optionally verdicts)"
        )
    if content["name"] != name or not isinstance(content["version"], int):
        raise JudgePromptError(f"judge prompt {name}.yaml: name must be {name!r}, version an int")
    choices = tuple(content["choices"])
    mapping = content.get("verdicts") or {choice: choice for choice in choices}
    try:
        verdict_of = {choice: Verdict.parse(mapping[choice]) for choice in choices}
    except (KeyError, VerdictParseError) as error:
        raise JudgePromptError(f"judge prompt {name}.yaml: bad choice mapping: {error}") from None
    return JudgePrompt(
        name, content["version"], content["description"], content["system"], choices, verdict_of
    )
