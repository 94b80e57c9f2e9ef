"""``python -m speciarl.cli``: how ``accelerate launch`` and ``torchrun`` start the command."""

from speciarl.cli import app

app()
