"""``speciarl predict / verify / report / compare / eval``: evaluation over an output folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from speciarl.cli.app import app
from speciarl.cli.common import (
    JudgeHierarchyOption,
    PolicyPromptOption,
    RootOption,
    SourceOption,
    or_fail,
    stderr,
)
from speciarl.evaluate.predict import GenerationSettings
from speciarl.policy.image_budget import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS

OutOption = Annotated[Path, typer.Option("--out", help="Evaluation folder.")]
PolicyOption = Annotated[str, typer.Option(help="Checkpoint folder or Hub id of the policy.")]
DatasetsOption = Annotated[
    str,
    typer.Option(
        help="Comma-separated datasets: shipped names, paths (ImageFolder folder, CSV/JSONL/"
        "Parquet file, built folder) or hub:ID, as for `speciarl data build`; a reference with "
        "a comma in it is not supported here."
    ),
]
AdapterOption = Annotated[str | None, typer.Option(help="LoRA adapter folder.")]
ImageSubsetOption = Annotated[int | None, typer.Option(help="A seeded subset of N images.")]
BackendOption = Annotated[str, typer.Option(help="transformers or vllm.")]
PredictionsOption = Annotated[int, typer.Option(help="Predictions per image.")]
TemperatureOption = Annotated[float, typer.Option(help="0 = greedy.")]
TopPOption = Annotated[float, typer.Option(help="Nucleus sampling mass.")]
MaxNewTokensOption = Annotated[
    int,
    typer.Option(
        help="Tokens per prediction at most; one cut off before its answer is a truncation."
    ),
]
MinPixelsOption = Annotated[
    int, typer.Option(help="Smaller images are enlarged to this many pixels (28 x 28 per token).")
]
MaxPixelsOption = Annotated[
    int, typer.Option(help="Larger images are shrunk to this many pixels (28 x 28 per token).")
]
GenerationBatchOption = Annotated[int, typer.Option(help="Images per generation batch.")]
RunSeedOption = Annotated[int, typer.Option(help="Run seed (each image's seed derives from it).")]
JudgeModelOption = Annotated[str | None, typer.Option(help="Judge model id.")]
JudgePromptOption = Annotated[
    str | None, typer.Option(help="The LLM judge's prompt name (default: base).")
]
JudgeSetupOption = Annotated[
    str | None,
    typer.Option(help="Judge set-up to report (id or prefix, see report.md); default: latest."),
]
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
    bool,
    typer.Option(help="Move corrupt lines of the stores aside and redo those items."),
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
    max_new_tokens: MaxNewTokensOption = GenerationSettings.max_new_tokens,
    min_pixels: MinPixelsOption = DEFAULT_MIN_PIXELS,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    batch_size: GenerationBatchOption = 8,
    seed: RunSeedOption = 0,
    prompt: PolicyPromptOption = "general",
    repair: RepairOption = False,
) -> None:
    """Run a policy over dataset splits; restartable, one JSONL record per prediction."""
    from speciarl.evaluate.pipeline import EvalPlan, run_predictions

    plan = or_fail(
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
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            batch_size=batch_size,
            seed=seed,
            prompt=prompt,
        )
    )
    samples = or_fail(plan.check)
    or_fail(lambda: run_predictions(plan, out, samples=samples, repair=repair, echo=stderr))


@app.command("verify")
def verify_command(
    out: OutOption,
    endpoint: JudgeEndpointOption = None,
    judge_model: JudgeModelOption = None,
    judge_prompt: JudgePromptOption = None,
    cache: SqliteCacheOption = None,
    redis: RedisCacheOption = None,
    hierarchy: JudgeHierarchyOption = None,
    repair: RepairOption = False,
) -> None:
    """Judge the stored predictions with the cascade; undecided ones are retried next time.

    Each judge set-up (no LLM, or an LLM model and prompt) keeps its own verdicts, so one
    folder's predictions can be judged several ways; `report` shows the latest set-up.
    """
    from speciarl.evaluate.pipeline import Judging, run_verification

    judging = or_fail(
        lambda: Judging(
            endpoint=endpoint,
            judge_model=judge_model,
            judge_prompt=judge_prompt,
            cache=cache,
            redis=redis,
            hierarchy=hierarchy,
        )
    )
    or_fail(lambda: run_verification(out, judging, repair=repair, echo=stderr))


@app.command("report")
def report_command(
    out: OutOption,
    name: ModelNameOption = None,
    judge: JudgeSetupOption = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    embedding_model: EmbeddingOption = None,
    inclusion_endpoint: InclusionEndpointOption = None,
    inclusion_model: InclusionModelOption = None,
    root: RootOption = None,
) -> None:
    """Write report.json, report.md, the plots and report.html of an evaluation folder."""
    from speciarl.evaluate.pipeline import run_report, text_scorers

    scorers = or_fail(lambda: text_scorers(embedding_model, inclusion_endpoint, inclusion_model))
    typer.echo(
        or_fail(
            lambda: run_report(
                out,
                name=name,
                judge=judge,
                resamples=resamples,
                text_scorers=scorers,
                image_root=root,
            )
        )
    )


@app.command("compare")
def compare_command(
    runs: Annotated[list[Path], typer.Argument(help="Evaluation folders or report.json files.")],
    allow_mixed: Annotated[
        bool,
        typer.Option(help="Put runs on different images in one table (marked, no best value)."),
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            help="Two runs: write this page of their answers side by side and the verdict "
            "transitions from the first run to the second."
        ),
    ] = None,
    figure: Annotated[
        Path | None,
        typer.Option(help="Two runs: write a PNG of a few images with both runs' answers."),
    ] = None,
    examples: Annotated[
        str | None,
        typer.Option(help="Comma-separated sample ids for --figure (default: chosen for you)."),
    ] = None,
    root: RootOption = None,
) -> None:
    """Print the paper-style table across methods (runs on the same images only); with two
    evaluation folders, also the page and the figure of their answers side by side."""
    from speciarl.evaluate.html.compare_figure import parse_examples, write_compare_figure
    from speciarl.evaluate.html.compare_page import side_by_side_runs, write_compare_html
    from speciarl.evaluate.pipeline import compare_runs

    chosen = parse_examples(examples)
    pair = or_fail(lambda: side_by_side_runs(runs, html=html, figure=figure, examples=chosen))
    typer.echo(or_fail(lambda: compare_runs(runs, allow_mixed=allow_mixed)))
    if pair is None:
        return
    if html is not None:
        stderr(f"wrote {or_fail(lambda: write_compare_html(*pair, html, root=root))}")
    if figure is not None:
        shown = or_fail(lambda: write_compare_figure(*pair, figure, examples=chosen, root=root))
        stderr(f"wrote {figure} ({', '.join(shown)})")


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
    max_new_tokens: MaxNewTokensOption = GenerationSettings.max_new_tokens,
    min_pixels: MinPixelsOption = DEFAULT_MIN_PIXELS,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    batch_size: GenerationBatchOption = 8,
    seed: RunSeedOption = 0,
    prompt: PolicyPromptOption = "general",
    endpoint: JudgeEndpointOption = None,
    judge_model: JudgeModelOption = None,
    judge_prompt: JudgePromptOption = None,
    cache: SqliteCacheOption = None,
    redis: RedisCacheOption = None,
    hierarchy: JudgeHierarchyOption = None,
    name: ModelNameOption = None,
    embedding_model: EmbeddingOption = None,
    inclusion_endpoint: InclusionEndpointOption = None,
    inclusion_model: InclusionModelOption = None,
    repair: RepairOption = False,
) -> None:
    """predict + verify + report over several datasets in one command (restartable).

    Every option is checked before the first prediction: datasets and their files, backend,
    model, judge hierarchy, endpoint and model, text-metric options. Labels missing from the
    judge's hierarchy are warned of then, not after predicting.
    """
    from speciarl.evaluate.pipeline import (
        EvalPlan,
        Judging,
        check_text_metrics,
        run_predictions,
        run_report,
        run_verification,
        text_scorers,
    )

    plan = or_fail(
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
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            batch_size=batch_size,
            seed=seed,
            prompt=prompt,
        )
    )
    judging = or_fail(
        lambda: Judging(
            endpoint=endpoint,
            judge_model=judge_model,
            judge_prompt=judge_prompt,
            cache=cache,
            redis=redis,
            hierarchy=hierarchy,
        )
    )
    samples = or_fail(plan.check)
    or_fail(judging.check)
    or_fail(lambda: check_text_metrics(embedding_model, inclusion_endpoint, inclusion_model))
    for dataset, chosen in samples.items():  # before hours of predicting, not after
        judging.warn(dataset, (sample.label for sample in chosen), stderr)

    or_fail(lambda: run_predictions(plan, out, samples=samples, repair=repair, echo=stderr))
    or_fail(lambda: run_verification(out, judging, repair=repair, echo=stderr))
    scorers = or_fail(lambda: text_scorers(embedding_model, inclusion_endpoint, inclusion_model))
    typer.echo(or_fail(lambda: run_report(out, name=name, text_scorers=scorers, samples=samples)))
