"""Run by torchrun with two CPU processes (gloo): a few real GRPO steps whose groups are split
between the processes, to prove the reward sees whole groups. Arguments: recipe path."""

import sys

import torch.distributed as dist

from speciarl.train.config import load_config
from speciarl.train.grpo import train_grpo

if __name__ == "__main__":
    train_grpo(load_config(sys.argv[1]))
    if dist.is_initialized():
        dist.destroy_process_group()
