"""A judge set-up written as one command-line word: ``KIND`` or ``KIND:key=value,key=value``.

``speciarl judge-eval`` compares several set-ups in one run (the cascade with and without an LLM,
two judge models, two prompts, an old and a new hierarchy file), so each must fit in one
``--judge`` value. KIND is a :data:`~speciarl.judges.factory.JUDGE_KINDS` kind; the keys are
those of :data:`SPEC_KEYS`. Values cannot hold commas. Every error is one line naming the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

from speciarl.judges.factory import JUDGE_KINDS
from speciarl.judges.judge_prompts import DEFAULT_JUDGE_PROMPT, load_judge_prompt
from speciarl.judges.llm import LLMJudgeSettings

SPEC_KEYS = ("endpoint", "model", "prompt", "hierarchy", "name", "batch_size", "concurrency")
LLM_KEYS = ("endpoint", "model", "prompt", "batch_size", "concurrency")
"""Keys that only an LLM judge (kind llm, or cascade with endpoint and model) uses."""
_INTEGER_KEYS = ("batch_size", "concurrency")


class JudgeSpecError(ValueError):
    """A judge spec that cannot be read; the message quotes the spec."""


@dataclass(frozen=True)
class JudgeSpec:
    """One judge set-up: what :func:`~speciarl.judges.factory.build_judge` is asked to build."""

    text: str
    """The spec as written."""
    kind: str
    name: str
    """Display name in reports; the spec text unless ``name=`` was given."""
    endpoint: str | None = None
    model: str | None = None
    prompt: str = DEFAULT_JUDGE_PROMPT
    hierarchy: str | None = None
    """A hierarchy file or shipped dataset name that replaces every dataset's own hierarchy."""
    batch_size: int = 1
    concurrency: int = 64

    @property
    def llm(self) -> LLMJudgeSettings | None:
        """The LLM judge's settings; ``None`` when the set-up asks no LLM."""
        if self.endpoint is None or self.model is None:
            return None
        return LLMJudgeSettings(
            endpoint=self.endpoint,
            model=self.model,
            prompt=self.prompt,
            batch_size=self.batch_size,
            concurrency=self.concurrency,
        )

    def to_dict(self) -> dict[str, object]:
        """What a report records of the set-up."""
        return {
            "name": self.name,
            "spec": self.text,
            "kind": self.kind,
            "hierarchy": self.hierarchy,
            "llm": None
            if self.endpoint is None
            else {
                "endpoint": self.endpoint,
                "model": self.model,
                "prompt": self.prompt,
                "batch_size": self.batch_size,
                "concurrency": self.concurrency,
            },
        }


def parse_judge_spec(text: str) -> JudgeSpec:
    """Read ``KIND`` or ``KIND:key=value,...``; raises :class:`JudgeSpecError` naming the spec."""

    def error(problem: str) -> JudgeSpecError:
        return _error(text, problem)

    kind, colon, rest = text.partition(":")
    kind = kind.strip()
    if kind not in JUDGE_KINDS:
        raise error(f"unknown judge kind {kind!r}; choose one of {', '.join(JUDGE_KINDS)}")
    if colon and not rest.strip():
        raise error("nothing after ':'; write KIND or KIND:key=value,key=value")
    values: dict[str, str] = {}
    for item in rest.split(",") if colon else ():
        key, equals, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not equals:
            raise error(f"{item.strip()!r} is not key=value")
        if key not in SPEC_KEYS:
            raise error(f"unknown key {key!r}; the keys are {', '.join(SPEC_KEYS)}")
        if key in values:
            raise error(f"{key} is given twice")
        if not value:
            raise error(f"{key} has no value")
        values[key] = value
    numbers = {key: _positive(text, key, values[key]) for key in _INTEGER_KEYS if key in values}

    endpoint, model = values.get("endpoint"), values.get("model")
    if (endpoint is None) != (model is None):
        raise error("give endpoint and model together")
    if kind in ("lexical", "taxonomy") and endpoint is not None:
        raise error(f"a {kind} judge asks no LLM; use kind cascade or llm for endpoint and model")
    if kind == "llm" and endpoint is None:
        raise error("the LLM judge needs endpoint=URL and model=ID")
    if endpoint is None:
        strays = [key for key in LLM_KEYS if key in values]
        if strays:
            raise error(f"{', '.join(strays)}: for an LLM judge only (give endpoint and model)")
    if kind == "llm" and "hierarchy" in values:
        raise error("the LLM judge reads no hierarchy; use kind cascade to add the taxonomy judge")

    spec = JudgeSpec(
        text=text,
        kind=kind,
        name=values.get("name", text),
        endpoint=endpoint,
        model=model,
        prompt=values.get("prompt", DEFAULT_JUDGE_PROMPT),
        hierarchy=values.get("hierarchy"),
        **numbers,
    )
    if spec.endpoint is not None:
        try:
            load_judge_prompt(spec.prompt)
            spec.llm  # noqa: B018  (validates the endpoint URL and the numbers)
        except ValueError as problem:
            raise error(str(problem)) from None
    return spec


def _error(text: str, problem: str) -> JudgeSpecError:
    return JudgeSpecError(f"judge spec {text!r}: {problem}")


def _positive(text: str, key: str, value: str) -> int:
    """``value`` as a whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise _error(text, f"{key} must be a whole number of at least 1, got {value!r}")
    return number
