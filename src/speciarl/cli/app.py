"""The root ``speciarl`` command; each module of this package adds its group of subcommands."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Specificity-aware RL for fine-grained open-world classification.",
    no_args_is_help=True,
    add_completion=False,
)
