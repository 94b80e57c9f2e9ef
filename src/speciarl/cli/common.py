"""What every command group shares: one-line errors, progress bars, options named once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

T = TypeVar("T")

RootOption = Annotated[
    Path | None,
    typer.Option(
        help="Dataset root of shipped datasets: the dataset's folder, or a folder holding all "
        "datasets (your own data is read from its reference)."
    ),
]
SourceOption = Annotated[
    str,
    typer.Option(help="Shipped datasets: local (official layout under --root) or hub."),
]
PolicyPromptOption = Annotated[str, typer.Option(help="Policy prompt name.")]
HubIdOption = Annotated[
    str | None,
    typer.Option(help="A shipped dataset's Hub copy (id or local folder), instead of the default."),
]
JudgeHierarchyOption = Annotated[
    str | None,
    typer.Option(
        "--hierarchy",
        help="The taxonomy judge's label hierarchy for every dataset: a YAML/JSON file or a "
        "shipped dataset's name; default: each shipped dataset's own (your own data has none).",
    ),
]


def fail(message: str) -> NoReturn:
    """Stop with a plain one-line error that names what was wrong."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def or_fail(action: Callable[[], T]) -> T:
    """Run ``action``; a ValueError becomes a one-line error and exit code 2."""
    try:
        return action()
    except ValueError as error:
        fail(str(error))


def stderr(message: str) -> None:
    typer.echo(message, err=True)


def bar(total: int | None, description: str, unit: str = "img") -> Callable[[int], object]:
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, leave=False).update
