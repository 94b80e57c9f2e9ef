"""``speciarl hierarchy ...``: start a label hierarchy for your own labels."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import fail, stderr

hierarchy_app = typer.Typer(help="Label hierarchies: draft one for your own labels.")
app.add_typer(hierarchy_app, name="hierarchy")


@hierarchy_app.command("draft")
def hierarchy_draft(
    out: Annotated[Path, typer.Option(help="The YAML hierarchy file to write.")],
    labels: Annotated[
        Path | None,
        typer.Option(help="UTF-8 text file, one label a line; blank and # lines are skipped."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Take the labels from this dataset's class list: a shipped name, a folder of "
            "class folders, a CSV/JSONL/Parquet file or hub:ID."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(help="The hierarchy's name; by default the labels file's stem or dataset."),
    ] = None,
    closed_world: Annotated[
        bool,
        typer.Option(
            help="Judge an answer outside the hierarchy wrong; by default the LLM judge grades it."
        ),
    ] = False,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Write a draft hierarchy: labels ending in the same word (3+ letters) grouped under it.

    Only that certain structure is drafted; add broad roots and synonyms, and check each group,
    as the comment at the top of the file says.
    """
    from speciarl.data.registry import get_dataset
    from speciarl.judges.hierarchy_draft import (
        check_labels,
        draft_hierarchy,
        read_labels,
        write_draft,
    )

    if (labels is None) == (dataset is None):
        fail("give the labels with either --labels FILE or --dataset REF (not both)")
    try:
        if labels is not None:
            found = read_labels(labels)
            default_name = labels.stem
        else:
            spec = get_dataset(str(dataset))
            classes = [(f"class {c!r}", spec.clean_label(c)) for c in spec.class_ids()]
            check_labels(classes, spec.name)
            found, default_name = [label for _, label in classes], spec.name
        draft = draft_hierarchy(found, name=name or default_name, closed_world=closed_world)
        write_draft(draft, out, force=force)
    except (ValueError, OSError) as error:
        fail(str(error))
    stderr(f"wrote {out}: {draft.summary()}")
    stderr("next: check each group, add broad roots and synonyms (see the comment in the file)")
    subject = shlex.quote(dataset) if dataset is not None else "YOUR_DATASET"
    stderr(f"then: speciarl data coverage --dataset {subject} --hierarchy {shlex.quote(str(out))}")
