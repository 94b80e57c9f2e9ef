"""``speciarl data ...``: list, fetch, build and look at benchmarks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import (
    HubIdOption,
    PolicyPromptOption,
    RootOption,
    SourceOption,
    bar,
    fail,
    or_fail,
)

if TYPE_CHECKING:
    from speciarl.data.sample import Sample

data_app = typer.Typer(help="Benchmarks: list, fetch, build and look at datasets.")
app.add_typer(data_app, name="data")


@data_app.command("list")
def data_list() -> None:
    """Every known dataset with its splits, result group and Hub copy."""
    from speciarl.data.registry import REGISTRY

    for spec in REGISTRY.values():
        group = spec.group or "-"
        hub = spec.hub_id or "-"
        typer.echo(
            f"{spec.name:<15} {spec.title:<42} splits={','.join(spec.splits):<22} "
            f"group={group:<18} hub={hub}"
        )


@data_app.command("coverage")
def data_coverage(
    dataset: Annotated[
        str | None,
        typer.Option(
            help="Report on this dataset's labels: a shipped name, a folder of class folders, "
            "a CSV/JSONL/Parquet file or hub:ID."
        ),
    ] = None,
    hierarchy: Annotated[
        str | None,
        typer.Option(
            help="With --dataset: the hierarchy file (YAML or JSON), or a shipped dataset's "
            "name for its hierarchy; by default the dataset's own shipped one."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """How many labels each shipped hierarchy covers; with --dataset, a report on one dataset's
    labels: missing ones (with near-miss spellings), those without a close parent, synonyms."""
    import json

    from speciarl.data.coverage_report import dataset_coverage, shipped_coverage, shipped_table

    if dataset is None:
        if hierarchy is not None:
            fail("--hierarchy needs --dataset: the dataset whose labels to look up in it")
        rows = shipped_coverage()
        typer.echo(json.dumps(rows, indent=2) if as_json else shipped_table(rows), nl=as_json)
        return
    try:
        report = dataset_coverage(dataset, hierarchy)
    except (ValueError, OSError) as error:
        fail(str(error))
    if as_json:
        typer.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        typer.echo(report.to_text(), nl=False)


@data_app.command("fetch")
def data_fetch(
    name: str,
    root: Annotated[Path, typer.Option(help="Folder to download and unpack into.")],
) -> None:
    """Download a dataset's official files, verify their checksums and unpack them."""
    from speciarl.data.archives import ArchiveError, fetch_all
    from speciarl.data.registry import get_dataset

    try:
        spec = get_dataset(name)
        if not spec.downloads:
            fail(f"{name}: nothing to download")
        fetch_all(spec.downloads, root, progress=_download_progress())
    except (ValueError, ArchiveError) as error:
        fail(str(error))
    typer.echo(f"{name}: files in {root}\nexpected layout:\n{spec.layout}")


DatasetArgument = Annotated[
    str,
    typer.Argument(
        metavar="DATASET",
        help="A shipped dataset, a path (ImageFolder folder, CSV/JSONL/Parquet file, built "
        "folder) or hub:ID, with ?key=value&... options.",
    ),
]


@data_app.command("build")
def data_build(
    name: Annotated[
        str,
        typer.Argument(
            metavar="DATASET",
            help="A shipped dataset, a path (ImageFolder folder, CSV/JSONL/Parquet file, built "
            "folder) or hub:ID, with ?key=value&... options; or 'mixed' with --part.",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Output folder (data.parquet + manifest.json).")],
    split: Annotated[str, typer.Option(help="Split to build.")] = "test",
    subset: Annotated[int | None, typer.Option(help="Keep a seeded subset of N samples.")] = None,
    balanced: Annotated[bool, typer.Option(help="Balance the subset across classes.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the subset.")] = 0,
    part: Annotated[
        list[str] | None,
        typer.Option(help="For 'mixed': DATASET:SPLIT:COUNT, repeatable."),
    ] = None,
    prompt: PolicyPromptOption = "general",
    layout: Annotated[str, typer.Option(help="trl (default) or verl (its RL dataset).")] = "trl",
    root: RootOption = None,
    source: SourceOption = "local",
    hub_id: HubIdOption = None,
) -> None:
    """Write a split (or a mixed set) as Parquet in TRL's conversational format, or verl's.

    DATASET is a dataset reference: a shipped name (speciarl data list); a path to a folder of
    ROOT/<split>/<class>/<image> or ROOT/<class>/<image> (split by seed into train, test and
    all), a CSV/JSONL/JSON manifest (an image path column, a label column, optionally a split
    column; paths relative to the file), a .parquet file, a folder this command built or a
    save_to_disk folder; or hub:ID, any Hugging Face dataset by id or local folder.

    Options follow '?', joined by '&': image=COL, label=COL, split=COL, name=NAME (the dataset
    name in sample ids), test_fraction=0.2 and seed=0 (the seeded split); e.g.
    'hub:someone/birds?label=fine_label' or './mydata?test_fraction=0.3' (quoted for the shell).
    """
    from speciarl.data.build import build_split
    from speciarl.data.prepare import PartRequest, select_mixture, select_samples
    from speciarl.data.registry import get_dataset
    from speciarl.prompts import load_prompt

    try:
        policy_prompt = load_prompt(prompt)
        if name == "mixed":
            parts = [PartRequest.parse(text) for text in part or []]
            samples = select_mixture(parts, root=root, source=source, seed=seed)
            metadata = {"dataset": "mixed", "parts": part, "seed": seed}
        else:
            spec = get_dataset(name)
            if spec.reference is not None:  # what was found, skipped files included
                typer.echo(f"{name}: {spec.layout}", err=True)
            samples = select_samples(
                spec,
                split,
                root=root,
                source=source,
                hub_id=hub_id,
                subset=subset,
                balanced=balanced,
                seed=seed,
            )
            metadata = {
                "dataset": spec.name,
                "reference": name,
                "split": split,
                "source": source,
                "subset": subset,
                "balanced": balanced,
                "seed": seed,
            }
    except ValueError as error:
        fail(str(error))
    report = or_fail(
        lambda: build_split(
            samples,
            out,
            policy_prompt,
            metadata=metadata,
            progress=bar(len(samples), "building"),
            layout=layout,
        )
    )
    typer.echo(f"wrote {report.written} samples to {out}", err=True)
    for failure in report.failures:
        typer.echo(f"unreadable: {failure['sample_id']}: {failure['error']}", err=True)
    if report.failures:
        typer.echo(
            f"{len(report.failures)} unreadable image(s), listed in the manifest",
            err=True,
        )


@data_app.command("show")
def data_show(
    name: DatasetArgument,
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    split: Annotated[str, typer.Option(help="Split to draw from.")] = "test",
    count: Annotated[int, typer.Option(help="How many samples to draw.")] = 24,
    seed: Annotated[int, typer.Option(help="Seed of the drawn samples.")] = 0,
    root: RootOption = None,
    source: SourceOption = "local",
    hub_id: HubIdOption = None,
) -> None:
    """Write a PNG grid of sample images with their labels (DATASET as for data build)."""
    from speciarl.data.grid import write_grid
    from speciarl.data.prepare import select_samples

    try:
        samples = select_samples(name, split, root=root, source=source, hub_id=hub_id)
        shown = _sample_of(samples, count, seed)
    except ValueError as error:
        fail(str(error))
    unreadable = write_grid(shown, out)
    typer.echo(f"wrote {len(shown)} samples to {out}", err=True)
    for sample_id in unreadable:
        typer.echo(f"unreadable: {sample_id}", err=True)


def _sample_of(samples: list[Sample], count: int, seed: int) -> list[Sample]:
    from speciarl.data.subsets import take_subset

    return take_subset(samples, min(count, len(samples)), seed=seed)


def _download_progress() -> Callable[[str, int, int | None], None]:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(name: str, done: int, total: int | None) -> None:
        bar = bars.setdefault(name, tqdm(total=total, desc=name, unit="B", unit_scale=True))
        bar.update(done - bar.n)

    return report
