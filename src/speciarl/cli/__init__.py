"""The `speciarl` command: one module per command group, each only parsing options and calling
library functions (``speciarl.cli.<group>`` holds every command's implementation in one hop)."""

from speciarl.cli import (  # noqa: F401  (they register commands)
    data,
    demo,
    evaluate,
    hierarchy,
    judge,
    judge_eval,
    rollouts,
    train,
)
from speciarl.cli.app import app

__all__ = ["app"]
