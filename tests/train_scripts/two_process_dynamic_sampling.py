"""Run by torchrun with two CPU processes (gloo): a few real GRPO steps with dynamic sampling.
Each process records the batch it hands TRL per step (rows, rows with loss tokens, its own and
the gathered loss-token count) in ``RUN/batches.rank<R>.json``. Arguments: recipe path."""

import json
import sys
from pathlib import Path

import torch.distributed as dist

from speciarl.atomic import atomic_write
from speciarl.train.config import load_config
from speciarl.train.dynamic_sampling import DynamicSamplingGRPOTrainer
from speciarl.train.grpo import train_grpo

recorded: list[dict] = []
generate_and_score = DynamicSamplingGRPOTrainer._generate_and_score_completions


def recording(self, inputs):  # type: ignore[no-untyped-def]
    batch = generate_and_score(self, inputs)
    mask = batch["completion_mask"]
    recorded.append(
        {
            "inputs": len(inputs),
            "rows": mask.size(0),
            "rows_with_loss": int((mask.sum(dim=1) > 0).sum()),
            "local_loss_tokens": int(mask.sum()),
            "num_items_in_batch": int(batch["num_items_in_batch"]),
        }
    )
    return batch


if __name__ == "__main__":
    DynamicSamplingGRPOTrainer._generate_and_score_completions = recording
    config = load_config(sys.argv[1])
    train_grpo(config)
    with atomic_write(Path(config.output_dir) / f"batches.rank{dist.get_rank()}.json") as stream:
        json.dump(recorded, stream)
    if dist.is_initialized():
        dist.destroy_process_group()
