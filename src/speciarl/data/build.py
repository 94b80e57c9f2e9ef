"""Writing a benchmark split to disk in TRL's conversational format, as Parquet.

Rows carry a text-only conversational ``prompt``, the ``image`` (original bytes), and ``label``,
``sample_id``, ``data_source`` plus provenance columns. Every image is decoded once on the way:
a corrupt one is reported by sample id and listed in the manifest, never dropped silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speciarl.atomic import atomic_path, atomic_write
from speciarl.data.sample import ImageReadError, Sample
from speciarl.data.verl_rows import verl_features, verl_row
from speciarl.prompts import PolicyPrompt

DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
_ROWS_PER_BATCH = 256


@dataclass
class BuildReport:
    """What a build wrote and what it could not."""

    written: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)


def conversation(prompt: PolicyPrompt) -> list[dict[str, str]]:
    """The text-only conversational prompt TRL expects; the image travels in its own column."""
    return [{"role": "user", "content": prompt.text}]


def build_split(
    samples: Sequence[Sample],
    out_dir: Path,
    prompt: PolicyPrompt,
    *,
    metadata: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    layout: str = "trl",
) -> BuildReport:
    """Write ``samples`` to ``out_dir/data.parquet`` and a manifest, both atomically.

    ``layout="verl"`` writes verl's RL dataset layout instead: the image marked by ``<image>`` in
    the prompt, an ``images`` list, and the reward columns of
    :func:`speciarl.data.verl_rows.verl_row_fields` (with ``extra_info.sample_id``).
    """
    import pyarrow.parquet as pq

    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    report = BuildReport()
    schema = LAYOUTS[layout][1]().arrow_schema
    make_row = LAYOUTS[layout][0]
    with atomic_path(out_dir / DATA_FILE) as partial, pq.ParquetWriter(partial, schema) as writer:
        for batch in _batches(samples, prompt, report, progress, make_row):
            writer.write_batch(_to_arrow(batch, schema))
    manifest = {
        **(metadata or {}),
        "layout": layout,
        "prompt": {"name": prompt.name, "version": prompt.version, "digest": prompt.digest},
        "rows": report.written,
        "failures": report.failures,
    }
    with atomic_write(out_dir / MANIFEST_FILE) as stream:
        json.dump(manifest, stream, indent=2, ensure_ascii=False)
        stream.write("\n")
    return report


def _batches(
    samples: Sequence[Sample],
    prompt: PolicyPrompt,
    report: BuildReport,
    progress: Callable[[int], None] | None,
    make_row: RowMaker,
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for sample in samples:
        try:
            data = sample.image_bytes()
            sample.image()  # decodes: a corrupt file fails here, not in a trainer hours later
        except ImageReadError as error:
            report.failures.append({"sample_id": sample.sample_id, "error": str(error)})
        else:
            batch.append(make_row(sample, data, prompt))
            report.written += 1
        if progress is not None:
            progress(1)
        if len(batch) == _ROWS_PER_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _trl_row(sample: Sample, data: bytes, prompt: PolicyPrompt) -> dict[str, Any]:
    return {
        "sample_id": sample.sample_id,
        "data_source": sample.dataset,
        "split": sample.split,
        "index": sample.index,
        "label": sample.label,
        "class_id": sample.class_id,
        "prompt": conversation(prompt),
        "image": {"bytes": data, "path": None},
    }


def _verl_row(sample: Sample, data: bytes, prompt: PolicyPrompt) -> dict[str, Any]:
    return verl_row(
        sample_id=sample.sample_id,
        data_source=sample.dataset,
        label=sample.label,
        index=sample.index,
        prompt_text=prompt.text,
        image=data,
    )


def _trl_features() -> Any:
    import datasets

    return datasets.Features(
        {
            "sample_id": datasets.Value("string"),
            "data_source": datasets.Value("string"),
            "split": datasets.Value("string"),
            "index": datasets.Value("int64"),
            "label": datasets.Value("string"),
            "class_id": datasets.Value("string"),
            "prompt": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
            "image": datasets.Image(),
        }
    )


RowMaker = Callable[[Sample, bytes, PolicyPrompt], dict[str, Any]]
LAYOUTS: dict[str, tuple[RowMaker, Callable[[], Any]]] = {
    "trl": (_trl_row, _trl_features),
    "verl": (_verl_row, verl_features),
}


def _to_arrow(rows: list[dict[str, Any]], schema: Any) -> Any:
    import pyarrow as pa

    return pa.RecordBatch.from_pylist(rows, schema=schema)


def load_built(out_dir: Path) -> Any:
    """A built split as a ``datasets.Dataset`` (images decode to PIL on access)."""
    import datasets

    return datasets.Dataset.from_parquet(str(out_dir / DATA_FILE))
