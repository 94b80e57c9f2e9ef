"""What DAPO's dynamic sampling costs and keeps, step by step, in a short real training run.

Trains with ``optimizer.dynamic_sampling`` on the synthetic benchmark through the same
``train_grpo`` as ``speciarl train`` (DAPO preset, deterministic judges), then prints for each
step the groups generated, kept, dropped (no signal), the share dropped, the generation batches
used, the rollouts generated per rollout trained on, and the share of the step's time spent
generating and scoring (TRL's ``step_time`` includes it).

A freshly random tiny model fails the answer format on every rollout (reward -1 everywhere, so
every group would be dropped). The policy here is the demo's base instead: the tiny model with
its vision tower pre-trained and SFT on the synthetic benchmark at mixed hierarchy levels
(``speciarl demo`` stages 1-3, at ``--quick`` size by default), built once into
``OUT/base`` and reused; or any model given with ``--model`` (e.g. ``runs/demo/base/model``).

    .venv/bin/python bench/dynamic_sampling.py                  # build the base, 6 steps
    .venv/bin/python bench/dynamic_sampling.py --model runs/demo/base/model --steps 10
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from speciarl.demo import QUICK, build_base
from speciarl.train.config import load_config
from speciarl.train.grpo import train_grpo

PREFIX = "speciarl/dynamic_sampling/"


def recipe(out: Path, model: Path, args: argparse.Namespace) -> Path:
    content = {
        "name": "bench-dynamic-sampling",
        "model": str(model),
        "output_dir": str(out / "run"),
        "data": {"dataset": "synthetic", "subset": args.train_images},
        "judge": {"hierarchy": "synthetic"},
        "optimizer": {
            "preset": "dapo",
            "learning_rate": 1e-4,
            "images_per_step": args.images,
            "num_generations": args.rollouts,
            "per_device_batch_size": args.images * args.rollouts,
            "max_completion_length": args.tokens,
            "overlong_buffer": args.tokens // 4,
            "max_steps": args.steps,
            "dynamic_sampling": True,
            "generation_batch_size": args.generation_images,
            "max_generation_batches": args.max_batches,
        },
        "lora": None,
        "report_to": [],
        "save_steps": args.steps,
    }
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def step_rows(run: Path, rollouts: int) -> list[dict[str, float]]:
    """Per logged step: the dynamic-sampling counts and what they cost."""
    state_file = max(
        (run / "checkpoints").glob("checkpoint-*/trainer_state.json"),
        key=lambda path: int(path.parent.name.split("-")[1]),
    )
    rows = []
    for entry in json.loads(state_file.read_text())["log_history"]:
        if PREFIX + "groups_generated" not in entry:
            continue
        generated = entry[PREFIX + "groups_generated"]
        kept = entry[PREFIX + "groups_kept"]
        dropped = entry[PREFIX + "groups_dropped"]
        rows.append(
            {
                "step": entry["step"],
                "batches": entry[PREFIX + "generation_batches"],
                "generated": generated,
                "kept": kept,
                "dropped": dropped,
                "dropped_share": dropped / generated,
                "filler": entry[PREFIX + "groups_filler"],
                "generated_per_trained": generated / kept if kept else float("inf"),
                "generation_share": entry[PREFIX + "generate_and_score_s"] / entry["step_time"],
                "hm": entry["speciarl/hm"],
                "rollouts": generated * rollouts,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-dynamic-sampling"))
    parser.add_argument("--model", type=Path, help="a policy that answers in format")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--images", type=int, default=4, help="images per step")
    parser.add_argument("--generation-images", type=int, default=12, help="images per round")
    parser.add_argument("--max-batches", type=int, default=10)
    parser.add_argument("--rollouts", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=32, help="max completion length")
    parser.add_argument("--train-images", type=int, default=160)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.model or build_base(args.out, QUICK)
    train_grpo(load_config(recipe(args.out, model, args)), overwrite=True)
    rows = step_rows(args.out / "run", args.rollouts)
    print(
        f"\nDAPO + dynamic sampling, {model}: {args.images} images x {args.rollouts} rollouts per "
        f"step, generation batches of {args.generation_images} images, at most "
        f"{args.max_batches} per step"
    )
    print(
        "step  batches  generated  kept  dropped  dropped%  filler  "
        "generated/trained  generation%     hm"
    )
    for row in rows:
        print(
            f"{row['step']:>4}  {row['batches']:>7.0f}  {row['generated']:>9.0f}  "
            f"{row['kept']:>4.0f}  {row['dropped']:>7.0f}  {row['dropped_share']:>8.0%}  "
            f"{row['filler']:>6.0f}  {row['generated_per_trained']:>17.2f}  "
            f"{row['generation_share']:>11.0%}  {row['hm']:>5.3f}"
        )
    generated = sum(row["generated"] for row in rows)
    kept = sum(row["kept"] for row in rows)
    dropped = sum(row["dropped"] for row in rows)
    print(
        f"total: {generated:.0f} groups generated, {kept:.0f} trained on, {dropped:.0f} dropped "
        f"({dropped / generated:.0%}); {generated / max(kept, 1):.2f} rollouts generated per "
        "rollout trained on"
    )


if __name__ == "__main__":
    main()
