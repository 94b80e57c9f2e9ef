"""GRPO and prediction at the paper's model sizes on one GPU: seconds per step by phase, generated
tokens per second, peak memory, and prediction images per second.

For each architecture (Qwen2.5-VL-3B, then -7B, from ``speciarl.policy.architectures``) a randomly
initialised model is built on the device in bf16 and saved with the tiny builder's locally trained
tokenizer and a Qwen2.5-VL processor; the published vocabulary stays (its 152k-row embedding and
LM head are a large share of the memory), and every id the tokenizer makes is inside it. Then
``train_grpo`` (what ``speciarl train`` runs: LoRA r 64 / alpha 32, activation checkpointing on a
GPU) takes a few steps on synthetic images with the cascade judge, and ``predict`` runs the
trained adapter through ``TransformersBackend``.

A random model with the published 152k vocabulary all but never samples its end token, so each
completion runs to ``--tokens``: the figures are for full-length completions. Its answers never parse either, so the reward phase is the
reward function's own cost without judge calls (bench/reward_step.py times the judge). The
synthetic images are drawn at 112 px; the image budget (``--image-size`` squared, as both
``data.min_pixels`` and ``data.max_pixels``, and for prediction) resizes each to about that size,
so the policy sees (size / 28)^2 image tokens per image.

    .venv/bin/python bench/gpu_scale.py --arch tiny --device cpu --steps 1   # smoke run, CPU

On the GPU machine (one H200; about 5 minutes for both sizes), from the repository root, with the
wheels that README.md's "GPU scale benchmark" paragraph downloads carried in .whl/:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 && python3 bench/gpu_scale.py
"""  # noqa: E501

from __future__ import annotations

import argparse
import functools
import gc
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PHASES = (
    "generation",
    "log-probabilities",
    "reward",
    "loss forward+backward",
    "optimiser step",
    "other",
)
"""Where a GRPO step's time goes; ``other`` is batch preparation outside generation (padding,
advantages, splitting the generation batch)."""
TOKEN_FIELDS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")
TEXT_TOKEN_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id")


@dataclass
class PhaseClock:
    """Wall time per phase of each optimiser step, each phase's own time only (nested phases are
    charged to themselves). On a GPU every boundary synchronises, so kernels a phase queued are
    charged to it rather than to whichever phase waits for them next."""

    cuda: bool
    steps: list[dict[str, float]] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    decoding: list[tuple[int, float]] = field(default_factory=list)
    """(tokens generated, seconds in ``generate``) of each step."""
    parameters: tuple[int, int] | None = None
    """(total, trainable) of the model the trainer trains, read at its first step."""
    _current: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    _stack: list[list[Any]] = field(default_factory=list)
    _step_start: float | None = None
    _tokens: int = 0
    _decode_seconds: float = 0.0

    def now(self) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    def enter(self, name: str) -> None:
        start = self.now()
        if self._step_start is None:
            self._step_start = start
        self._stack.append([name, start, 0.0])

    def exit(self) -> None:
        name, start, nested = self._stack.pop()
        elapsed = self.now() - start
        self._current[name] += elapsed - nested
        if self._stack:
            self._stack[-1][2] += elapsed

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.enter(name)
        try:
            yield
        finally:
            self.exit()

    def innermost(self) -> str | None:
        return self._stack[-1][0] if self._stack else None

    def decoded(self, tokens: int, seconds: float) -> None:
        self._tokens += tokens
        self._decode_seconds += seconds

    def end_step(self) -> None:
        """Close the optimiser step that just finished."""
        self.steps.append(dict(self._current))
        self.step_seconds.append(self.now() - (self._step_start or 0.0))
        self.decoding.append((self._tokens, self._decode_seconds))
        self._current, self._step_start = defaultdict(float), None
        self._tokens, self._decode_seconds = 0, 0.0


def _around(
    cls: type, name: str, wrapper: Callable[..., Any], undo: list[Callable[[], None]]
) -> None:
    """Replace ``cls.name`` by ``wrapper(original, self, ...)``; ``undo`` gets the way back."""
    original = cls.__dict__[name]

    @functools.wraps(original)
    def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(original, self, *args, **kwargs)

    setattr(cls, name, patched)
    undo.append(lambda: setattr(cls, name, original))


@contextmanager
def instrumented(clock: PhaseClock) -> Iterator[None]:
    """Time TRL's GRPOTrainer phases by wrapping its methods (TRL itself unchanged): generation,
    the no-grad log-probabilities (reference, old policy), rewards, the loss's forward and
    backward, and the optimiser step (torch's global optimiser hooks)."""
    from torch.optim.optimizer import (
        register_optimizer_step_post_hook,
        register_optimizer_step_pre_hook,
    )
    from trl import GRPOTrainer

    def timed(phase: str) -> Callable[..., Any]:
        def wrapper(original: Callable[..., Any], trainer: Any, *args: Any, **kwargs: Any) -> Any:
            with clock.phase(phase):
                return original(trainer, *args, **kwargs)

        return wrapper

    def log_probabilities(original: Callable[..., Any], trainer: Any, *args: Any, **kw: Any) -> Any:
        if clock.innermost() == "loss forward+backward":  # the loss's own forward pass
            return original(trainer, *args, **kw)
        return timed("log-probabilities")(original, trainer, *args, **kw)

    def decode(original: Callable[..., Any], trainer: Any, *args: Any, **kwargs: Any) -> Any:
        start = clock.now()
        completion_ids, logprobs = original(trainer, *args, **kwargs)
        clock.decoded(sum(len(ids) for ids in completion_ids), clock.now() - start)
        return completion_ids, logprobs

    def training_step(original: Callable[..., Any], trainer: Any, model: Any, *args: Any) -> Any:
        if clock.parameters is None:
            weights = list(model.parameters())
            clock.parameters = (
                sum(p.numel() for p in weights),
                sum(p.numel() for p in weights if p.requires_grad),
            )
        with clock.phase("loss forward+backward"):
            return original(trainer, model, *args)

    undo: list[Callable[[], None]] = []
    _around(GRPOTrainer, "_generate", timed("generation"), undo)
    _around(GRPOTrainer, "_generate_single_turn", decode, undo)
    _around(GRPOTrainer, "_get_per_token_logps_and_entropies", log_probabilities, undo)
    _around(GRPOTrainer, "_calculate_rewards", timed("reward"), undo)
    _around(GRPOTrainer, "_prepare_inputs", timed("other"), undo)
    _around(GRPOTrainer, "training_step", training_step, undo)
    hooks = [
        register_optimizer_step_pre_hook(lambda *_: clock.enter("optimiser step")),
        register_optimizer_step_post_hook(lambda *_: (clock.exit(), clock.end_step())),
    ]
    try:
        yield
    finally:
        for restore in undo:
            restore()
        for hook in hooks:
            hook.remove()


def tokenizer_source(folder: Path) -> tuple[Path, Any]:
    """The tiny checkpoint and its processor: a locally trained tokenizer with Qwen's special
    tokens and chat template, in a Qwen2.5-VL processor."""
    from transformers import AutoProcessor

    from speciarl.policy.tiny import build_tiny_model

    tiny = build_tiny_model(folder)
    return tiny, AutoProcessor.from_pretrained(tiny)


def random_checkpoint(arch: str, tiny: Path, processor: Any, out: Path, device: str) -> str:
    """A randomly initialised ``arch`` built on ``device`` in bf16 and saved with ``processor``;
    the special-token ids come from the tiny checkpoint, whose tokenizer this is."""
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText, GenerationConfig

    from speciarl.policy.architectures import shipped_config

    config = shipped_config(arch)
    source = AutoConfig.from_pretrained(tiny)
    for key in TOKEN_FIELDS:
        setattr(config, key, getattr(source, key))
    for key in TEXT_TOKEN_FIELDS:
        setattr(config.text_config, key, getattr(source.text_config, key))
    vocab = config.text_config.vocab_size
    if len(processor.tokenizer) > vocab:
        raise SystemExit(f"tokenizer of {len(processor.tokenizer)} ids exceeds vocab {vocab}")
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.bfloat16)
    model.generation_config = GenerationConfig.from_pretrained(tiny)
    built = time.perf_counter()
    model.save_pretrained(out)
    processor.save_pretrained(out)
    saved = time.perf_counter()
    del model
    release_memory()
    return f"build {built - start:.1f} s, save {saved - built:.1f} s"


def recipe(folder: Path, model: Path, args: argparse.Namespace) -> Path:
    """A GRPO recipe with the paper's LoRA and optimiser (TrainConfig's defaults) at bench size."""
    content = {
        "name": f"gpu-scale-{model.name}",
        "model": str(model),
        "output_dir": str(folder / "run"),
        "data": {
            "dataset": "synthetic",
            "subset": args.images * args.steps,
            "min_pixels": pixels(args),
            "max_pixels": pixels(args),
        },
        "judge": {"hierarchy": "synthetic"},
        "optimizer": {
            "images_per_step": args.images,
            "num_generations": args.rollouts,
            "per_device_batch_size": args.micro_batch or args.rollouts,
            "max_completion_length": args.tokens,
            "overlong_buffer": args.tokens // 4,
            "max_steps": args.steps,
        },
        "report_to": [],
        "save_steps": args.steps + 1,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def pixels(args: argparse.Namespace) -> int:
    """The image budget, as both bounds: every image becomes about ``--image-size`` a side."""
    return args.image_size * args.image_size


def batch_line(arch: str, args: argparse.Namespace) -> str:
    """What one step holds, with the image tokens the budget gives a synthetic image."""
    from speciarl.data.synthetic import DEFAULT_CONFIG
    from speciarl.policy.image_budget import ImageBudget, image_tokens

    side = DEFAULT_CONFIG.image_size
    tokens = image_tokens(side, side, ImageBudget(pixels(args), pixels(args)))
    return (
        f"batch {arch}: {args.images} images x {args.rollouts} rollouts per step, {tokens} image "
        f"tokens per image, {args.tokens} completion tokens at most"
    )


def release_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def memory_line(arch: str) -> str:
    import torch

    if torch.cuda.is_available():
        allocated = torch.cuda.max_memory_allocated() / 2**30
        reserved = torch.cuda.max_memory_reserved() / 2**30
        return f"memory {arch}: peak {allocated:.2f} GiB allocated, {reserved:.2f} GiB reserved"
    resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return f"memory {arch}: peak {resident:.2f} GiB resident (CPU)"


def train_figures(arch: str, clock: PhaseClock) -> list[str]:
    """The step lines: mean over the steps after the first (which pays for warm-up) when there
    are any, else the one step."""
    measured = slice(1, None) if len(clock.steps) > 1 else slice(None)
    steps, seconds = clock.steps[measured], clock.step_seconds[measured]
    total, trainable = clock.parameters or (0, 0)
    lines = [
        f"parameters {arch}: {total:,} total, {trainable:,} trainable",
        f"step {arch}: {statistics.mean(seconds):.3f} s per step "
        f"(mean of {len(seconds)}; first step {clock.step_seconds[0]:.3f} s)",
    ]
    lines += [
        f"phase {arch} {name}: {statistics.mean(step.get(name, 0.0) for step in steps):.3f} s"
        for name in PHASES
    ]
    tokens = sum(count for count, _ in clock.decoding[measured])
    decoding = sum(seconds for _, seconds in clock.decoding[measured])
    lines.append(
        f"tokens {arch}: {tokens / decoding:.1f} generated tokens per second "
        f"({tokens} tokens in {decoding:.4f} s of generate over those steps)"
    )
    return lines


def plan_line(arch: str, config: Any, checkpoint: Path) -> str:
    """The memory plan's peak for this recipe and the saved model's shapes, on one GPU (what
    ``train --dry-run`` prints), to read beside the measured peak."""
    from speciarl.train.memory_plan import gpu_memory, model_source, plan_memory

    shapes = model_source(str(checkpoint)).config
    plan = plan_memory(config, shapes, world_size=1, setup="single", gpu_memory=gpu_memory(None)[0])
    return (
        f"plan {arch}: peak {plan.peak / 2**30:.2f} GiB allocated ({plan.peak_phase.name}; "
        f"resident {plan.resident_bytes / 2**30:.2f} GiB)"
    )


def predict_line(
    arch: str, folder: Path, checkpoint: Path, adapter: Path, args: argparse.Namespace
) -> str:
    """Prediction throughput of the trained adapter through the library's transformers backend."""
    from speciarl.data.prepare import select_samples
    from speciarl.evaluate.predict import (
        PREDICTION_FIELDS,
        GenerationSettings,
        TransformersBackend,
        predict,
    )
    from speciarl.evaluate.store import RecordStore
    from speciarl.policy.image_budget import ImageBudget

    samples = select_samples("synthetic", "test", subset=args.predict_images)
    start = time.perf_counter()
    budget = ImageBudget(pixels(args), pixels(args))
    backend = TransformersBackend(str(checkpoint), adapter=str(adapter), image_budget=budget)
    loaded = time.perf_counter()
    settings = GenerationSettings(max_new_tokens=args.tokens, batch_size=args.predict_batch)
    store = RecordStore(folder / "predictions.jsonl", PREDICTION_FIELDS)
    summary = predict(samples, backend, store, settings, model_name=arch)
    seconds = time.perf_counter() - loaded
    del backend
    release_memory()
    return (
        f"predict {arch}: {summary.written / seconds:.3f} images per second "
        f"({summary.written} images, greedy, {args.tokens} new tokens at most, batch "
        f"{args.predict_batch}; loading took {loaded - start:.1f} s)"
    )


def run_architecture(
    arch: str, tiny: Path, processor: Any, work: Path, args: argparse.Namespace
) -> None:
    import torch

    from speciarl.train.config import load_config
    from speciarl.train.grpo import train_grpo

    device = "cuda" if torch.cuda.is_available() else "cpu"
    folder = work / arch
    folder.mkdir()
    if arch == "tiny":
        checkpoint = tiny
        print(f"setup {arch}: tiny checkpoint", flush=True)
    else:
        checkpoint = folder / "model"
        built = random_checkpoint(arch, tiny, processor, checkpoint, device)
        print(f"setup {arch}: {built}", flush=True)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    config = load_config(recipe(folder, checkpoint, args))
    print(batch_line(arch, args))
    clock = PhaseClock(cuda=device == "cuda")
    start = time.perf_counter()
    with instrumented(clock):
        adapter = train_grpo(config)
    print(f"train {arch}: {time.perf_counter() - start:.1f} s in all (loading included)")
    for line in train_figures(arch, clock):
        print(line)
    print(memory_line(arch))
    print(plan_line(arch, config, checkpoint), flush=True)
    release_memory()
    print(predict_line(arch, folder, checkpoint, adapter, args), flush=True)
    shutil.rmtree(folder)  # the next size's weights need the disk (and page cache) more


def main() -> None:
    from speciarl.policy.architectures import SHIPPED_ARCHITECTURES

    # the tiny Qwen2.5-VL processor stands in for the real one, so only Qwen2.5-VL sizes fit it
    qwen25 = [name for name in SHIPPED_ARCHITECTURES if name.startswith("qwen2.5-vl")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arch",
        default=",".join(qwen25),
        help=f"comma-separated, from tiny, {', '.join(qwen25)}",
    )
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--steps", type=int, default=3, help="GRPO steps; the first is warm-up")
    parser.add_argument("--images", type=int, default=4, help="images per step")
    parser.add_argument("--rollouts", type=int, default=10, help="rollouts per image")
    parser.add_argument(
        "--micro-batch", type=int, default=0, help="completions per micro-batch (0: --rollouts)"
    )
    parser.add_argument("--tokens", type=int, default=256, help="completion tokens at most")
    parser.add_argument("--image-size", type=int, default=448, help="pixels a side, multiple of 28")
    parser.add_argument("--predict-images", type=int, default=32)
    parser.add_argument("--predict-batch", type=int, default=16)
    parser.add_argument("--workdir", type=Path, default=None, help="for the saved random models")
    args = parser.parse_args()
    archs = args.arch.split(",")
    unknown = set(archs) - {"tiny", *qwen25}
    if unknown:
        parser.error(f"unknown architecture(s): {', '.join(sorted(unknown))}")
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch initialises CUDA
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("no CUDA device; use --device cpu (with --arch tiny) for a smoke run")
    name = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"device: {name}, torch {torch.__version__}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        tiny, processor = tokenizer_source(Path(work) / "tokenizer-source")
        for arch in archs:
            run_architecture(arch, tiny, processor, Path(work), args)
    print(f"total: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
