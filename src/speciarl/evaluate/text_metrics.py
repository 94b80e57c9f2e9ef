"""Text metrics of the open-world classification benchmark of Conti et al. ("On large multimodal
models as open-world image classifiers"), computed per prediction; callers aggregate the means.

* :func:`text_inclusion`: the label appears in the prediction, word for word, after the
  project's one normalisation. Always available.
* :class:`SemanticSimilarity`: cosine similarity of sentence embeddings (mean pooling over a
  ``transformers`` encoder, L2-normalised). Needs ``torch`` and ``transformers``.
* :class:`LLMInclusion`: an OpenAI-compatible model says whether the prediction names the label's
  concept or a more specific one; ``None`` where it could not be asked, never a guess.

A missing prediction (``None``) never includes a label and is similar to nothing (0.0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib.resources import files
from typing import Any

import yaml

from speciarl.answer import name_key
from speciarl.judges.base import Pair
from speciarl.judges.judge_prompts import JudgePrompt
from speciarl.judges.llm import LLMJudge, LLMJudgeSettings
from speciarl.verdict import Verdict

# ---------------------------------------------------------------------------------------------
# Text inclusion


def text_inclusion(label: str, prediction: str | None) -> bool:
    """Whether ``label`` occurs in ``prediction`` as whole words.

    Both sides go through :func:`~speciarl.answer.name_key` (the project's normalisation: NFKC,
    casefold, punctuation to spaces, a dash counts as a space, a leading article is ignored), so
    ``"Red circle"`` is included in ``"a striped red-circle!"`` but ``"cat"`` is not included in
    ``"catfish"``. A missing prediction, or a label or prediction with no words, is never
    included.
    """
    if prediction is None:
        return False
    wanted = name_key(label)
    if not wanted:
        return False
    return f" {wanted} " in f" {name_key(prediction)} "


# ---------------------------------------------------------------------------------------------
# Semantic similarity


class SemanticSimilarity:
    """Cosine similarity of sentence embeddings from a ``transformers`` encoder.

    Embeddings are the mean of the last hidden states over the attention mask, L2-normalised, as
    sentence-transformers computes them for mean-pooling models such as ``all-MiniLM-L6-v2``,
    without depending on that package. Texts are embedded once each, in batches of similar
    lengths; padding is masked out, so the batching does not change a score.

    ``device`` defaults to CUDA when available. A missing or blank prediction scores 0.0.
    """

    name = "semantic_similarity"

    def __init__(
        self,
        model_name_or_path: str,
        *,
        device: str | None = None,
        batch_size: int = 64,
        max_length: int = 256,
        dtype: Any = None,
    ) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if batch_size < 1 or max_length < 2:
            raise ValueError(
                f"need batch_size >= 1 and max_length >= 2, got {batch_size=}, {max_length=}"
            )
        self.model_name_or_path = str(model_name_or_path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path)
        self.model = AutoModel.from_pretrained(
            self.model_name_or_path, dtype=dtype if dtype is not None else torch.float32
        )
        self.model.to(self.device).eval()
        positions = getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = min(max_length, positions) if isinstance(positions, int) else max_length

    def embed(self, texts: Sequence[str]) -> Any:
        """L2-normalised embeddings of ``texts``, one row each, as a float32 CPU tensor."""
        import torch

        hidden = self.model.config.hidden_size
        result = torch.zeros((len(texts), hidden), dtype=torch.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                states = self.model(**batch).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
                result[torch.tensor(rows)] = pooled.cpu()
        return result

    def scores(self, labels: Sequence[str], predictions: Sequence[str | None]) -> list[float]:
        """Cosine similarity of each (label, prediction) pair, in [-1, 1]; 0.0 if unanswered."""
        if len(labels) != len(predictions):
            raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
        answered = [
            (i, label, prediction)
            for i, (label, prediction) in enumerate(zip(labels, predictions, strict=True))
            if prediction is not None and prediction.strip()
        ]
        texts = sorted({text for _, label, prediction in answered for text in (label, prediction)})
        row = {text: position for position, text in enumerate(texts)}
        vectors = self.embed(texts) if texts else None
        result = [0.0] * len(labels)
        for i, label, prediction in answered:
            cosine = float(vectors[row[label]] @ vectors[row[prediction]])
            result[i] = max(-1.0, min(1.0, cosine))
        return result


# ---------------------------------------------------------------------------------------------
# LLM inclusion

DEFAULT_LLM_INCLUSION_PROMPT = "llm_inclusion"
_PROMPT_FIELDS = {"name", "version", "text"}


class MetricPromptError(ValueError):
    """An unknown metric prompt, or a prompt file that breaks the format."""


@dataclass(frozen=True, slots=True)
class MetricPrompt:
    """A system message of a model-based metric, from ``speciarl/prompts/metrics/``."""

    name: str
    version: int
    text: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]


def load_metric_prompt(name: str) -> MetricPrompt:
    """The metric prompt called ``name``, validated."""
    folder = files("speciarl") / "prompts" / "metrics"
    resource = folder / f"{name}.yaml"
    if not name.isidentifier() or not resource.is_file():
        raise MetricPromptError(f"unknown metric prompt {name!r}")
    content = yaml.safe_load(resource.read_text(encoding="utf-8"))
    if not isinstance(content, dict) or set(content) != _PROMPT_FIELDS:
        raise MetricPromptError(f"metric prompt {name}.yaml needs exactly name, version, text")
    if content["name"] != name or not isinstance(content["version"], int):
        raise MetricPromptError(f"metric prompt {name}.yaml: name must be {name!r}, version an int")
    if not isinstance(content["text"], str) or not content["text"].strip():
        raise MetricPromptError(f"metric prompt {name}.yaml: text must be a non-empty string")
    return MetricPrompt(name, content["version"], content["text"])


_YES, _NO = "yes", "no"


class LLMInclusion:
    """Whether an LLM finds the label's concept (or a more specific one) named in the prediction.

    Built on :class:`~speciarl.judges.llm.LLMJudge` with a yes/no prompt: the same client, the
    same negotiated answer constraint (structured outputs, guided choice, JSON schema, text),
    temperature 0, predictions sanitised and sent only as JSON data in the user message, bounded
    concurrency, and the same retries (exponential backoff with full jitter on timeouts, lost
    connections, 408/409/429 and 5xx). One pair per request, whatever ``settings.batch_size``;
    ``settings.prompt`` (a judge prompt name) is not used.

    Scores: ``True`` (yes), ``False`` (no), ``None`` where the model could not be asked or never
    answered with a choice after the last retry. Without asking, a missing prediction is
    ``False``, and so is an empty one or one longer than ``settings.max_words`` /
    ``settings.max_chars`` (the judge's caps for labels; raise them for sentence-long answers).
    Repeated (label, prediction) pairs are asked once.
    """

    name = "llm_inclusion"

    def __init__(self, settings: LLMJudgeSettings, prompt: MetricPrompt | None = None) -> None:
        self.prompt = prompt or load_metric_prompt(DEFAULT_LLM_INCLUSION_PROMPT)
        self.settings = replace(settings, batch_size=1)
        judge_prompt = JudgePrompt(
            name=self.prompt.name,
            version=self.prompt.version,
            description="LLM inclusion metric (yes/no)",
            system=self.prompt.text,
            choices=(_YES, _NO),
            # The judge maps answers to verdicts; these two stand for yes and no only.
            verdict_of={_YES: Verdict.SPECIFIC, _NO: Verdict.WRONG},
        )
        self._judge = LLMJudge(self.settings, judge_prompt)

    @property
    def identity(self) -> str:
        """Changes with the model and the prompt: what can change a score."""
        return self._judge.identity

    @property
    def counters(self) -> Any:
        """Request, retry, failure and refusal counts (shared with the underlying judge)."""
        return self._judge.counters

    def scores(self, labels: Sequence[str], predictions: Sequence[str | None]) -> list[bool | None]:
        """One score per pair (blocking); usable from inside a running event loop too."""
        unique = self._unique(labels, predictions)
        judgements = self._judge.judge(unique) if unique else []
        return self._assemble(labels, predictions, unique, judgements)

    async def ascores(
        self, labels: Sequence[str], predictions: Sequence[str | None]
    ) -> list[bool | None]:
        """:meth:`scores` for callers already inside an event loop."""
        unique = self._unique(labels, predictions)
        judgements = await self._judge.ajudge(unique) if unique else []
        return self._assemble(labels, predictions, unique, judgements)

    @staticmethod
    def _unique(labels: Sequence[str], predictions: Sequence[str | None]) -> list[Pair]:
        if len(labels) != len(predictions):
            raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
        pairs = {
            Pair(label, prediction): None
            for label, prediction in zip(labels, predictions, strict=True)
            if prediction is not None
        }
        return list(pairs)

    @staticmethod
    def _assemble(
        labels: Sequence[str],
        predictions: Sequence[str | None],
        unique: list[Pair],
        judgements: Sequence[Any],
    ) -> list[bool | None]:
        answer: dict[Pair, bool | None] = {}
        for pair, judgement in zip(unique, judgements, strict=True):
            verdict = judgement.verdict
            answer[pair] = None if verdict is None else verdict is Verdict.SPECIFIC
        return [
            False if prediction is None else answer[Pair(label, prediction)]
            for label, prediction in zip(labels, predictions, strict=True)
        ]


__all__ = [
    "DEFAULT_LLM_INCLUSION_PROMPT",
    "LLMInclusion",
    "MetricPrompt",
    "MetricPromptError",
    "SemanticSimilarity",
    "load_metric_prompt",
    "text_inclusion",
]
