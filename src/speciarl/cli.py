"""The `speciarl` command. Each subcommand calls library functions and holds no logic."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from speciarl.data.sample import Sample
    from speciarl.judges.hierarchy import Hierarchy
    from speciarl.train.config import TrainConfig

T = TypeVar("T")

app = typer.Typer(
    help="Specificity-aware RL for fine-grained open-world classification.",
    no_args_is_help=True,
    add_completion=False,
)


class JudgeKind(StrEnum):
    lexical = "lexical"
    taxonomy = "taxonomy"
    llm = "llm"
    cascade = "cascade"


@app.command()
def judge(
    pairs: Annotated[
        Path, typer.Option(help="JSONL or CSV file with ground_truth and prediction fields.")
    ],
    out: Annotated[Path, typer.Option(help="Output JSONL, one line per input pair, in order.")],
    judge_kind: Annotated[
        JudgeKind, typer.Option("--judge", help="Which judge grades the pairs.")
    ] = JudgeKind.cascade,
    hierarchy: Annotated[
        Path | None, typer.Option(help="Label hierarchy (YAML or JSON) for the taxonomy judge.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="Use this dataset's shipped label hierarchy.")
    ] = None,
    root: Annotated[
        Path | None,
        typer.Option(help="With --dataset: build the hierarchy from the dataset's own files."),
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="SQLite verdict cache file, shared across runs.")
    ] = None,
    redis: Annotated[
        str | None,
        typer.Option(help="Redis URL of a verdict cache shared by many processes and nodes."),
    ] = None,
    endpoint: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-style base URL of the judge model, e.g. http://localhost:8000/v1"
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Judge model id as the server names it.")
    ] = None,
    prompt: Annotated[str, typer.Option(help="Judge prompt name.")] = "base",
    concurrency: Annotated[int, typer.Option(help="LLM requests in flight at most.")] = 64,
    batch_size: Annotated[int, typer.Option(help="Pairs per LLM request (1 = paper).")] = 1,
    output_mode: Annotated[
        str, typer.Option(help="auto, structured, guided, json_schema or text.")
    ] = "auto",
    timeout: Annotated[float, typer.Option(help="Seconds per LLM request.")] = 60.0,
    max_retries: Annotated[int, typer.Option(help="Retries of a failed LLM request.")] = 4,
) -> None:
    """Grade each prediction against its ground truth with one of the six verdicts.

    OPENAI_API_KEY is used when set; a local server needs no key.
    """
    from speciarl.judges.cache import CacheUnavailableError
    from speciarl.judges.factory import build_judge, judges_in, open_cache
    from speciarl.judges.llm import LLMJudge, LLMJudgeSettings
    from speciarl.judges.pairs_file import pairs_of, read_pair_records, write_judgements
    from speciarl.judges.summary import judging_summary

    try:
        records = read_pair_records(pairs)
        loaded = _hierarchy_for(hierarchy, dataset, root)
        llm = None
        if endpoint is not None or model is not None:
            if endpoint is None or model is None:
                raise ValueError("the LLM judge needs both --endpoint and --model")
            llm = LLMJudgeSettings(
                endpoint=endpoint,
                model=model,
                prompt=prompt,
                concurrency=concurrency,
                batch_size=batch_size,
                output=output_mode,
                timeout_s=timeout,
                max_retries=max_retries,
            )
        grader = build_judge(
            judge_kind.value, hierarchy=loaded, llm=llm, cache=open_cache(cache, redis)
        )
    except (ValueError, CacheUnavailableError) as error:
        _fail(str(error))
    for member in judges_in(grader):
        if isinstance(member, LLMJudge):
            member.progress = _bar(None, "judging with the LLM", unit="pair")
    judgements = grader.judge(pairs_of(records))
    write_judgements(out, records, judgements)
    typer.echo(judging_summary(judgements, grader), err=True)


def _hierarchy_for(path: Path | None, dataset: str | None, root: Path | None) -> Hierarchy | None:
    """The hierarchy from ``--hierarchy`` or ``--dataset`` (not both)."""
    from speciarl.data.registry import get_dataset
    from speciarl.judges.hierarchy import Hierarchy

    if path is not None and dataset is not None:
        raise ValueError("give --hierarchy or --dataset, not both")
    if path is not None:
        return Hierarchy.load(path)
    if dataset is not None:
        return get_dataset(dataset).hierarchy(root)
    return None


def _fail(message: str) -> NoReturn:
    """Stop with a plain one-line error that names what was wrong."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


@app.command()
def demo(
    quick: Annotated[bool, typer.Option(help="The few-minute version (as CI runs it).")] = False,
    out: Annotated[Path, typer.Option(help="Run folder (resumes if it exists).")] = Path(
        "runs/demo"
    ),
) -> None:
    """The paper in miniature on the CPU: pre-train, RFT vs SpeciaRL, evaluate, tabulate."""
    from speciarl.demo import QUICK, DemoError, DemoSettings, run_demo

    settings = QUICK if quick else DemoSettings()
    try:
        with contextlib.redirect_stdout(sys.stderr):  # trainers log to stdout; it has the table
            table = run_demo(out, settings, echo=_stderr)
    except DemoError as error:
        _fail(str(error))
    typer.echo(table, nl=False)
    typer.echo(f"table, reports and plots in {out}", err=True)


@app.command()
def selfcheck() -> None:
    """Judge the paper's examples and reward one group; fails if anything disagrees."""
    from speciarl.selfcheck import run_selfcheck

    result = run_selfcheck()
    typer.echo("\n".join(result.lines))
    if result.failures:
        typer.echo(f"{result.failures} check(s) failed", err=True)
        raise typer.Exit(code=1)
    typer.echo("self-check passed")


data_app = typer.Typer(help="Benchmarks: list, fetch, build and look at datasets.")
app.add_typer(data_app, name="data")

RootOption = Annotated[
    Path | None,
    typer.Option(help="Dataset root: the dataset's folder, or a folder holding all datasets."),
]
SourceOption = Annotated[str, typer.Option(help="local (official layout under --root) or hub.")]
PolicyPromptOption = Annotated[str, typer.Option(help="Policy prompt name.")]
HubIdOption = Annotated[
    str | None, typer.Option(help="Hub dataset id or local copy, instead of the default.")
]


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
def data_coverage() -> None:
    """How many labels each shipped hierarchy covers, and with how many synonyms."""
    from speciarl.data.coverage import hierarchy_coverage
    from speciarl.data.registry import REGISTRY

    typer.echo(f"{'dataset':<15} {'labels':>6} {'in tree':>7} {'full':>5} {'synonyms':>8}")
    for spec in REGISTRY.values():
        try:
            found = hierarchy_coverage(spec)
        except ValueError as error:
            typer.echo(f"{spec.name:<15} {error}")
            continue
        typer.echo(
            f"{found.dataset:<15} {found.labels:>6} {found.resolved:>7} {found.full:>5} "
            f"{found.synonyms:>8}"
        )


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
            _fail(f"{name}: nothing to download")
        fetch_all(spec.downloads, root, progress=_download_progress())
    except (ValueError, ArchiveError) as error:
        _fail(str(error))
    typer.echo(f"{name}: files in {root}\nexpected layout:\n{spec.layout}")


@data_app.command("build")
def data_build(
    name: Annotated[str, typer.Argument(help="Dataset name, or 'mixed' with --part.")],
    out: Annotated[Path, typer.Option(help="Output folder (data.parquet + manifest.json).")],
    split: Annotated[str, typer.Option(help="Split to build.")] = "test",
    subset: Annotated[int | None, typer.Option(help="Keep a seeded subset of N samples.")] = None,
    balanced: Annotated[bool, typer.Option(help="Balance the subset across classes.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the subset.")] = 0,
    part: Annotated[
        list[str] | None, typer.Option(help="For 'mixed': NAME:SPLIT:COUNT, repeatable.")
    ] = None,
    prompt: PolicyPromptOption = "general",
    layout: Annotated[str, typer.Option(help="trl (default) or verl (its RL dataset).")] = "trl",
    root: RootOption = None,
    source: SourceOption = "local",
    hub_id: HubIdOption = None,
) -> None:
    """Write a split (or a mixed set) as Parquet in TRL's conversational format, or verl's."""
    from speciarl.data.build import build_split
    from speciarl.data.prepare import PartRequest, select_mixture, select_samples
    from speciarl.prompts import load_prompt

    try:
        policy_prompt = load_prompt(prompt)
        if name == "mixed":
            parts = [PartRequest.parse(text) for text in part or []]
            samples = select_mixture(parts, root=root, source=source, seed=seed)
            metadata = {"dataset": "mixed", "parts": part, "seed": seed}
        else:
            samples = select_samples(
                name,
                split,
                root=root,
                source=source,
                hub_id=hub_id,
                subset=subset,
                balanced=balanced,
                seed=seed,
            )
            metadata = {
                "dataset": name,
                "split": split,
                "source": source,
                "subset": subset,
                "balanced": balanced,
                "seed": seed,
            }
    except ValueError as error:
        _fail(str(error))
    report = _or_fail(
        lambda: build_split(
            samples,
            out,
            policy_prompt,
            metadata=metadata,
            progress=_bar(len(samples), "building"),
            layout=layout,
        )
    )
    typer.echo(f"wrote {report.written} samples to {out}", err=True)
    for failure in report.failures:
        typer.echo(f"unreadable: {failure['sample_id']}: {failure['error']}", err=True)
    if report.failures:
        typer.echo(f"{len(report.failures)} unreadable image(s), listed in the manifest", err=True)


@data_app.command("show")
def data_show(
    name: str,
    out: Annotated[Path, typer.Option(help="PNG file to write.")],
    split: Annotated[str, typer.Option(help="Split to draw from.")] = "test",
    count: Annotated[int, typer.Option(help="How many samples to draw.")] = 24,
    seed: Annotated[int, typer.Option(help="Seed of the drawn samples.")] = 0,
    root: RootOption = None,
    source: SourceOption = "local",
    hub_id: HubIdOption = None,
) -> None:
    """Write a PNG grid of sample images with their labels."""
    from speciarl.data.grid import write_grid
    from speciarl.data.prepare import select_samples

    try:
        samples = select_samples(name, split, root=root, source=source, hub_id=hub_id)
        shown = _sample_of(samples, count, seed)
    except ValueError as error:
        _fail(str(error))
    unreadable = write_grid(shown, out)
    typer.echo(f"wrote {len(shown)} samples to {out}", err=True)
    for sample_id in unreadable:
        typer.echo(f"unreadable: {sample_id}", err=True)


def _sample_of(samples: list[Sample], count: int, seed: int) -> list[Sample]:
    from speciarl.data.subsets import take_subset

    return take_subset(samples, min(count, len(samples)), seed=seed)


def _bar(total: int | None, description: str, unit: str = "img") -> Callable[[int], object]:
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit=unit, leave=False).update


def _download_progress() -> Callable[[str, int, int | None], None]:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(name: str, done: int, total: int | None) -> None:
        bar = bars.setdefault(name, tqdm(total=total, desc=name, unit="B", unit_scale=True))
        bar.update(done - bar.n)

    return report


OutOption = Annotated[Path, typer.Option("--out", help="Evaluation folder.")]
PolicyOption = Annotated[str, typer.Option(help="Checkpoint folder or Hub id of the policy.")]
DatasetsOption = Annotated[str, typer.Option(help="Comma-separated dataset names.")]
AdapterOption = Annotated[str | None, typer.Option(help="LoRA adapter folder.")]
ImageSubsetOption = Annotated[int | None, typer.Option(help="A seeded subset of N images.")]
BackendOption = Annotated[str, typer.Option(help="transformers or vllm.")]
PredictionsOption = Annotated[int, typer.Option(help="Predictions per image.")]
TemperatureOption = Annotated[float, typer.Option(help="0 = greedy.")]
TopPOption = Annotated[float, typer.Option(help="Nucleus sampling mass.")]
MaxNewTokensOption = Annotated[int, typer.Option(help="Tokens per prediction.")]
GenerationBatchOption = Annotated[int, typer.Option(help="Images per generation batch.")]
RunSeedOption = Annotated[int, typer.Option(help="Run seed (each image's seed derives from it).")]
JudgeModelOption = Annotated[str | None, typer.Option(help="Judge model id.")]
JudgePromptOption = Annotated[str, typer.Option(help="Judge prompt name.")]
JudgeEndpointOption = Annotated[
    str | None, typer.Option(help="Judge model's OpenAI-style base URL.")
]
SqliteCacheOption = Annotated[Path | None, typer.Option(help="SQLite verdict cache file.")]
RedisCacheOption = Annotated[str | None, typer.Option(help="Redis URL of a shared verdict cache.")]
ModelNameOption = Annotated[str | None, typer.Option(help="Model name in tables and plots.")]
EmbeddingOption = Annotated[
    str | None, typer.Option(help="Sentence-embedding model for semantic similarity.")
]
InclusionEndpointOption = Annotated[
    str | None, typer.Option(help="OpenAI-style URL of the LLM for LLM inclusion.")
]
InclusionModelOption = Annotated[str | None, typer.Option(help="Model id for LLM inclusion.")]
RepairOption = Annotated[
    bool, typer.Option(help="Move corrupt lines of the stores aside and redo those items.")
]


@app.command("predict")
def predict_command(
    model: PolicyOption,
    datasets: DatasetsOption,
    out: OutOption,
    adapter: AdapterOption = None,
    split: Annotated[str, typer.Option(help="Split to predict on.")] = "test",
    subset: ImageSubsetOption = None,
    root: RootOption = None,
    source: SourceOption = "local",
    backend: BackendOption = "transformers",
    n: PredictionsOption = 1,
    temperature: TemperatureOption = 0.0,
    top_p: TopPOption = 1.0,
    max_new_tokens: MaxNewTokensOption = 256,
    batch_size: GenerationBatchOption = 8,
    seed: RunSeedOption = 0,
    prompt: PolicyPromptOption = "general",
    repair: RepairOption = False,
) -> None:
    """Run a policy over dataset splits; restartable, one JSONL record per prediction."""
    from speciarl.evaluate.pipeline import EvalPlan, run_predictions

    plan = _or_fail(
        lambda: EvalPlan.create(
            model=model,
            adapter=adapter,
            datasets=datasets,
            split=split,
            subset=subset,
            root=root,
            source=source,
            backend=backend,
            n=n,
            temperature=temperature,
            top_p=top_p,
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            seed=seed,
            prompt=prompt,
        )
    )
    _or_fail(lambda: run_predictions(plan, out, repair=repair, echo=_stderr))


@app.command("verify")
def verify_command(
    out: OutOption,
    endpoint: JudgeEndpointOption = None,
    judge_model: JudgeModelOption = None,
    judge_prompt: JudgePromptOption = "base",
    cache: SqliteCacheOption = None,
    redis: RedisCacheOption = None,
    repair: RepairOption = False,
) -> None:
    """Judge the stored predictions with the cascade; undecided ones are retried next time."""
    from speciarl.evaluate.pipeline import run_verification

    _or_fail(
        lambda: run_verification(
            out,
            endpoint=endpoint,
            judge_model=judge_model,
            judge_prompt=judge_prompt,
            cache=cache,
            redis=redis,
            repair=repair,
            echo=_stderr,
        )
    )


@app.command("report")
def report_command(
    out: OutOption,
    name: ModelNameOption = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    embedding_model: EmbeddingOption = None,
    inclusion_endpoint: InclusionEndpointOption = None,
    inclusion_model: InclusionModelOption = None,
) -> None:
    """Write report.json, report.md and the plots of an evaluation folder."""
    from speciarl.evaluate.pipeline import run_report

    typer.echo(
        _or_fail(
            lambda: run_report(
                out,
                name=name,
                resamples=resamples,
                embedding_model=embedding_model,
                inclusion_endpoint=inclusion_endpoint,
                inclusion_model=inclusion_model,
            )
        )
    )


@app.command("compare")
def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Evaluation folders or report.json files.")],
) -> None:
    """Print the paper-style table across methods."""
    from speciarl.evaluate.pipeline import compare_runs

    typer.echo(_or_fail(lambda: compare_runs(runs)))


@app.command("eval")
def eval_command(
    model: PolicyOption,
    datasets: DatasetsOption,
    out: OutOption,
    adapter: AdapterOption = None,
    split: Annotated[str, typer.Option(help="Split to evaluate.")] = "test",
    subset: ImageSubsetOption = None,
    root: RootOption = None,
    source: SourceOption = "local",
    backend: BackendOption = "transformers",
    n: PredictionsOption = 1,
    temperature: TemperatureOption = 0.0,
    top_p: TopPOption = 1.0,
    max_new_tokens: MaxNewTokensOption = 256,
    batch_size: GenerationBatchOption = 8,
    seed: RunSeedOption = 0,
    prompt: PolicyPromptOption = "general",
    endpoint: JudgeEndpointOption = None,
    judge_model: JudgeModelOption = None,
    judge_prompt: JudgePromptOption = "base",
    cache: SqliteCacheOption = None,
    redis: RedisCacheOption = None,
    name: ModelNameOption = None,
    embedding_model: EmbeddingOption = None,
    inclusion_endpoint: InclusionEndpointOption = None,
    inclusion_model: InclusionModelOption = None,
    repair: RepairOption = False,
) -> None:
    """predict + verify + report over several datasets in one command (restartable)."""
    predict_command(
        model=model,
        datasets=datasets,
        out=out,
        adapter=adapter,
        split=split,
        subset=subset,
        root=root,
        source=source,
        backend=backend,
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        seed=seed,
        prompt=prompt,
        repair=repair,
    )
    verify_command(
        out=out,
        endpoint=endpoint,
        judge_model=judge_model,
        judge_prompt=judge_prompt,
        cache=cache,
        redis=redis,
        repair=repair,
    )
    report_command(
        out=out,
        name=name,
        resamples=1000,
        embedding_model=embedding_model,
        inclusion_endpoint=inclusion_endpoint,
        inclusion_model=inclusion_model,
    )


def _stderr(message: str) -> None:
    typer.echo(message, err=True)


ConfigArgument = Annotated[Path, typer.Option("--config", help="Recipe YAML (see configs/).")]
OverridesArgument = Annotated[
    list[str] | None, typer.Argument(help="Recipe overrides such as optimizer.preset=dapo.")
]


@app.command()
def train(
    config: ConfigArgument,
    overrides: OverridesArgument = None,
    dry_run: Annotated[bool, typer.Option(help="Check the recipe and print the plan.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = False,
) -> None:
    """Train a policy with GRPO (or Dr.GRPO, DAPO) and the SpeciaRL reward, through TRL."""
    from speciarl.train.grpo import check_recipe, train_grpo

    recipe = _recipe(config, overrides)
    if dry_run:
        typer.echo(_or_fail(lambda: check_recipe(recipe)))
        return
    typer.echo(f"saved to {train_grpo(recipe, resume=resume)}")


@app.command()
def sft(
    config: ConfigArgument,
    overrides: OverridesArgument = None,
    dry_run: Annotated[bool, typer.Option(help="Check the recipe and print the plan.")] = False,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint.")] = False,
) -> None:
    """The SFT baseline: fine-tune on ground-truth labels in the answer format."""
    from speciarl.train.sft import check_sft_recipe, train_sft

    recipe = _recipe(config, overrides)
    if dry_run:
        typer.echo(_or_fail(lambda: check_sft_recipe(recipe)))
        return
    typer.echo(f"saved to {train_sft(recipe, resume=resume)}")


@app.command("tiny-model")
def tiny_model(
    out: Annotated[Path, typer.Option(help="Folder for the checkpoint.")],
    size: Annotated[str, typer.Option(help="tiny (0.4 M parameters) or small (4 M).")] = "tiny",
) -> None:
    """Build a randomly initialised Qwen2.5-VL with a locally trained tokenizer; no download."""
    from speciarl.policy.tiny import SPECS, build_tiny_model

    if size not in SPECS:
        _fail(f"unknown size {size!r}; choose one of {', '.join(SPECS)}")
    typer.echo(f"tiny model written to {build_tiny_model(out, SPECS[size])}")


def _recipe(path: Path, overrides: list[str] | None) -> TrainConfig:
    from speciarl.train.config import load_config

    return _or_fail(lambda: load_config(path, overrides or []))


def _or_fail(action: Callable[[], T]) -> T:
    """Run ``action``; a ValueError becomes a one-line error and exit code 2."""
    try:
        return action()
    except ValueError as error:
        _fail(str(error))


if __name__ == "__main__":
    app()
