"""``speciarl judge``: grade (ground truth, prediction) pairs from a file."""

from __future__ import annotations

from collections.abc import Container, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from speciarl.cli.app import app
from speciarl.cli.common import bar, fail, stderr

if TYPE_CHECKING:
    from speciarl.answer import ParsedAnswer
    from speciarl.judges.base import Judgement
    from speciarl.judges.hierarchy import Hierarchy


class JudgeKind(StrEnum):
    lexical = "lexical"
    taxonomy = "taxonomy"
    llm = "llm"
    cascade = "cascade"


@app.command()
def judge(
    pairs: Annotated[
        Path,
        typer.Option(help="JSONL or CSV file with ground_truth and prediction fields."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            help="Output JSONL, one line per input pair, in order, written chunk by chunk; "
            "rerun with the same --pairs and --out to finish an interrupted run."
        ),
    ],
    judge_kind: Annotated[
        JudgeKind, typer.Option("--judge", help="Which judge grades the pairs.")
    ] = JudgeKind.cascade,
    hierarchy: Annotated[
        Path | None,
        typer.Option(help="Label hierarchy (YAML or JSON) for the taxonomy judge."),
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
    chunk_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Distinct pairs judged per call, their rows then written at once: what a "
            "crash loses at most.",
        ),
    ] = 256,
    extract_answer: Annotated[
        bool | None,
        typer.Option(
            "--extract-answer/--no-extract-answer",
            help="Read each prediction as a raw policy completion and judge only its "
            "<answer>, as training does; by default, on when any prediction holds "
            "<think>/<answer> tags.",
        ),
    ] = None,
) -> None:
    """Grade each prediction against its ground truth with one of the six verdicts.

    Rows are written as they are judged, in input order; a rerun with the same --pairs and --out
    keeps the rows already written and judges only the rest. OPENAI_API_KEY is used when set; a
    local server needs no key.
    """
    from speciarl.atomic import FileBusyError
    from speciarl.judges.cache import CacheUnavailableError
    from speciarl.judges.cached import CachedJudge
    from speciarl.judges.endpoint import check_judge_endpoint
    from speciarl.judges.factory import build_judge, judges_in, open_cache
    from speciarl.judges.llm import LLMJudge, LLMJudgeSettings
    from speciarl.judges.pairs_file import (
        PairsFileError,
        append_rows,
        exclusive_output,
        finished_rows,
        holds_raw_completions,
        judgement_rows,
        judgements_of,
        pairs_of,
        read_pair_records,
    )
    from speciarl.judges.summary import judging_summary
    from speciarl.rollouts import judge_rollouts

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
        if llm is not None:
            check_judge_endpoint(llm.endpoint, llm.model, api_key=llm.api_key)
    except (ValueError, CacheUnavailableError) as error:
        fail(str(error))
    if extract_answer is None and holds_raw_completions(records):
        stderr(
            "predictions hold <think>/<answer> tags: judging the extracted answers "
            "(--no-extract-answer judges the text as it is)"
        )
        extract_answer = True
    extracting = bool(extract_answer)
    try:
        with exclusive_output(out):
            done, torn = finished_rows(out, records, extracting=extracting)
            if torn:
                stderr(f"{out}: removed a cut-off last line; its pairs are judged again")
            if done:
                stderr(
                    f"{out}: keeping {len(done)} of {len(records)} rows already judged"
                    + ("" if len(done) == len(records) else "; judging the rest")
                )
            for member in judges_in(grader):
                if isinstance(member, LLMJudge) and len(done) < len(records):
                    member.progress = bar(None, "judging with the LLM", unit="pair")
            judgements, answers = judgements_of(done)
            # Each raw pair is judged once per run, whichever chunk it comes back in.
            known: dict[tuple[str, str], tuple[ParsedAnswer | None, Judgement]] = {
                _raw(record): (None if answers is None else answers[i], judgements[i])
                for i, record in enumerate(records[: len(done)])
            }
            if extracting and answers is None:
                answers = []
            for chunk in _chunks(records, len(done), chunk_size, known):
                todo = [record for record in chunk if _raw(record) not in known]
                if extracting:
                    judged = judge_rollouts(
                        [record["prediction"] for record in todo],
                        [record["ground_truth"] for record in todo],
                        grader,
                    )
                else:
                    judged = [(None, j) for j in grader.judge(pairs_of(todo))]
                fresh = iter(judged)
                done_now = [
                    known[_raw(record)] if _raw(record) in known else next(fresh)
                    for record in chunk
                ]
                for record, outcome in zip(chunk, done_now, strict=True):
                    known.setdefault(_raw(record), outcome)
                chunk_judgements = [judgement for _, judgement in done_now]
                chunk_answers = [answer for answer, _ in done_now] if extracting else None
                append_rows(out, judgement_rows(chunk, chunk_judgements, chunk_answers))
                judgements.extend(chunk_judgements)
                if answers is not None and chunk_answers is not None:
                    answers.extend(chunk_answers)
    except (PairsFileError, FileBusyError) as error:
        fail(str(error))
    finally:
        for member in judges_in(grader):
            if isinstance(member, CachedJudge):
                member.close()  # writes back what a cache outage left unwritten, if it can
    typer.echo(judging_summary(judgements, grader, answers), err=True)


def _raw(record: dict[str, Any]) -> tuple[str, str]:
    return record["ground_truth"], record["prediction"]


def _chunks(
    records: list[dict[str, Any]], start: int, size: int, known: Container[tuple[str, str]]
) -> Iterator[list[dict[str, Any]]]:
    """The records from ``start`` on, in runs holding ``size`` distinct pairs not ``known`` yet
    (the last may hold fewer); pairs seen before ride along without counting."""
    while start < len(records):
        end, fresh = start, set()
        while end < len(records):
            pair = _raw(records[end])
            if pair not in known and pair not in fresh:
                if len(fresh) == size:
                    break
                fresh.add(pair)
            end += 1
        yield records[start:end]
        start = end


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
