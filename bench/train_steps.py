"""Seconds per GRPO step and peak memory of a short real training run, on the CPU or a GPU.

Builds a randomly initialised Qwen2.5-VL of the chosen size locally, then runs a few GRPO steps
on the synthetic benchmark with the cascade judge (lexical, cache, taxonomy), through the same
`train_grpo` as `speciarl train`. Prints the median step time (TRL's `step_time`) after the first
step, and the peak memory: resident set size on the CPU, allocated CUDA memory on a GPU.

    .venv/bin/python bench/train_steps.py                      # tiny model, CPU
    .venv/bin/python bench/train_steps.py --size medium --steps 6 --images 8   # the GPU check
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from speciarl.policy.tiny import SPECS, build_tiny_model
from speciarl.train.config import load_config
from speciarl.train.grpo import train_grpo


def recipe(folder: Path, model: Path, args: argparse.Namespace) -> Path:
    content = {
        "name": f"bench-{args.size}",
        "model": str(model),
        "output_dir": str(folder / "run"),
        "data": {"dataset": "synthetic", "subset": max(64, args.images * args.steps)},
        "judge": {"hierarchy": "synthetic"},
        "optimizer": {
            "preset": args.preset,
            "images_per_step": args.images,
            "num_generations": args.rollouts,
            "per_device_batch_size": args.images * args.rollouts,
            "max_completion_length": args.tokens,
            "overlong_buffer": args.tokens // 4,
            "max_steps": args.steps,
        },
        "lora": {"r": 16, "alpha": 32},
        "report_to": [],
        "save_steps": args.steps,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SPECS), default="tiny")
    parser.add_argument("--preset", default="grpo")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--rollouts", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=32)
    args = parser.parse_args()
    gpu = torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as folder:
        model = build_tiny_model(Path(folder) / "model", SPECS[args.size])
        parameters = sum(p.numel() for p in _load(model).parameters())
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        train_grpo(load_config(recipe(Path(folder), model, args)))
        wall = time.perf_counter() - start
        state = next((Path(folder) / "run" / "checkpoints").glob("checkpoint-*/trainer_state.json"))
        history = json.loads(state.read_text())["log_history"]
    times = [entry["step_time"] for entry in history if "step_time" in entry][1:]
    device = torch.cuda.get_device_name() if gpu else "CPU"
    print(f"{args.size} model, {parameters / 1e6:.2f} M parameters, on {device}, {args.preset}")
    print(
        f"{args.images} images x {args.rollouts} rollouts, {args.tokens} new tokens at most: "
        f"median {statistics.median(times):.3f} s per optimisation step (TRL step_time) over "
        f"{len(times)} steps after the first; the whole run took {wall:.1f} s "
        "(data, model loading, generation, judging, saving)"
    )
    if gpu:
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    print(
        f"peak resident memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"
    )


def _load(path: Path) -> torch.nn.Module:
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(path)


if __name__ == "__main__":
    main()
