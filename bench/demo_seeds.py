"""The demo over several seeds: which of its figures and conclusions hold, not one run's table.

Floating-point paths differ between machines, so one seed's table on one machine is an anecdote.
This runs `speciarl demo --seed S --out RUNS/demo-seedS` for every seed (each resumes: finished
stages are skipped, and a finished run only prints its table again), then prints every seed's
table, the range (min-max over seeds) of every figure, the look-alike figures per seed, and for
each conclusion the demo's README states whether it holds for every seed. The conclusions are
computed from the figures here, never written in.

    .venv/bin/python bench/demo_seeds.py                    # seeds 0 1 2, run folders in runs/
    .venv/bin/python bench/demo_seeds.py --seeds 0 1 2 3 --runs runs

Each seed's demo log goes to RUNS/demo-seedS/demo.log. Times are read from the run folder (when
each stage wrote its marker), so they survive a rerun that only reprints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from speciarl.demo import SETTINGS_FILE, STAGE_DONE

METRICS = ("specificity", "correctness", "hm")

Rows = dict[str, dict[str, Any]]


def run_seed(seed: int, out: Path, threads: int | None) -> int:
    """One demo run (or its resumption) with ``threads`` torch threads (``None``: torch's
    default), its progress appended to ``out/demo.log``; returns the seed once it finished."""
    speciarl = Path(sys.executable).parent / "speciarl"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "demo.log").open("a", encoding="utf-8") as log:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        log.write(f"--- speciarl demo --seed {seed} --out {out}, started {started}\n")
        log.flush()
        finished = subprocess.run(
            [str(speciarl), "demo", "--seed", str(seed), "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            check=False,
            env={**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})},
        )
    if finished.returncode != 0:
        raise SystemExit(f"seed {seed}: speciarl demo failed; see {out / 'demo.log'}")
    return seed


def timeline(out: Path) -> str:
    """When each stage of a run finished, in minutes after the run folder was claimed, read
    from the files each stage writes last: true for a run resumed or run in parts too (a pause
    between resumptions counts)."""
    start = (out / SETTINGS_FILE).stat().st_mtime
    finished = [(path.stat().st_mtime, path.parent.name) for path in out.glob(f"*/{STAGE_DONE}")]
    reports = [path.stat().st_mtime for path in out.glob("eval/*/report.json")]
    if reports:
        finished.append((max(reports), "evaluations"))
    if (out / "results.json").is_file():
        finished.append(((out / "results.json").stat().st_mtime, "table"))
    return ", ".join(f"{name} {(moment - start) / 60:.1f}" for moment, name in sorted(finished))


def value(rows: Rows, model: str, metric: str) -> float:
    return rows[model][metric]["value"]


def lookalike(rows: Rows, model: str, share: str) -> float:
    return rows[model]["lookalikes"][share]


def conclusions(best_of: str) -> list[tuple[str, Callable[[Rows], bool]]]:
    """The README's conclusions, each a test on one seed's rows (model name -> row)."""
    base, specific, rft, sft, ours = (
        "base",
        "base + be specific",
        "RFT (binary reward)",
        "SFT on species",
        "SpeciaRL",
    )
    trained = (sft, rft, ours)
    return [
        (
            f"{best_of} specificity > base specificity (the knowledge is there)",
            lambda r: value(r, best_of, "specificity") > value(r, base, "specificity"),
        ),
        (
            f"{best_of} correctness > base correctness",
            lambda r: value(r, best_of, "correctness") > value(r, base, "correctness"),
        ),
        (
            "be specific: specificity > base's",
            lambda r: value(r, specific, "specificity") > value(r, base, "specificity"),
        ),
        (
            "be specific: correctness < base's",
            lambda r: value(r, specific, "correctness") < value(r, base, "correctness"),
        ),
        (
            "be specific: wrong on more look-alikes than base",
            lambda r: lookalike(r, specific, "wrong") > lookalike(r, base, "wrong"),
        ),
        (
            "RFT specificity > base specificity",
            lambda r: value(r, rft, "specificity") > value(r, base, "specificity"),
        ),
        (
            "RFT correctness < base correctness",
            lambda r: value(r, rft, "correctness") < value(r, base, "correctness"),
        ),
        (
            "SFT on species correctness < base correctness",
            lambda r: value(r, sft, "correctness") < value(r, base, "correctness"),
        ),
        (
            "SpeciaRL specificity > base specificity",
            lambda r: value(r, ours, "specificity") > value(r, base, "specificity"),
        ),
        (
            "SpeciaRL correctness > RFT correctness",
            lambda r: value(r, ours, "correctness") > value(r, rft, "correctness"),
        ),
        (
            "SpeciaRL correctness >= base correctness",
            lambda r: value(r, ours, "correctness") >= value(r, base, "correctness"),
        ),
        (
            "look-alikes: RFT hedges on fewer than 5 %",
            lambda r: lookalike(r, rft, "hedged") < 0.05,
        ),
        (
            "look-alikes: SpeciaRL hedges more often than RFT",
            lambda r: lookalike(r, ours, "hedged") > lookalike(r, rft, "hedged"),
        ),
        (
            "look-alikes: SpeciaRL is wrong less often than RFT",
            lambda r: lookalike(r, ours, "wrong") < lookalike(r, rft, "wrong"),
        ),
        ("SpeciaRL HM > RFT HM", lambda r: value(r, ours, "hm") > value(r, rft, "hm")),
        (
            "SpeciaRL has the best HM of the trained models",
            lambda r: all(value(r, ours, "hm") > value(r, m, "hm") for m in trained if m != ours),
        ),
    ]


def machine() -> str:
    """The machine kind, in the words the README uses for it."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    import torch

    return (
        f"{os.cpu_count()} CPU cores ({model}), no GPU used, {platform.system()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )


def _cell(low: float, high: float, digits: int = 3) -> str:
    """A range, or one figure when both ends print alike."""
    low_text, high_text = f"{low:.{digits}f}", f"{high:.{digits}f}"
    return low_text if low_text == high_text else f"{low_text}-{high_text}"


def report(results: dict[int, dict[str, Any]], runs: Path) -> list[str]:
    """Markdown: per-seed tables, ranges, look-alikes, conclusions, times."""
    seeds = sorted(results)
    rows = {seed: {row["model"]: row for row in results[seed]["rows"]} for seed in seeds}
    models = [row["model"] for row in results[seeds[0]]["rows"]]
    best_of = f"base best-of-{results[seeds[0]]['settings']['best_of']}"
    lines = [f"Machine: {machine()}", ""]
    for seed in seeds:
        table = (runs / f"demo-seed{seed}" / "results.md").read_text(encoding="utf-8")
        lines += [f"### seed {seed}", "", table.rstrip(), ""]

    lines += [
        f"### range over seeds {', '.join(map(str, seeds))} (min-max of the point estimates)",
        "",
        "| model | specificity | correctness | HM | look-alikes: hedged | look-alikes: wrong |",
        "|---|---|---|---|---|---|",
    ]
    for model in models:
        cells = [
            _cell(*_span([value(rows[s], model, metric) for s in seeds])) for metric in METRICS
        ]
        cells += [
            _cell(*_span([lookalike(rows[s], model, share) for s in seeds]), digits=2)
            for share in ("hedged", "wrong")
        ]
        lines.append(f"| {model} | {' | '.join(cells)} |")

    lines += ["", "### look-alikes per seed (hedged / wrong)", ""]
    lines += ["| model | " + " | ".join(f"seed {s}" for s in seeds) + " |"]
    lines += ["|---|" + "---|" * len(seeds)]
    for model in models:
        cells = [
            f"{lookalike(rows[s], model, 'hedged'):.2f} / {lookalike(rows[s], model, 'wrong'):.2f}"
            for s in seeds
        ]
        lines.append(f"| {model} | {' | '.join(cells)} |")

    lines += ["", "### conclusions", ""]
    lines += ["| conclusion | " + " | ".join(f"seed {s}" for s in seeds) + " | all seeds |"]
    lines += ["|---|" + "---|" * (len(seeds) + 1)]
    for text, holds in conclusions(best_of):
        verdicts = [holds(rows[s]) for s in seeds]
        marks = ["yes" if v else "no" for v in verdicts]
        lines.append(f"| {text} | {' | '.join(marks)} | {'**holds**' if all(verdicts) else '—'} |")

    lines += ["", "### when each stage finished (minutes after the run began)", ""]
    lines += [f"- seed {seed}: {timeline(runs / f'demo-seed{seed}')}" for seed in seeds]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    lines += ["", f"Load average now (1, 5, 15 min): {load} on {os.cpu_count()} cores."]
    return lines


def _span(values: list[float]) -> tuple[float, float]:
    return min(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="parent of the folders")
    parser.add_argument(
        "--report-only", action="store_true", help="print from finished runs, run nothing"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="seeds run at once; with more than one, each gets cores/jobs torch threads (at "
        "least one), so that the runs do not oversubscribe the cores",
    )
    args = parser.parse_args()
    if len(args.seeds) < 2:
        parser.error("give at least two seeds: one seed has no range")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    folders = {seed: args.runs / f"demo-seed{seed}" for seed in args.seeds}
    if not args.report_only:
        threads = max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else None
        print(
            f"running seeds {args.seeds} into {args.runs}, {args.jobs} at once "
            f"(load average {os.getloadavg()[0]:.1f})",
            file=sys.stderr,
            flush=True,
        )
        with ThreadPoolExecutor(args.jobs) as pool:
            for seed in pool.map(lambda s: run_seed(s, folders[s], threads), args.seeds):
                print(f"seed {seed}: done", file=sys.stderr, flush=True)
    results = {}
    for seed, out in folders.items():
        found = out / "results.json"
        if not found.is_file():
            raise SystemExit(f"seed {seed}: {found} is missing; run without --report-only")
        results[seed] = json.loads(found.read_text(encoding="utf-8"))
    print("\n".join(report(results, args.runs)))


if __name__ == "__main__":
    main()
