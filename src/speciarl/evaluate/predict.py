"""Running a policy over a benchmark split: one JSONL record per (sample, prediction index).

Greedy decoding gives one prediction per image; sampling gives N, each image seeded on its own
(the seed depends only on the run seed and the sample id), so results do not depend on batch
sizes, restarts or the order of work. A sample whose image cannot be read is recorded with its
error, never skipped. Each record says whether generation stopped at ``max_new_tokens``
(``truncated``), so that reports tell a reasoning cut short from an answer in the wrong format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from speciarl.data.sample import ImageReadError, Sample
from speciarl.evaluate.store import RecordStore
from speciarl.policy.image_budget import PROCESSOR_RANGE, ImageBudget, load_processor
from speciarl.prompts import load_prompt

PREDICTION_FIELDS = ("dataset", "label", "completion", "error")


@dataclass(frozen=True)
class GenerationSettings:
    """How predictions are drawn; the paper's best-of-64 samples at 0.6 / top-p 0.95."""

    n: int = 1
    temperature: float = 0.0
    """0 is greedy decoding."""
    top_p: float = 1.0
    max_new_tokens: int = 2048
    """The paper's decoding limit: a reasoning model's ``<think>`` often runs past a few hundred
    tokens, and a completion cut off before its answer counts as a truncation."""
    seed: int = 0
    batch_size: int = 8
    prompt: str = "general"

    def __post_init__(self) -> None:
        if self.n < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("n, batch_size and max_new_tokens must be positive")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p within (0, 1]")
        if self.n > 1 and self.temperature == 0:
            raise ValueError("several predictions per image need sampling: set a temperature > 0")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    """One generated text, and whether generation stopped at ``max_new_tokens`` instead of at an
    end-of-sequence token."""

    text: str
    truncated: bool


def request_seed(seed: int, sample_id: str) -> int:
    """The sampling seed of one image, independent of batching and of the other images."""
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class Backend(Protocol):
    """Turns images and a prompt into completions: ``n`` per image, in order."""

    name: str

    def generate(
        self, images: Sequence[Any], prompt: str, settings: GenerationSettings, seeds: Sequence[int]
    ) -> list[list[Completion]]: ...


class TransformersBackend:
    """Batched generation with transformers (CPU or GPU), optionally with a LoRA adapter; images
    are resized within ``image_budget`` (unset bounds: the processor's own)."""

    name = "transformers"

    def __init__(
        self, model: str, adapter: str | None = None, *, image_budget: ImageBudget = PROCESSOR_RANGE
    ) -> None:
        import torch
        from transformers import AutoModelForImageTextToText

        processor_source = (
            adapter if adapter and Path(adapter, "tokenizer_config.json").is_file() else model
        )
        self.processor = load_processor(processor_source, image_budget, padding_side="left")
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        policy = AutoModelForImageTextToText.from_pretrained(model, dtype=dtype)
        if adapter is not None:
            from peft import PeftModel

            policy = PeftModel.from_pretrained(policy, adapter)
        self.model = policy.to(self.device).eval()
        ends = self.model.generation_config.eos_token_id
        self.end_ids = set(ends if isinstance(ends, list) else [ends])

    def generate(
        self, images: Sequence[Any], prompt: str, settings: GenerationSettings, seeds: Sequence[int]
    ) -> list[list[Completion]]:
        import torch

        if settings.greedy:
            return [[completion] for completion in self._run(images, prompt, settings, 1)]
        completions = []
        for image, seed in zip(images, seeds, strict=True):  # one image at a time: its own seed
            torch.manual_seed(seed)
            completions.append(self._run([image], prompt, settings, settings.n))
        return completions

    def _run(
        self, images: Sequence[Any], prompt: str, settings: GenerationSettings, n: int
    ) -> list[Completion]:
        import torch

        messages = [
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}
        ]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        # one image per prompt, nested as TRL does: Gemma 3's processor reads a flat list as
        # one prompt holding every image
        inputs = self.processor(
            text=[text] * len(images),
            images=[[image] for image in images],
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        sampling = (
            {}
            if settings.greedy
            else {
                "temperature": settings.temperature,
                "top_p": settings.top_p,
            }
        )
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                max_new_tokens=settings.max_new_tokens,
                num_return_sequences=n,
                do_sample=not settings.greedy,
                **sampling,
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        texts = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        # A sequence that ended holds an end token (and padding after it); one without any ran
        # until max_new_tokens stopped it.
        ended = [bool(self.end_ids & set(row)) for row in new_tokens.tolist()]
        return [Completion(text, not done) for text, done in zip(texts, ended, strict=True)]


def vllm_engine_arguments(
    model: str, adapter: str | None, image_budget: ImageBudget, *, max_lora_rank: int = 64
) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` for this policy: vLLM's processor takes the budget as
    ``mm_processor_kwargs``, the same keywords a transformers processor takes."""
    arguments: dict[str, Any] = {
        "model": model,
        "enable_lora": adapter is not None,
        "max_lora_rank": max_lora_rank,
    }
    if image_budget.processor_kwargs():
        arguments["mm_processor_kwargs"] = image_budget.processor_kwargs()
    return arguments


class VLLMBackend:
    """vLLM's offline engine, with the LoRA adapter served as a LoRA request."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        adapter: str | None = None,
        *,
        image_budget: ImageBudget = PROCESSOR_RANGE,
        max_lora_rank: int = 64,
    ) -> None:
        from vllm import LLM

        self.engine = LLM(
            **vllm_engine_arguments(model, adapter, image_budget, max_lora_rank=max_lora_rank)
        )
        self.adapter = adapter

    def generate(
        self, images: Sequence[Any], prompt: str, settings: GenerationSettings, seeds: Sequence[int]
    ) -> list[list[Completion]]:
        from vllm import SamplingParams
        from vllm.lora.request import LoRARequest

        lora = LoRARequest("adapter", 1, self.adapter) if self.adapter else None
        messages = [
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_pil", "image_pil": image},
                        {"type": "text", "text": prompt},
                    ],
                }
            ]
            for image in images
        ]
        params = [
            SamplingParams(
                n=settings.n,
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_tokens=settings.max_new_tokens,
                seed=seed,
            )
            for seed in seeds
        ]
        return vllm_completions(
            self.engine.chat(messages, params, lora_request=lora, use_tqdm=False)
        )


def vllm_completions(outputs: Sequence[Any]) -> list[list[Completion]]:
    """vLLM's request outputs as completions: a choice that finished for ``length`` reached
    ``max_tokens``."""
    return [
        [Completion(choice.text, choice.finish_reason == "length") for choice in output.outputs]
        for output in outputs
    ]


BACKENDS: dict[str, type[TransformersBackend] | type[VLLMBackend]] = {
    "transformers": TransformersBackend,
    "vllm": VLLMBackend,
}
"""The generation backends, by the name ``--backend`` takes."""


@dataclass
class PredictSummary:
    written: int = 0
    errors: int = 0
    already_done: int = 0


def predict(
    samples: Sequence[Sample],
    backend: Backend,
    store: RecordStore,
    settings: GenerationSettings,
    *,
    model_name: str,
    progress: Callable[[int], None] | None = None,
    repair: bool = False,
) -> PredictSummary:
    """Predict every (sample, index) not yet in ``store``, appending after each batch."""
    done = store.load(repair=repair)
    summary = PredictSummary(already_done=len(done))
    todo = [s for s in samples if any((s.sample_id, i) not in done for i in range(settings.n))]
    if progress is not None:
        progress(len(samples) - len(todo))
    prompt = load_prompt(settings.prompt)
    meta = {
        "model": model_name,
        "prompt": prompt.name,
        "prompt_version": prompt.version,
        **{key: value for key, value in asdict(settings).items() if key != "prompt"},
    }
    step = settings.batch_size if settings.greedy else max(1, settings.batch_size // settings.n)
    for start in range(0, len(todo), step):
        batch = todo[start : start + step]
        records = _predict_batch(batch, backend, prompt.text, settings, meta, done)
        store.append(records)
        summary.written += len(records)
        summary.errors += sum(record["error"] is not None for record in records)
        if progress is not None:
            progress(len(batch))
    return summary


def _predict_batch(
    batch: Sequence[Sample],
    backend: Backend,
    prompt: str,
    settings: GenerationSettings,
    meta: dict[str, Any],
    done: dict[tuple[str, int], dict[str, Any]],
) -> list[dict[str, Any]]:
    readable, images, records = [], [], []
    for sample in batch:
        try:
            images.append(sample.image())
            readable.append(sample)
        except ImageReadError as error:
            records.extend(_record(sample, i, None, str(error), meta) for i in range(settings.n))
    if readable:
        seeds = [request_seed(settings.seed, sample.sample_id) for sample in readable]
        outputs = backend.generate(images, prompt, settings, seeds)
        for sample, completions in zip(readable, outputs, strict=True):
            records.extend(
                _record(sample, index, completion, None, meta)
                for index, completion in enumerate(completions)
            )
    return [r for r in records if (r["sample_id"], r["prediction_index"]) not in done]


def _record(
    sample: Sample,
    index: int,
    completion: Completion | None,
    error: str | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    return {
        "sample_id": sample.sample_id,
        "prediction_index": index,
        "dataset": sample.dataset,
        "split": sample.split,
        "label": sample.label,
        "completion": completion.text if completion else None,
        "truncated": completion.truncated if completion else None,
        "error": error,
        **meta,
    }
