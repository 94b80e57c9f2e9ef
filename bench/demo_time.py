"""Wall-clock time of `speciarl demo`, stage by stage, over several fresh runs.

Each run starts in an empty temporary folder (nothing resumed) and goes through the real command,
so imports and model loading count. Prints every run's total and the median; with one run it also
prints when each stage began.

    .venv/bin/python bench/demo_time.py --quick --runs 3   # the CI version (target: under 3 min)
    .venv/bin/python bench/demo_time.py --runs 1           # the whole demo (target: under 20 min)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(quick: bool) -> tuple[float, list[tuple[float, str]]]:
    """Total seconds and (seconds since start, message) for each progress line of the demo."""
    speciarl = Path(sys.executable).parent / "speciarl"
    with tempfile.TemporaryDirectory() as folder:
        command = [str(speciarl), "demo", "--out", folder, *(["--quick"] if quick else [])]
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        stages = []
        for line in process.stderr:
            if line[:1].isalpha() and "\r" not in line:
                stages.append((time.perf_counter() - start, line.strip()))
        if process.wait() != 0:
            raise SystemExit(f"speciarl demo failed; last lines: {stages[-3:]}")
        return time.perf_counter() - start, stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time `speciarl demo --quick`")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    totals = []
    for run in range(args.runs):
        total, stages = one_run(args.quick)
        totals.append(total)
        print(f"run {run + 1}: {total:.1f} s", flush=True)
        if args.runs == 1:
            for seconds, message in stages:
                print(f"  {seconds:7.1f} s  {message}")
    version = "--quick" if args.quick else "full"
    print(
        f"speciarl demo ({version}): median {statistics.median(totals):.1f} s over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
