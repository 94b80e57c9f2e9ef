"""Run by torchrun with two CPU processes (gloo): each holds half of a batch whose groups are
split between the processes; both must return exactly the single-process rewards for their
half. Arguments: output folder."""

import json
import sys
from pathlib import Path

import torch.distributed as dist

from speciarl.data.registry import get_dataset
from speciarl.judges.factory import build_judge
from speciarl.train.config import RewardSettings
from speciarl.train.reward_fn import SpeciaRLReward

ANSWERS = {  # (sample id, label) -> the 4 rollouts of that image
    ("a", "striped red circle"): ["striped red circle", "red circle", "circle", "blue square"],
    ("b", "plain blue square"): ["blue square", "square", "None", "square"],
    ("c", "dotted green star"): ["red circle", "blue star", "green square", "circle"],
}


def batch():
    rows = [(sid, label, answer) for (sid, label), answers in ANSWERS.items() for answer in answers]
    return [
        (sid, label, f"<think>looking</think><answer>{answer}</answer>")
        for sid, label, answer in rows
    ]


def rewards_for(rows, judge):
    reward = SpeciaRLReward(judge, RewardSettings(), num_generations=4, prompt_name="general")
    return reward(
        prompts=[None] * len(rows),
        completions=[[{"role": "assistant", "content": text}] for _, _, text in rows],
        label=[label for _, label, _ in rows],
        sample_id=[sid for sid, _, _ in rows],
    )


if __name__ == "__main__":
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    rows = batch()
    mine = rows[:5] if rank == 0 else rows[5:]  # group "b" is split 1 / 3 between the ranks
    local = rewards_for(mine, judge)
    dist.destroy_process_group()
    out = Path(sys.argv[1]) / f"rank{rank}.json"
    out.write_text(json.dumps(local))
