"""Two evaluations of the same images, image by image: what model A answered and what model B
did, and how each image's verdict moved from A to B.

Each image counts once, with each run's first prediction (the lowest prediction index): with
greedy decoding that is the prediction, with sampling the first sample, so an image with N
samples is not counted N times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from speciarl.evaluate.html.examples import prediction_view, verdict_label
from speciarl.evaluate.html.report_page import read_evaluation, recorded_source
from speciarl.evaluate.html.shared import verdict_rank
from speciarl.evaluate.report import LABELS
from speciarl.evaluate.store import Key

if TYPE_CHECKING:
    from speciarl.evaluate.run import StoredDataset

IMPROVEMENT, REGRESSION, UNCHANGED = "improvement", "regression", "unchanged"


@dataclass(frozen=True)
class PairedImage:
    """One image evaluated by both runs, with each run's first prediction."""

    dataset: str
    sample_id: str
    label: str
    verdict_a: str
    verdict_b: str
    key_a: Key
    key_b: Key

    @property
    def kind(self) -> str:
        """Whether B's verdict is better than A's, worse, or the same (unjudged is worst)."""
        a, b = verdict_rank(self.verdict_a), verdict_rank(self.verdict_b)
        return IMPROVEMENT if b > a else REGRESSION if b < a else UNCHANGED


@dataclass(frozen=True)
class Transition:
    """Every image whose verdict went from ``source`` (A) to ``target`` (B)."""

    source: str
    target: str
    kind: str
    images: list[PairedImage]

    @property
    def name(self) -> str:
        return f"{self.source} → {self.target}"


@dataclass
class Pairing:
    """The images both runs evaluated, sorted by dataset and sample id, and what is unpaired."""

    name_a: str
    name_b: str
    images: list[PairedImage]
    only_a: int
    only_b: int
    source: str
    stores: dict[str, tuple[StoredDataset, StoredDataset]]

    def matrix(self) -> list[list[int]]:
        """Counts of images by A's verdict (rows) and B's (columns), both in `LABELS` order."""
        counts = [[0] * len(LABELS) for _ in LABELS]
        for image in self.images:
            counts[LABELS.index(image.verdict_a)][LABELS.index(image.verdict_b)] += 1
        return counts

    def transitions(self) -> list[Transition]:
        """Every transition that happened: improvements, then regressions, then unchanged
        verdicts; within each, the most frequent first."""
        grouped: dict[tuple[str, str], list[PairedImage]] = {}
        for image in self.images:
            grouped.setdefault((image.verdict_a, image.verdict_b), []).append(image)
        found = [Transition(a, b, images[0].kind, images) for (a, b), images in grouped.items()]
        order = {IMPROVEMENT: 0, REGRESSION: 1, UNCHANGED: 2}
        return sorted(
            found,
            key=lambda t: (
                order[t.kind],
                -len(t.images),
                LABELS.index(t.source),
                LABELS.index(t.target),
            ),
        )

    def views(self, image: PairedImage) -> tuple[dict[str, Any], dict[str, Any]]:
        """A's and B's first prediction of an image as pages show them."""
        a, b = self.stores[image.dataset]
        return (
            prediction_view(a.predictions[image.key_a], a.verdicts.get(image.key_a)),
            prediction_view(b.predictions[image.key_b], b.verdicts.get(image.key_b)),
        )


def pair_runs(run_a: Path, run_b: Path) -> Pairing:
    """The images evaluated by both folders; a sample id whose label differs between them means
    they did not evaluate the same data, and is refused."""
    for run in (run_a, run_b):
        if not run.is_dir():
            raise ValueError(
                f"{run}: not an evaluation folder (the pages read its prediction and verdict "
                "stores, not report.json alone)"
            )
    report_a, stored_a = read_evaluation(run_a)
    report_b, stored_b = read_evaluation(run_b)
    name_a, name_b = str(report_a["model"]), str(report_b["model"])
    if name_a == name_b:
        name_a, name_b = f"{name_a} ({run_a.name})", f"{name_b} ({run_b.name})"
    by_name_b = {dataset.name: dataset for dataset in stored_b}
    images: list[PairedImage] = []
    only_a = only_b = 0
    stores = {}
    for a in stored_a:
        firsts_a = _first_predictions(a)
        b = by_name_b.get(a.name)
        firsts_b = _first_predictions(b) if b is not None else {}
        only_a += len(firsts_a.keys() - firsts_b.keys())
        only_b += len(firsts_b.keys() - firsts_a.keys())
        if b is None:
            continue
        stores[a.name] = (a, b)
        for sample_id in sorted(firsts_a.keys() & firsts_b.keys()):
            key_a, key_b = firsts_a[sample_id], firsts_b[sample_id]
            label, label_b = a.predictions[key_a]["label"], b.predictions[key_b]["label"]
            if label != label_b:
                raise ValueError(
                    f"{a.name} {sample_id}: labelled {label!r} in {run_a} but {label_b!r} in "
                    f"{run_b}: the runs did not evaluate the same data"
                )
            images.append(
                PairedImage(
                    a.name,
                    sample_id,
                    label,
                    verdict_label(a.verdicts.get(key_a)),
                    verdict_label(b.verdicts.get(key_b)),
                    key_a,
                    key_b,
                )
            )
    only_b += sum(len(_first_predictions(b)) for name, b in by_name_b.items() if name not in stores)
    if not images:
        raise ValueError(f"{run_a} and {run_b} evaluated no image in common")
    return Pairing(name_a, name_b, images, only_a, only_b, recorded_source(run_a), stores)


def _first_predictions(dataset: StoredDataset) -> dict[str, Key]:
    """Each sample id's first prediction (the lowest index)."""
    firsts: dict[str, Key] = {}
    for key in dataset.predictions:
        if key[0] not in firsts or key[1] < firsts[key[0]][1]:
            firsts[key[0]] = key
    return firsts


def chosen_images(pairing: Pairing, sample_ids: Sequence[str]) -> list[PairedImage]:
    """The paired images of ``sample_ids``, in that order; an id neither run shares is named."""
    by_id = {image.sample_id: image for image in pairing.images}
    unknown = [sample_id for sample_id in sample_ids if sample_id not in by_id]
    if unknown:
        raise ValueError(
            f"--examples: {', '.join(unknown)}: not among the images both runs evaluated "
            f"(e.g. {pairing.images[0].sample_id})"
        )
    return [by_id[sample_id] for sample_id in sample_ids]
