"""The evaluation report: per-dataset and per-group metrics with image-level bootstrap CIs.

`build_report` turns the verdicts of every evaluated dataset into one JSON-serialisable dict (the
``report.json`` users quote from); `render_markdown` prints it as paper-style tables.

Confidence intervals come from a *cluster* bootstrap: images are resampled with replacement and
an image's N predictions move together, so predictions of the same image, which are correlated,
are not counted as independent evidence. Group rows (fine-grained, very fine-grained, overall)
are macro averages: the mean of the datasets' metrics, as in the paper, with CIs from averaging
the datasets' bootstrap draws draw by draw (datasets are resampled independently).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from speciarl.metrics import UNJUDGED, best_of_k_curve, best_of_n, summarize
from speciarl.verdict import VERDICTS, Verdict

GROUPS: dict[str, tuple[str, ...]] = {
    "fine-grained": ("flowers102", "food101", "oxford_pets"),
    "very fine-grained": ("stanford_cars", "fgvc_aircraft"),
}
"""The paper's dataset groups; a group is reported only when all its datasets are present."""

OVERALL = "overall"
"""Name of the macro average over every dataset in the report."""

METRICS = ("specificity", "correctness", "hm")
"""The headline metrics, in the paper's column order."""

CATEGORIES: tuple[Verdict | None, ...] = (*VERDICTS, None)
"""Verdict categories, worst to best, then predictions without a verdict."""

LABELS: tuple[str, ...] = tuple(UNJUDGED if c is None else c.value for c in CATEGORIES)
"""Names of `CATEGORIES` as they appear in the report."""

DECIDERS = ("lexical", "taxonomy", "llm", "cache")
"""Who gave a stored verdict, as reports count them: a member of the cascade, or the cache."""

DEFINITIONS = {
    "correctness": "share of predictions judged generic, less specific, specific or more specific",
    "specificity": "share of the correct predictions judged specific or more specific",
    "hm": "harmonic mean of specificity and correctness: 2·S·C / (S + C)",
    "unjudged": "predictions without a verdict (format failures and undecided); never correct",
    "format_failure_rate": "share of predictions whose answer broke the required format",
    "truncation_rate": "share of predictions that reached the token limit (max_new_tokens) "
    "without closing their answer: format failures of a reasoning cut short, counted among the "
    "format failures; null where the predictions do not record it",
    "best_of_n": "oracle keeping, for every image, the best of its N predictions",
    "best_of_k": "expected metrics when the best of k of an image's N predictions is kept",
    "ci": "percentile bootstrap over images (an image's predictions are resampled together)",
    "group": "macro average: mean of the datasets' metrics; CI from averaged bootstrap draws",
    "decided_by": "verdicts given by each judge of the cascade; cache: read from the verdict "
    "cache, where the taxonomy or LLM judge had stored it",
    "sample_ids_sha256": "digest of the evaluated images' sample ids: equal digests, same images",
}
"""One-line definitions stored in every report's ``meta``."""

_CORRECT = np.array([c is not None and c.is_correct for c in CATEGORIES])
_SPECIFIC = np.array([c in (Verdict.SPECIFIC, Verdict.MORE_SPECIFIC) for c in CATEGORIES])
_COLUMN = {category: index for index, category in enumerate(CATEGORIES)}
_K = len(CATEGORIES)
# Resampled image indices are drawn in chunks of at most this many, to bound memory (~32 MB).
_CHUNK_ITEMS = 1 << 22


@dataclass(frozen=True)
class DatasetResult:
    """Everything the report needs about one evaluated dataset.

    ``groups`` holds one list per image: the verdicts of its predictions, ``None`` where a
    prediction has no verdict (a format failure or undecided). ``format_failures`` counts the
    predictions whose answer broke the format (all of them are among the ``None``s) and
    ``n_predictions`` all predictions. ``split`` and ``sample_ids_sha256`` (a digest of the
    images' sample ids) say which images these are, so that reports on different images are
    never compared unawares. ``truncations`` counts the format failures whose generation hit the
    token limit (``None``: not recorded, as in folders from before truncations were).
    """

    dataset: str
    groups: list[list[Verdict | None]]
    format_failures: int
    n_predictions: int
    split: str | None = None
    sample_ids_sha256: str | None = None
    truncations: int | None = None


# ---------------------------------------------------------------------------------------------
# Vectorised metrics and the image-level bootstrap


def scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Correctness, specificity and hm of count vectors (``[..., 7]``, columns `CATEGORIES`).

    The array version of `speciarl.metrics.scores_from_counts`, for bootstrap draws.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1)
    correct = counts[..., _CORRECT].sum(axis=-1)
    specific = counts[..., _SPECIFIC].sum(axis=-1)
    zeros = np.zeros(np.shape(total))
    correctness = np.divide(correct, total, out=zeros.copy(), where=total > 0)
    specificity = np.divide(specific, correct, out=zeros.copy(), where=correct > 0)
    denominator = specificity + correctness
    hm = np.divide(
        2 * specificity * correctness, denominator, out=zeros.copy(), where=denominator > 0
    )
    return {"specificity": specificity, "correctness": correctness, "hm": hm}


def image_counts(groups: Sequence[Sequence[Verdict | None]]) -> np.ndarray:
    """Per-image verdict counts: an ``[images, 7]`` integer array, columns `CATEGORIES`."""
    sizes = np.fromiter((len(group) for group in groups), dtype=np.int64, count=len(groups))
    columns = np.fromiter(
        (_COLUMN[verdict] for group in groups for verdict in group),
        dtype=np.int64,
        count=int(sizes.sum()),
    )
    rows = np.repeat(np.arange(len(groups), dtype=np.int64), sizes)
    return np.bincount(rows * _K + columns, minlength=len(groups) * _K).reshape(len(groups), _K)


def best_counts(per_image: np.ndarray) -> np.ndarray:
    """One-hot rows of each image's best verdict (``unjudged`` if it has none), as `best_of_n`."""
    judged = per_image[:, : len(VERDICTS)] > 0
    best = len(VERDICTS) - 1 - np.argmax(judged[:, ::-1], axis=1)
    best = np.where(judged.any(axis=1), best, _COLUMN[None])
    one_hot = np.zeros_like(per_image)
    one_hot[np.arange(len(per_image)), best] = 1
    return one_hot


def cluster_bootstrap(
    per_image: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Column totals of ``resamples`` resamples of the rows (images) with replacement.

    Returns a ``[resamples, columns]`` float array. Images with identical rows are
    interchangeable, so each drawn image index is mapped to its distinct row and only how often
    each distinct row was drawn is counted; indices are drawn in chunks to bound memory.
    """
    per_image = np.asarray(per_image)
    if per_image.ndim != 2 or len(per_image) == 0:
        raise ValueError("per_image must be a non-empty [images, columns] array")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    patterns, inverse = np.unique(per_image, axis=0, return_inverse=True)
    # int32 indices halve the memory traffic; chunk * distinct <= _CHUNK_ITEMS keeps them safe.
    inverse = inverse.reshape(-1).astype(np.int32)
    patterns = patterns.astype(np.float64)
    images, distinct = len(per_image), len(patterns)
    chunk = max(1, min(resamples, _CHUNK_ITEMS // images))
    totals = np.empty((resamples, per_image.shape[1]))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = inverse[rng.integers(0, images, size=(size, images), dtype=np.int32)]
        drawn += (np.arange(size, dtype=np.int32) * distinct)[:, None]
        weights = np.bincount(drawn.reshape(-1), minlength=size * distinct)
        totals[start : start + size] = weights.reshape(size, distinct) @ patterns
    return totals


def _interval(values: np.ndarray, confidence: float) -> list[float]:
    tail = (1.0 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return [float(low), float(high)]


def _dataset_rng(seed: int, dataset: str) -> np.random.Generator:
    # Independent, reproducible streams per dataset: a dataset's CIs do not depend on which
    # other datasets are in the report, and datasets are resampled independently of each other.
    return np.random.default_rng([seed, zlib.crc32(dataset.encode("utf-8"))])


# ---------------------------------------------------------------------------------------------
# The report


def _check(result: DatasetResult) -> None:
    name = result.dataset
    if not result.groups:
        raise ValueError(f"{name}: no images")
    for index, group in enumerate(result.groups):
        if not group:
            raise ValueError(f"{name}: image {index} has no predictions")
    total = sum(len(group) for group in result.groups)
    if result.n_predictions != total:
        raise ValueError(
            f"{name}: n_predictions is {result.n_predictions} but the groups hold {total}"
        )
    unjudged = sum(verdict is None for group in result.groups for verdict in group)
    if not 0 <= result.format_failures <= unjudged:
        raise ValueError(
            f"{name}: format_failures must be within 0..{unjudged} (the predictions without a "
            f"verdict), got {result.format_failures}"
        )
    if result.truncations is not None and not 0 <= result.truncations <= result.format_failures:
        raise ValueError(
            f"{name}: truncations must be within 0..{result.format_failures} (the format "
            f"failures), got {result.truncations}"
        )


def _with_ci(
    point: Mapping[str, float], draws: Mapping[str, np.ndarray], confidence: float
) -> dict[str, Any]:
    return {
        metric: {"value": float(point[metric]), "ci": _interval(draws[metric], confidence)}
        for metric in METRICS
    }


def _dataset_section(
    result: DatasetResult, resamples: int, confidence: float, seed: int
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    _check(result)
    groups = result.groups
    summary = summarize([verdict for group in groups for verdict in group])
    per_image = image_counts(groups)
    sizes = per_image.sum(axis=1)
    smallest, largest = int(sizes.min()), int(sizes.max())
    with_best = largest > 1
    columns = np.hstack([per_image, best_counts(per_image)]) if with_best else per_image
    totals = cluster_bootstrap(columns, resamples, _dataset_rng(seed, result.dataset))
    counts = totals[:, :_K]
    draws = {"plain": scores(counts)}
    share_draws = counts / counts.sum(axis=1, keepdims=True)

    section: dict[str, Any] = {
        "dataset": result.dataset,
        "split": result.split,
        "sample_ids_sha256": result.sample_ids_sha256,
        "n_images": len(groups),
        "n_predictions": result.n_predictions,
        "predictions_per_image": {"min": smallest, "max": largest},
        "counts": {label: int(summary["counts"][label]) for label in LABELS},
        "shares": {label: float(summary["shares"][label]) for label in LABELS},
        "share_ci": {
            label: _interval(share_draws[:, column], confidence)
            for column, label in enumerate(LABELS)
        },
        **_with_ci(summary, draws["plain"], confidence),
        "format_failures": result.format_failures,
        "format_failure_rate": result.format_failures / result.n_predictions,
        "truncations": result.truncations,
        "truncation_rate": (
            None if result.truncations is None else result.truncations / result.n_predictions
        ),
        "undecided": int(summary["counts"][UNJUDGED]) - result.format_failures,
    }
    if with_best:
        oracle = best_of_n(groups)
        draws["best_of_n"] = scores(totals[:, _K:])
        section["best_of_n"] = {
            "n": largest,
            "counts": {label: int(oracle["counts"][label]) for label in LABELS},
            "shares": {label: float(oracle["shares"][label]) for label in LABELS},
            **_with_ci(oracle, draws["best_of_n"], confidence),
        }
    if smallest > 1:
        section["best_of_k"] = [
            {
                "k": entry["k"],
                **{metric: float(entry[metric]) for metric in METRICS},
                "shares": {label: float(entry["shares"][label]) for label in LABELS},
            }
            for entry in best_of_k_curve(groups)
        ]
    return section, draws


def _macro_section(
    names: Sequence[str],
    sections: Mapping[str, dict[str, Any]],
    draws: Mapping[str, dict[str, dict[str, np.ndarray]]],
    confidence: float,
) -> dict[str, Any]:
    members = [sections[name] for name in names]

    def averaged(kind: str) -> dict[str, Any]:
        # "plain" metrics sit at the top of a dataset section, the oracle's under "best_of_n".
        holders = [member if kind == "plain" else member[kind] for member in members]
        point = {m: float(np.mean([holder[m]["value"] for holder in holders])) for m in METRICS}
        mean_draws = {m: np.mean([draws[name][kind][m] for name in names], axis=0) for m in METRICS}
        return _with_ci(point, mean_draws, confidence)

    section: dict[str, Any] = {
        "datasets": list(names),
        "n_images": sum(member["n_images"] for member in members),
        "n_predictions": sum(member["n_predictions"] for member in members),
        "shares": {
            label: float(np.mean([member["shares"][label] for member in members]))
            for label in LABELS
        },
        **averaged("plain"),
        "format_failure_rate": float(np.mean([m["format_failure_rate"] for m in members])),
        "truncation_rate": (
            None
            if any(m["truncation_rate"] is None for m in members)
            else float(np.mean([m["truncation_rate"] for m in members]))
        ),
    }
    if all("best_of_n" in member for member in members):
        section["best_of_n"] = {
            "n": [member["best_of_n"]["n"] for member in members],
            **averaged("best_of_n"),
        }
    return section


def build_report(
    results: Sequence[DatasetResult],
    *,
    model: str,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """The evaluation report of one model, as a JSON-serialisable dict.

    Keys: ``model``; ``meta`` (resamples, confidence, seed, verdict order, groups, one-line
    definitions); ``datasets`` (name -> section, in input order); ``groups`` (name -> macro
    section, only for groups whose datasets are all present); ``overall`` (macro section over
    all datasets). Every metric is ``{"value": float, "ci": [low, high]}``.
    """
    if not results:
        raise ValueError("no dataset results given")
    if resamples < 1:
        raise ValueError(f"resamples must be positive, got {resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    names = [result.dataset for result in results]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise ValueError(f"datasets given more than once: {', '.join(duplicated)}")

    sections: dict[str, dict[str, Any]] = {}
    all_draws: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for result in results:
        sections[result.dataset], all_draws[result.dataset] = _dataset_section(
            result, resamples, confidence, seed
        )
    groups = {
        group: _macro_section(members, sections, all_draws, confidence)
        for group, members in GROUPS.items()
        if all(member in sections for member in members)
    }
    return {
        "model": model,
        "meta": {
            "resamples": resamples,
            "confidence": confidence,
            "seed": seed,
            "bootstrap": "cluster (images resampled with replacement), percentile intervals",
            "verdicts": list(LABELS),
            "groups": {group: list(members) for group, members in GROUPS.items()},
            "definitions": dict(DEFINITIONS),
        },
        "datasets": sections,
        "groups": groups,
        OVERALL: _macro_section(names, sections, all_draws, confidence),
    }


# ---------------------------------------------------------------------------------------------
# Markdown


def format_ci(metric: Mapping[str, Any]) -> str:
    """``0.920 [0.905, 0.934]`` from a ``{"value", "ci"}`` metric."""
    low, high = metric["ci"]
    return f"{metric['value']:.3f} [{low:.3f}, {high:.3f}]"


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def _rate_cell(rate: float | None, count: int | None = None) -> str:
    """``2.0 % (8)``, ``2.0 %`` without a count, ``—`` when not recorded."""
    if rate is None:
        return "—"
    return _percent(rate) if count is None else f"{_percent(rate)} ({count:,})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _curve_ks(n: int) -> list[int]:
    ks = [1]
    while ks[-1] * 2 < n:
        ks.append(ks[-1] * 2)
    return [*ks, n] if n > 1 else ks


def judge_setup_line(judge: Mapping[str, Any]) -> str:
    """``llm-1a2b3c4d (LLM Qwen/Qwen3-8B, prompt base v1)``, or why no set-up is named."""
    if judge.get("setup") is None:
        return "not recorded"
    llm = judge.get("llm")
    if llm is None:
        return f"{judge['setup']} (lexical and taxonomy judges, no LLM)"
    return f"{judge['setup']} (LLM {llm['model']}, prompt {llm['prompt']} v{llm['prompt_version']})"


def _provenance(report: Mapping[str, Any]) -> list[str]:
    """Which images (split, count, digest of their ids) and which judges: what makes two
    reports comparable. Empty for a report that records neither."""
    datasets: Mapping[str, Any] = report["datasets"]
    if not any(s.get("split") or s.get("judge") for s in datasets.values()):
        return []
    lines = ["", "## Images and judges", ""]
    judge = report.get("judge")
    if judge is not None:
        lines.append(f"Judge set-up: {judge_setup_line(judge)}.")
        others = [setup for setup in judge.get("verified_setups", []) if setup != judge["setup"]]
        if others:
            lines.append("")
            lines.append(
                f"Also verified in this folder: {', '.join(others)} "
                "(`speciarl report --judge ID` reports one of them)."
            )
        lines.append("")
    header = ["dataset", "split", "images", "image ids (sha256)", "judges", "judge id"]
    header += [f"by {decider}" for decider in DECIDERS]
    rows = []
    for name, section in datasets.items():
        verdicts = section.get("judge") or {}
        decided = verdicts.get("decided_by", {})
        rows.append(
            [
                name,
                section.get("split") or "—",
                f"{section['n_images']:,}",
                section.get("sample_ids_sha256") or "—",
                verdicts.get("summary") or "—",
                verdicts.get("judge_id") or "—",
                *(f"{decided[d]:,}" if d in decided else "—" for d in DECIDERS),
            ]
        )
    return lines + _table(header, rows)


def render_markdown(report: Mapping[str, Any]) -> str:
    """Paper-style Markdown: a results table (datasets, then group rows), the verdict
    distribution and, where predictions were sampled several times, the best-of-k curve."""
    meta = report["meta"]
    datasets: Mapping[str, Any] = report["datasets"]
    macro_rows = [*report.get("groups", {}).items()]
    if OVERALL in report:
        macro_rows.append((OVERALL, report[OVERALL]))
    lines = [
        f"# Evaluation report: {report['model']}",
        "",
        f"Metrics with {100 * meta['confidence']:g} % bootstrap confidence intervals "
        f"({meta['resamples']:,} resamples of images, seed {meta['seed']}). Group rows are the "
        "mean of their datasets' metrics.",
        "",
        "## Results",
        "",
    ]
    header = [
        "dataset",
        "images",
        "predictions",
        "specificity",
        "correctness",
        "HM",
        "format failures",
        "of which truncated",
        "best-of-N HM",
    ]

    def best_cell(section: Mapping[str, Any]) -> str:
        oracle = section.get("best_of_n")
        if not oracle:
            return "—"
        n = oracle["n"]
        label = n if isinstance(n, int) else "/".join(str(v) for v in sorted(set(n)))
        return f"{format_ci(oracle['hm'])} (N={label})"

    rows = [
        [
            name,
            f"{section['n_images']:,}",
            f"{section['n_predictions']:,}",
            *(format_ci(section[metric]) for metric in METRICS),
            f"{_percent(section['format_failure_rate'])} ({section['format_failures']:,})",
            _rate_cell(section["truncation_rate"], section["truncations"]),
            best_cell(section),
        ]
        for name, section in datasets.items()
    ]
    rows += [
        [
            f"**{name}** (mean of {len(section['datasets'])})",
            f"{section['n_images']:,}",
            f"{section['n_predictions']:,}",
            *(format_ci(section[metric]) for metric in METRICS),
            _percent(section["format_failure_rate"]),
            _rate_cell(section["truncation_rate"]),
            best_cell(section),
        ]
        for name, section in macro_rows
    ]
    lines += _table(header, rows)

    lines += _provenance(report)

    lines += ["", "## Verdict distribution (share of all predictions)", ""]
    share_rows = [
        [name, *(_percent(section["shares"][label]) for label in meta["verdicts"])]
        for name, section in datasets.items()
    ]
    share_rows += [
        [f"**{name}** (mean)", *(_percent(section["shares"][label]) for label in meta["verdicts"])]
        for name, section in macro_rows
    ]
    lines += _table(["dataset", *meta["verdicts"]], share_rows)

    curves = {name: s["best_of_k"] for name, s in datasets.items() if s.get("best_of_k")}
    if curves:
        ks = sorted({k for curve in curves.values() for k in _curve_ks(len(curve))})
        lines += ["", "## Best-of-k HM (expected HM when the best of k predictions is kept)", ""]
        curve_rows = [
            [name, *(f"{curve[k - 1]['hm']:.3f}" if k <= len(curve) else "—" for k in ks)]
            for name, curve in curves.items()
        ]
        lines += _table(["dataset", *(f"k={k}" for k in ks)], curve_rows)

    lines += ["", "## Definitions", ""]
    lines += [f"- **{name}**: {text}" for name, text in meta["definitions"].items()]
    return "\n".join(lines) + "\n"
