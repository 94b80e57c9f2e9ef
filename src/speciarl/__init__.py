"""speciarl: teach vision-language models to name what they see as specifically as they can.

For a TRL script of your own, ``speciarl.speciarl_reward(...)`` builds only the reward
(:mod:`speciarl.reward_api`), and ``speciarl.MaskedGRPOTrainer`` is the ``GRPOTrainer`` that
masks the rollouts it leaves undecided. They load on first use: importing speciarl stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from speciarl.verdict import Verdict

if TYPE_CHECKING:
    from speciarl.reward_api import speciarl_reward
    from speciarl.train.masked_trainer import MaskedGRPOTrainer
    from speciarl.train.reward_fn import MissingColumnsError, SpeciaRLReward

_LAZY = {
    "speciarl_reward": "speciarl.reward_api",
    "SpeciaRLReward": "speciarl.train.reward_fn",
    "MissingColumnsError": "speciarl.train.reward_fn",
    "MaskedGRPOTrainer": "speciarl.train.masked_trainer",
}

__all__ = [
    "MaskedGRPOTrainer",
    "MissingColumnsError",
    "SpeciaRLReward",
    "Verdict",
    "speciarl_reward",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'speciarl' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
