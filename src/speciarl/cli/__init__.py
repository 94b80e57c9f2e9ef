"""The `speciarl` command: one module per command group, each only parsing options and calling
library functions (``speciarl.cli.<group>`` holds every command's implementation in one hop)."""

from speciarl.cli import data, demo, evaluate, judge, train  # noqa: F401  (they register commands)
from speciarl.cli.app import app

__all__ = ["app"]
