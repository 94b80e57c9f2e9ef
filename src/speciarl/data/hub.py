"""Loading a benchmark from a public copy on the Hugging Face Hub through ``datasets``.

Copies differ in column names, so the image column is the one with the ``Image`` feature and the
label column the one with the ``ClassLabel`` feature; its names give the raw class ids. Images
are read with ``decode=False`` so their original bytes are kept, never re-encoded.

The column finding and the image reading here are also what user datasets
(:mod:`speciarl.data.own`) use for any Hub dataset or Parquet table: one definition of each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from speciarl.data.errors import DatasetError
from speciarl.data.sample import Sample


def load_hub_split(
    dataset: str,
    hub_id: str,
    split: str,
    *,
    hub_split: str | None = None,
    clean_label: Callable[[str], str],
    revision: str | None = None,
) -> list[Sample]:
    """Samples of ``split`` from the Hub copy ``hub_id`` (a Hub id or a local copy's folder)."""
    import datasets

    name = hub_split or split
    try:
        table = datasets.load_dataset(hub_id, split=name, revision=revision)
    except (FileNotFoundError, ValueError, ConnectionError, OSError) as error:
        raise DatasetError(f"{dataset}: cannot load split {name!r} of {hub_id}: {error}") from None
    image_column = single_column(table.features, datasets.Image, f"{dataset}: {hub_id}", "image")
    label_column = single_column(
        table.features, datasets.ClassLabel, f"{dataset}: {hub_id}", "class label"
    )
    class_names = table.features[label_column].names
    table = table.cast_column(image_column, datasets.Image(decode=False))
    samples = []
    for index, row in enumerate(table):
        class_id = class_names[row[label_column]]
        image = row[image_column]
        origin = f"{hub_id}[{name}][{index}]"
        samples.append(
            Sample(
                dataset, split, index, clean_label(class_id), class_id, image_reader(image), origin
            )
        )
    return samples


def feature_columns(features: Mapping[str, Any], kind: type) -> list[str]:
    """The columns whose feature is of ``kind`` (``datasets.Image``, ``datasets.ClassLabel``):
    how a copy's image and label columns are found whatever they are called."""
    return [column for column, feature in features.items() if isinstance(feature, kind)]


def single_column(features: Mapping[str, Any], kind: type, where: str, what: str) -> str:
    """The one column of feature ``kind``; none or several is an error naming ``where``."""
    columns = feature_columns(features, kind)
    if len(columns) != 1:
        raise DatasetError(
            f"{where} should have exactly one {what} column, found {columns or 'none'}"
        )
    return columns[0]


def image_reader(
    image: Mapping[str, Any] | str | None, base: Path | None = None
) -> Callable[[], bytes]:
    """A reader of a row's image, read lazily: its embedded bytes, or the file it points to (a
    relative path is taken from ``base`` when given). A string is a path."""
    if isinstance(image, str):
        data, path = None, image
    elif image is None:
        return _no_image
    else:
        data, path = image.get("bytes"), image.get("path")
    if data is not None:
        return lambda: data
    if path:
        located = Path(path).expanduser()
        if base is not None and not located.is_absolute():
            located = base / located
        return located.read_bytes
    return _no_image


def _no_image() -> bytes:
    raise OSError("the row holds no image bytes and no path")
