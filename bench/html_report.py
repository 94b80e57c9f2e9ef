"""Size and speed of report.html for a large evaluation: 30,000 predictions by default.

Builds an evaluation folder with the library's own writers: `predict` (a scripted policy that
answers at species, family or order level, abstains, errs or breaks the format, by a hash of the
image's seed) into the prediction store, `verify` with the cascade judge (lexical + taxonomy)
into the verdict store, then `write_report` (report.json, report.md, plots, report.html). The
images are synthetic shapes: one rendered picture per species, reused by all images of the
species, so that building the folder does not take minutes of rendering. Prints the page's size,
the time to render it (median of 3 `write_report_html` calls) and to load it in headless
Chromium (median of 3 loads, navigation to the load event, scripts run).

    .venv/bin/python bench/html_report.py [--images 30000] [--n 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from speciarl.data.registry import get_dataset
from speciarl.data.sample import Sample
from speciarl.data.synthetic import load_split, species
from speciarl.evaluate.html.report_page import write_report_html
from speciarl.evaluate.predict import Completion, GenerationSettings, predict, request_seed
from speciarl.evaluate.run import (
    load_datasets,
    prediction_store,
    reported_judges,
    verdict_store,
    write_report,
)
from speciarl.evaluate.verify import verify
from speciarl.judges.describe import judge_id
from speciarl.judges.factory import build_judge
from speciarl.testing.browser import Chromium

REASONING = "The shape is clear; its colour and marking narrow it down. " * 8


def bench_samples(images: int) -> list[Sample]:
    """``images`` test samples cycling through the species, each species with one picture."""
    pool = {sample.label: sample for sample in load_split("test")}
    pictures = {label: sample.image_bytes() for label, sample in pool.items()}
    names = [info.name for info in species()]
    readers = {label: (lambda label=label: pictures[label]) for label in names}
    return [
        Sample(
            "synthetic",
            "test",
            index,
            names[index % len(names)],
            names[index % len(names)],
            readers[names[index % len(names)]],
            "bench picture",
        )
        for index in range(images)
    ]


class ScriptedPolicy:
    """Answers each image at a level chosen by its seed: species, family, order, abstention,
    another species, or a completion without an answer tag."""

    name = "scripted"

    def __init__(self, samples: list[Sample], seed: int) -> None:
        known = {info.name: info for info in species()}
        self.by_seed = {request_seed(seed, s.sample_id): known[s.label] for s in samples}
        self.names = sorted(known)

    def generate(self, images, prompt, settings, seeds):
        batch = []
        for seed in seeds:
            info = self.by_seed[seed]
            answers = []
            for k in range(settings.n):
                choice = (seed + k) % 6
                answer = [
                    info.name,
                    info.family,
                    info.order,
                    "I don't know",
                    self.names[(seed + k) % len(self.names)],
                    None,
                ][choice]
                tag = f"<answer>{answer}</answer>" if answer else "(no answer)"
                answers.append(Completion(f"<think>{REASONING}</think>{tag}", False))
            batch.append(answers)
        return batch


def build_folder(out: Path, images: int, n: int) -> tuple[list[Sample], dict, float]:
    samples = bench_samples(images)
    settings = GenerationSettings(n=n, temperature=1.0 if n > 1 else 0.0, batch_size=256 * n)
    predict(
        samples,
        ScriptedPolicy(samples, settings.seed),
        prediction_store(out, "synthetic"),
        settings,
        model_name="scripted",
    )
    judge = build_judge("cascade", hierarchy=get_dataset("synthetic").hierarchy())
    verify(
        prediction_store(out, "synthetic"), verdict_store(out, "synthetic", judge_id(judge)), judge
    )
    start = time.perf_counter()
    report = write_report(out, "scripted", samples=samples, resamples=200)
    return samples, report, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=30_000)
    parser.add_argument("--n", type=int, default=1, help="predictions per image")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        start = time.perf_counter()
        samples, report, whole = build_folder(out, arguments.images, arguments.n)
        print(
            f"folder: {arguments.images:,} images x {arguments.n} = "
            f"{arguments.images * arguments.n:,} predictions, built in "
            f"{time.perf_counter() - start:.1f} s (write_report with 200 resamples: {whole:.1f} s)"
        )
        datasets = load_datasets(out, reported_judges(out, list(report["datasets"])))
        renders = []
        for _ in range(arguments.repeats):
            begin = time.perf_counter()
            page = write_report_html(out, report=report, datasets=datasets, samples=samples)
            renders.append(time.perf_counter() - begin)
        size = page.stat().st_size
        with Chromium() as browser:
            loads = []
            for _ in range(arguments.repeats):
                load = browser.load(page)
                if load.problems:
                    raise SystemExit(f"the page has problems: {load.problems}")
                loads.append(load.seconds)
            cards = browser.evaluate("document.querySelectorAll('.card').length")
        print(f"report.html: {size / 1e6:.2f} MB ({size:,} bytes), {cards} cards on the first page")
        print(
            f"render (write_report_html): median {statistics.median(renders):.2f} s "
            f"of {', '.join(f'{value:.2f}' for value in renders)}"
        )
        print(
            f"load in headless Chromium: median {statistics.median(loads):.2f} s "
            f"of {', '.join(f'{value:.2f}' for value in loads)}"
        )


if __name__ == "__main__":
    main()
