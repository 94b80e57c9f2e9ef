"""Judges measured against labelled answers, or against a reference judge: ``speciarl judge-eval``.

A training reward is only as good as its judge, and a judge is only known by checking it against
verdicts one trusts. Each set-up (a :class:`~speciarl.judges.judge_spec.JudgeSpec`) judges every
pair of every group once, with no verdict cache, timed; the report holds per group (dataset) and
overall the figures of :mod:`speciarl.judges.agreement`, the LLM calls and the wall time.

The reference verdicts are either the labelled answers (:mod:`speciarl.judges.labelled`; one
group per file, named by its dataset) or those of a reference judge on a pairs file (one group;
pairs the reference leaves undecided are left out and counted).

Hierarchies: a group judges with its dataset's shipped hierarchy (a labelled file named after a
shipped dataset; in reference mode ``--dataset`` or ``--hierarchy``), unless the spec names one
with ``hierarchy=``. A group with neither is judged without the taxonomy judge (lexical and LLM
only), and a ``taxonomy`` set-up refuses it, since it could decide nothing.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speciarl.answer import extract_answer
from speciarl.atomic import atomic_write
from speciarl.judges.agreement import COLUMNS, ROWS, Agreement, add_matrices, confusion_matrix
from speciarl.judges.base import Pair
from speciarl.judges.factory import build_judge, judges_in
from speciarl.judges.hierarchy import Hierarchy
from speciarl.judges.judge_spec import JudgeSpec, parse_judge_spec
from speciarl.judges.labelled import LabelledSet, read_labelled, read_shipped_labelled
from speciarl.judges.llm import LLMJudge
from speciarl.verdict import VERDICTS, Verdict

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CONFUSION_PNG = "confusion.png"
OVERALL = "all"
"""The row of the summary table that pools every group."""

ProgressFactory = Callable[[str], Callable[[int], object]]
"""Given a description, a callback taking the number of pairs finished (a progress bar)."""


@dataclass(frozen=True)
class EvalGroup:
    """Pairs judged together with one hierarchy, and their reference verdicts."""

    name: str
    source: str
    pairs: tuple[Pair, ...]
    labels: tuple[Verdict, ...]
    hierarchy: Hierarchy | None
    hierarchy_source: str | None
    """What the hierarchy is, for the report: ``cub200 (shipped)`` or a file name."""


@dataclass(frozen=True)
class Setup:
    """A parsed spec with its own hierarchy (``hierarchy=``) loaded, if it names one."""

    spec: JudgeSpec
    hierarchy: Hierarchy | None = None

    def hierarchy_for(self, group: EvalGroup) -> tuple[Hierarchy | None, str | None]:
        """The hierarchy this set-up judges ``group`` with, and what to call it."""
        if self.spec.hierarchy is not None:
            return self.hierarchy, self.spec.hierarchy
        return group.hierarchy, group.hierarchy_source


@dataclass(frozen=True)
class GroupRun:
    """One set-up's verdicts on one group, and what they cost."""

    verdicts: tuple[Verdict | None, ...]
    deciders: tuple[str | None, ...]
    llm_calls: int
    wall_s: float


def prepare_setups(texts: Sequence[str], *, role: str = "--judge") -> list[Setup]:
    """Parse the specs, load the hierarchies they name and check every LLM endpoint once.

    Raises ValueError, naming the spec, before anything is judged.
    """
    from speciarl.data.registry import named_hierarchy
    from speciarl.judges.endpoint import check_judge_endpoint

    if not texts:
        raise ValueError(f"give at least one {role} SPEC")
    specs = [parse_judge_spec(text) for text in texts]
    names = Counter(spec.name for spec in specs)
    for name, count in names.items():
        if count > 1:
            raise ValueError(
                f"{count} set-ups are named {name!r}; give each a name=... to tell them apart"
            )
    setups = []
    for spec in specs:
        hierarchy = None
        if spec.hierarchy is not None:
            try:
                hierarchy = named_hierarchy(spec.hierarchy)
            except (ValueError, OSError) as error:
                raise ValueError(f"judge spec {spec.text!r}: hierarchy: {error}") from None
        setups.append(Setup(spec, hierarchy))
    checked: set[tuple[str, str]] = set()
    for spec in specs:
        settings = spec.llm
        if settings is None or (settings.endpoint, settings.model) in checked:
            continue
        check_judge_endpoint(
            settings.endpoint,
            settings.model,
            endpoint_key=f"judge {spec.name!r}: endpoint",
            model_key=f"judge {spec.name!r}: model",
            api_key=settings.api_key,
        )
        checked.add((settings.endpoint, settings.model))
    return setups


def check_hierarchies(setups: Sequence[Setup], groups: Sequence[EvalGroup]) -> None:
    """Refuse a taxonomy set-up for a group it has no hierarchy for, before any judging."""
    for setup in setups:
        for group in groups:
            if setup.spec.kind == "taxonomy" and setup.hierarchy_for(group)[0] is None:
                raise ValueError(
                    f"judge spec {setup.spec.text!r}: {group.source} has no hierarchy (its "
                    f"name {group.name!r} is no shipped dataset); give hierarchy=FILE in the spec"
                )


def labelled_groups(paths: Sequence[str | os.PathLike[str]] | None) -> list[EvalGroup]:
    """One group per labelled file; ``None`` reads the shipped set."""
    sets = read_shipped_labelled() if paths is None else [read_labelled(path) for path in paths]
    if not sets:
        raise ValueError(
            "no labelled answers ship with this install; give --labelled FILE"
            if paths is None
            else "no labelled files given"
        )
    seen: dict[str, str] = {}
    for labelled in sets:
        if labelled.dataset in seen:
            raise ValueError(
                f"two labelled files for {labelled.dataset!r}: {seen[labelled.dataset]} and "
                f"{labelled.source}; a file's name is its dataset"
            )
        seen[labelled.dataset] = labelled.source
    return [_labelled_group(labelled) for labelled in sets]


def _labelled_group(labelled: LabelledSet) -> EvalGroup:
    from speciarl.data.registry import REGISTRY

    shipped = REGISTRY.get(labelled.dataset)
    return EvalGroup(
        name=labelled.dataset,
        source=labelled.source,
        pairs=tuple(answer.pair for answer in labelled.answers),
        labels=tuple(answer.verdict for answer in labelled.answers),
        hierarchy=None if shipped is None else shipped.hierarchy(),
        hierarchy_source=None if shipped is None else f"{labelled.dataset} (shipped)",
    )


def judge_group(
    setup: Setup, group: EvalGroup, progress: ProgressFactory | None = None
) -> GroupRun:
    """Build the set-up's judge for ``group`` (no cache), judge every pair once, time it."""
    hierarchy, _ = setup.hierarchy_for(group)
    judge = build_judge(setup.spec.kind, hierarchy=hierarchy, llm=setup.spec.llm)
    llm_members = [member for member in judges_in(judge) if isinstance(member, LLMJudge)]
    if progress is not None:
        for member in llm_members:
            member.progress = progress(f"{setup.spec.name} · {group.name}")  # type: ignore[assignment]
    started = time.perf_counter()
    judgements = judge.judge(list(group.pairs))
    wall_s = time.perf_counter() - started
    return GroupRun(
        verdicts=tuple(judgement.verdict for judgement in judgements),
        deciders=tuple(judgement.judge for judgement in judgements),
        llm_calls=sum(member.counters["llm_calls"] for member in llm_members),
        wall_s=wall_s,
    )


def evaluate_setups(
    setups: Sequence[Setup],
    groups: Sequence[EvalGroup],
    progress: ProgressFactory | None = None,
) -> list[dict[str, Any]]:
    """Each set-up's report section: figures per group and overall, and its disagreements."""
    check_hierarchies(setups, groups)
    sections = []
    for setup in setups:
        per_group: dict[str, dict[str, Any]] = {}
        matrices = []
        disagreements: list[dict[str, Any]] = []
        llm_calls, wall_s, deciders = 0, 0.0, Counter[str]()
        for group in groups:
            run = judge_group(setup, group, progress)
            matrix = confusion_matrix(group.labels, run.verdicts)
            group_deciders = Counter(
                decider
                for decider, verdict in zip(run.deciders, run.verdicts, strict=True)
                if decider is not None and verdict is not None
            )
            per_group[group.name] = {
                **_figures(Agreement(matrix), run.llm_calls, run.wall_s, group_deciders),
                "hierarchy": setup.hierarchy_for(group)[1],
            }
            matrices.append(matrix)
            llm_calls += run.llm_calls
            wall_s += run.wall_s
            deciders += group_deciders
            disagreements += [
                {
                    "dataset": group.name,
                    "ground_truth": pair.ground_truth,
                    "prediction": pair.prediction,
                    "label": label.value,
                    "judged": verdict.value,
                    "judge": decider,
                }
                for pair, label, verdict, decider in zip(
                    group.pairs, group.labels, run.verdicts, run.deciders, strict=True
                )
                if verdict is not None and verdict is not label
            ]
        overall = Agreement(add_matrices(matrices))
        sections.append(
            {
                **setup.spec.to_dict(),
                "datasets": per_group,
                "overall": _figures(overall, llm_calls, wall_s, deciders),
                "disagreements": disagreements,
            }
        )
    return sections


def _figures(
    figures: Agreement, llm_calls: int, wall_s: float, deciders: Counter[str]
) -> dict[str, Any]:
    return {
        **figures.to_dict(),
        "llm_calls": llm_calls,
        "llm_calls_per_pair": llm_calls / figures.pairs if figures.pairs else None,
        "wall_s": wall_s,
        "decided_by": dict(sorted(deciders.items())),
    }


def labelled_report(
    judges: Sequence[str],
    labelled: Sequence[str | os.PathLike[str]] | None = None,
    progress: ProgressFactory | None = None,
) -> dict[str, Any]:
    """The report of every ``judges`` spec against labelled files (``None``: the shipped set)."""
    groups = labelled_groups(labelled)
    setups = prepare_setups(judges)
    return {
        "labels": "labelled answers",
        "datasets": [_group_entry(group) for group in groups],
        "reference": None,
        "setups": evaluate_setups(setups, groups, progress),
    }


def reference_report(
    reference: str,
    judges: Sequence[str],
    pairs_file: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    hierarchy: str | os.PathLike[str] | None = None,
    progress: ProgressFactory | None = None,
) -> dict[str, Any]:
    """The report of every ``judges`` spec against the verdicts of the ``reference`` spec on a
    pairs file; the taxonomy reads ``dataset``'s shipped hierarchy or the ``hierarchy`` file."""
    from speciarl.data.registry import REGISTRY
    from speciarl.judges.pairs_file import holds_raw_completions, read_pair_records

    if dataset is not None and hierarchy is not None:
        raise ValueError("give --dataset or --hierarchy, not both")
    if dataset is not None and dataset not in REGISTRY:
        raise ValueError(
            f"--dataset {dataset!r} is no shipped dataset ({', '.join(REGISTRY)}); give your "
            "own hierarchy with --hierarchy FILE"
        )
    records = read_pair_records(pairs_file)
    tree, tree_source = None, None
    if dataset is not None:
        tree, tree_source = REGISTRY[dataset].hierarchy(), f"{dataset} (shipped)"
    elif hierarchy is not None:
        tree, tree_source = Hierarchy.load(hierarchy), str(hierarchy)
    (reference_setup,) = prepare_setups([reference], role="--reference-judge")
    setups = prepare_setups(judges)
    name = dataset or Path(pairs_file).stem

    pairs = [Pair(record["ground_truth"], record["prediction"]) for record in records]
    format_failures = 0
    if holds_raw_completions(records):  # a policy's raw completions: judge the answers only
        answers = [extract_answer(pair.prediction) for pair in pairs]
        format_failures = sum(not answer.formatted for answer in answers)
        pairs = [
            Pair(pair.ground_truth, answer.text or "")
            for pair, answer in zip(pairs, answers, strict=True)
            if answer.formatted
        ]
    candidates = EvalGroup(
        name=name,
        source=str(pairs_file),
        pairs=tuple(pairs),
        labels=(),
        hierarchy=tree,
        hierarchy_source=tree_source,
    )
    check_hierarchies([reference_setup, *setups], [candidates])
    run = judge_group(reference_setup, candidates, progress)
    kept = [
        (pair, verdict)
        for pair, verdict in zip(pairs, run.verdicts, strict=True)
        if verdict is not None
    ]
    if not kept:
        raise ValueError(
            f"the reference judge {reference_setup.spec.name!r} decided none of the "
            f"{len(pairs)} pairs of {pairs_file}; there is nothing to measure against"
        )
    group = EvalGroup(
        name=name,
        source=str(pairs_file),
        pairs=tuple(pair for pair, _ in kept),
        labels=tuple(verdict for _, verdict in kept),
        hierarchy=tree,
        hierarchy_source=tree_source,
    )
    counts = Counter(verdict for _, verdict in kept)
    return {
        "labels": "reference judge",
        "datasets": [_group_entry(group)],
        "reference": {
            **reference_setup.spec.to_dict(),
            "pairs_file": str(pairs_file),
            "records": len(records),
            "format_failures": format_failures,
            "undecided": len(pairs) - len(kept),
            "kept": len(kept),
            "verdicts": {verdict.value: counts[verdict] for verdict in VERDICTS},
            "llm_calls": run.llm_calls,
            "wall_s": run.wall_s,
            "hierarchy": reference_setup.hierarchy_for(group)[1],
        },
        "setups": evaluate_setups(setups, [group], progress),
    }


def _group_entry(group: EvalGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "source": group.source,
        "pairs": len(group.pairs),
        "hierarchy": group.hierarchy_source,
    }


def write_report(report: dict[str, Any], out: str | os.PathLike[str]) -> list[Path]:
    """``report.json``, ``report.md`` and ``confusion.png`` in ``out``, each written atomically."""
    from speciarl.judges.confusion_plot import confusion_grid

    folder = Path(out)
    paths = [folder / REPORT_JSON, folder / REPORT_MD, folder / CONFUSION_PNG]
    with atomic_write(paths[0]) as stream:
        json.dump(report, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    with atomic_write(paths[1]) as stream:
        stream.write(markdown_report(report))
    matrices = [
        (section["name"], tuple(map(tuple, section["overall"]["confusion"]["counts"])))
        for section in report["setups"]
    ]
    confusion_grid(matrices, paths[2])
    return paths


# --- Rendering ---------------------------------------------------------------------------------

_SUMMARY_HEADER = (
    "set-up",
    "dataset",
    "pairs",
    "coverage",
    "accuracy (decided)",
    "accuracy (all)",
    "kappa",
    "kappa (quadratic)",
    "LLM calls",
    "wall s",
)


def summary_table(report: dict[str, Any]) -> str:
    """Set-ups by datasets (and ``all``, pooling them): the table printed and put first in
    ``report.md``."""
    rows = []
    for section in report["setups"]:
        entries = list(section["datasets"].items())
        if len(entries) > 1:
            entries.append((OVERALL, section["overall"]))
        for dataset, figures in entries:
            rows.append(
                (
                    section["name"],
                    dataset,
                    str(figures["pairs"]),
                    _percent(figures["coverage"]),
                    _percent(figures["accuracy_decided"]),
                    _percent(figures["accuracy"]),
                    _number(figures["kappa"]),
                    _number(figures["weighted_kappa"]),
                    str(figures["llm_calls"]),
                    f"{figures['wall_s']:.2f}",
                )
            )
    return _table(_SUMMARY_HEADER, rows, right_from=2)


def markdown_report(report: dict[str, Any]) -> str:
    """The whole report for people: what the labels are, the summary, then per set-up the
    per-verdict table and the pooled confusion matrix."""
    lines = ["# Judge evaluation", "", _labels_line(report), ""]
    lines += [
        "Kappas are computed on the decided pairs only; accuracy (all) counts an undecided "
        "pair as not right; n/a marks a figure that is undefined (no pairs, or one and the "
        "same verdict on both sides). See docs/judge-eval.md.",
        "",
        "## Summary",
        "",
        summary_table(report),
        "",
    ]
    for section in report["setups"]:
        overall = section["overall"]
        lines += [f"## {section['name']}", "", f"Spec: `{section['spec']}`.", ""]
        deciders = ", ".join(f"{name} {count}" for name, count in overall["decided_by"].items())
        lines += [f"Decided by: {deciders or 'none'}.", ""]
        lines += ["Per verdict, all datasets:", ""]
        verdict_rows = [
            (
                verdict,
                str(figures["labelled"]),
                str(figures["judged"]),
                str(figures["agreed"]),
                _percent(figures["precision"]),
                _percent(figures["recall"]),
            )
            for verdict, figures in overall["verdicts"].items()
        ]
        header = ("verdict", "labelled", "judged", "agreed", "precision", "recall")
        lines += [_table(header, verdict_rows, right_from=1), ""]
        lines += ["Confusion matrix, all datasets (rows: reference verdict; columns: judge):", ""]
        counts = overall["confusion"]["counts"]
        matrix_rows = [(label, *map(str, row)) for label, row in zip(ROWS, counts, strict=True)]
        lines += [_table(("reference \\ judge", *COLUMNS), matrix_rows, right_from=1), ""]
    return "\n".join(lines)


def _labels_line(report: dict[str, Any]) -> str:
    if report["reference"] is None:
        files = ", ".join(f"{entry['name']} {entry['pairs']}" for entry in report["datasets"])
        total = sum(entry["pairs"] for entry in report["datasets"])
        return f"Reference verdicts: labelled answers, {total} pairs ({files})."
    reference = report["reference"]
    return (
        f"Reference verdicts: judge `{reference['name']}` on `{reference['pairs_file']}`: "
        f"{reference['records']} pairs; left out: {reference['format_failures']} format "
        f"failures, {reference['undecided']} undecided by the reference; {reference['kept']} kept."
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right_from: int) -> str:
    """A Markdown table padded to line up in a terminal too; numbers flush right."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if index >= right_from else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * (width + 1) + ":" if index >= right_from else "-" * (width + 2)
        for index, width in enumerate(widths)
    ]
    return "\n".join([line(header), "|" + "|".join(rule) + "|", *map(line, rows)])
