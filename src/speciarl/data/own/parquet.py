"""A Parquet file: our own built layout (what ``speciarl data build`` writes), or any table.

A built file already has sample ids; reading it back keeps them (its ``data_source``, ``split``
and ``index``), so predictions and verdicts made on the built file line up with those made on
the source it came from. Any other Parquet file is a generic table (:mod:`.hub_any`).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from speciarl.data.errors import DatasetError
from speciarl.data.own.hub_any import RowImage, load_tables
from speciarl.data.own.labels import checked_label, checked_split_name, clean_text_label
from speciarl.data.own.reference import Reference, dataset_name
from speciarl.data.own.source import OwnDataset, make_dataset
from speciarl.data.sample import Sample, make_sample_id

BUILT_COLUMNS = ("sample_id", "data_source", "split", "index", "label", "class_id", "image")


def load_parquet(
    path: Path, reference: Reference, default_name: str, shipped: Collection[str]
) -> OwnDataset:
    """``path`` in our built layout if it has its columns, else as a generic table."""
    import datasets
    import pyarrow.parquet as pq

    try:
        columns = pq.read_schema(path).names
        table = datasets.Dataset.from_parquet(str(path))
    except (OSError, ValueError) as error:
        raise DatasetError(f"{reference.text}: cannot read {path} as Parquet: {error}") from None
    if all(column in columns for column in BUILT_COLUMNS):
        return _load_built(table, path, reference, default_name, shipped)
    name = reference.options.name or default_name
    return load_tables(table, reference, name, source=str(path), base=path.parent)


def _load_built(
    table: Any, path: Path, reference: Reference, default_name: str, shipped: Collection[str]
) -> OwnDataset:
    """Rows keep their split and index, and their data source unless ``?name=`` renames it."""
    import datasets

    options = reference.options
    options.refuse(
        ("image", "label", "split", "test_fraction", "seed"),
        "a built Parquet file has its own columns and splits",
        reference.text,
    )
    rows = table.select_columns([c for c in BUILT_COLUMNS if c != "image"]).to_dict()
    sources = list(dict.fromkeys(rows["data_source"]))
    if options.name is not None:
        name = options.name
    elif len(sources) == 1:
        name = dataset_name(str(sources[0]), f"{reference.text}: data_source")
    else:
        name = default_name  # a mixed set: each row keeps its own data source
    images = table.select_columns(["image"])
    if isinstance(table.features["image"], datasets.Image):
        images = images.cast_column("image", datasets.Image(decode=False))
    samples: dict[str, list[Sample]] = {}
    seen: dict[str, int] = {}
    for row in range(len(images)):
        here = f"{path} row {row}"
        split = checked_split_name(str(rows["split"][row]), f"{here}, column 'split'")
        index = rows["index"][row]
        if not isinstance(index, int) or index < 0:
            raise DatasetError(f"{here}: column 'index' holds {index!r}, not a position")
        source = options.name or str(rows["data_source"][row])
        sample_id = make_sample_id(source, split, index)
        if options.name is None and rows["sample_id"][row] != sample_id:
            raise DatasetError(
                f"{here}: sample_id {rows['sample_id'][row]!r} is not data_source/split/index "
                f"({sample_id})"
            )
        if sample_id in seen:
            raise DatasetError(f"{here}: sample {sample_id} again (first at row {seen[sample_id]})")
        seen[sample_id] = row
        raw = str(rows["class_id"][row] or "")
        label = checked_label(str(rows["label"][row] or "").strip(), raw, f"{here}, column 'label'")
        reader = RowImage(images, "image", row)
        sample = Sample(source, split, index, label, raw, reader, f"{path}[{row}]")
        samples.setdefault(split, []).append(sample)
    if not samples:
        raise DatasetError(f"{reference.text}: {path} holds no rows")
    one_shipped = sources[0] if len(sources) == 1 and sources[0] in shipped else None
    return make_dataset(
        name,
        reference.text,
        f"built Parquet file {path} (data sources: {', '.join(map(str, sources))}), its own "
        "splits and sample ids",
        samples,
        fallback_clean=clean_text_label,
        shipped=one_shipped if name == one_shipped else None,
    )
