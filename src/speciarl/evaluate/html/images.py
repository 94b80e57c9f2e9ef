"""Finding the image of a sample id for a page, never failing the page for a missing image.

A sample id is ``<dataset>/<split>/<index>`` (`speciarl.data.sample.make_sample_id`), so an image
is found, in this order: among samples the caller already holds (``eval`` passes the ones it
predicted); in a built split (a training run's ``data/train``, read by sample id with a Parquet
filter, so only the wanted rows); else in the shipped dataset the id names, loaded through
`speciarl.data.registry.get_dataset` with the root and source given.

The data layer has no lookup by index, so that last step loads the split's whole sample list,
once per split: from local files that is the annotation files (images are read only for the ids
shown); from a Hub copy it is every row of the split, image bytes included. The page says which
splits were loaded (`ImageFinder.loaded`).

Only what means "this image is unavailable" becomes a placeholder: a dataset that cannot be
loaded as asked (`DatasetError`: unknown, no root given, not downloaded, files missing), a file
that cannot be read (`OSError`, `ImageReadError`), an id with no image, bytes that are no image.
The page says how many and why; any other error is a bug and propagates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from speciarl.data.errors import DatasetError
from speciarl.data.sample import ImageReadError, Sample
from speciarl.evaluate.html.shared import thumbnail_uri


class ImageUnavailable(LookupError):
    """A sample id whose image cannot be had; the message says why."""


class ImageFinder:
    """Thumbnails by sample id, from the first place that has the image (see the module)."""

    def __init__(
        self,
        *,
        samples: Iterable[Sample] = (),
        built: Path | None = None,
        root: Path | None = None,
        source: str = "local",
    ) -> None:
        self._samples = {sample.sample_id: sample for sample in samples}
        self._built = built
        self._root = root
        self._source = source
        self._loaded: dict[tuple[str, str], dict[int, Sample] | str] = {}
        self.labels: dict[str, str] = {}
        """The label of every sample whose image was found."""
        self.missing: Counter[str] = Counter()
        """Why images could not be shown, with how many each reason hid."""
        self.loaded: list[str] = []
        """Each dataset split whose whole sample list was loaded to find images, and from where."""

    def note(self) -> dict[str, Any]:
        """What a page says about its images: why some are missing, which splits were loaded."""
        return {"missing": dict(self.missing), "loaded": list(self.loaded)}

    def pictures(self, sample_ids: Sequence[str]) -> dict[str, bytes | None]:
        """Each id's encoded image, ``None`` where it cannot be found or read."""
        wanted = list(dict.fromkeys(sample_ids))
        found: dict[str, bytes | None] = dict(
            self._from_built([sid for sid in wanted if sid not in self._samples])
        )
        for sample_id in wanted:
            if found.get(sample_id) is not None:
                continue
            try:
                sample = self._sample(sample_id)
                self.labels[sample_id] = sample.label
                found[sample_id] = sample.image_bytes()
            except (ImageUnavailable, ImageReadError) as error:
                self.missing[_first_line(error)] += 1
                found[sample_id] = None
        return found

    def thumbnails(self, sample_ids: Sequence[str]) -> dict[str, str | None]:
        """Each id's thumbnail as a ``data:`` URI, ``None`` where the image is unavailable."""
        found: dict[str, str | None] = {}
        for sample_id, picture in self.pictures(sample_ids).items():
            found[sample_id] = None
            if picture is not None:
                try:
                    found[sample_id] = thumbnail_uri(picture)
                except ValueError as error:
                    self.missing[str(error)] += 1
        return found

    def _from_built(self, sample_ids: Sequence[str]) -> dict[str, bytes]:
        """The image bytes of those ids found in the built split's Parquet file."""
        from speciarl.data.build import DATA_FILE

        path = None if self._built is None else self._built / DATA_FILE
        if path is None or not sample_ids or not path.is_file():
            return {}
        import pyarrow.parquet as pq

        table = pq.read_table(
            path,
            columns=["sample_id", "label", "image"],
            filters=[("sample_id", "in", list(sample_ids))],
        )
        ids = table.column("sample_id").to_pylist()
        self.labels.update(zip(ids, table.column("label").to_pylist(), strict=True))
        images = table.column("image").to_pylist()
        return {sid: image["bytes"] for sid, image in zip(ids, images, strict=True) if image}

    def _sample(self, sample_id: str) -> Sample:
        if sample_id in self._samples:
            return self._samples[sample_id]
        parts = sample_id.rsplit("/", 2)
        if len(parts) != 3 or not parts[2].isdigit():
            raise ImageUnavailable(f"sample id {sample_id!r} is not <dataset>/<split>/<index>")
        dataset, split, index = parts[0], parts[1], int(parts[2])
        loaded = self._split(dataset, split)
        if isinstance(loaded, str):
            raise ImageUnavailable(loaded)
        if index not in loaded:
            raise ImageUnavailable(f"{dataset} {split} has no image {index}")
        return loaded[index]

    def _split(self, dataset: str, split: str) -> dict[int, Sample] | str:
        """The split's samples by index, or why they cannot be loaded (asked once per split)."""
        key = (dataset, split)
        if key not in self._loaded:
            from speciarl.data.registry import REGISTRY

            spec = REGISTRY.get(dataset)
            if spec is None:
                self._loaded[key] = (
                    f"{dataset} is not a shipped dataset and the folder does not record where "
                    "its images are"
                )
            else:
                try:
                    samples = spec.load(split, root=self._root, source=self._source)
                except (DatasetError, OSError) as error:
                    self._loaded[key] = f"{dataset} {split}: {_first_line(error)}"
                else:
                    self._loaded[key] = {sample.index: sample for sample in samples}
                    self.loaded.append(self._describe(dataset, split, len(samples)))
        return self._loaded[key]

    def _describe(self, dataset: str, split: str, count: int) -> str:
        if self._source == "hub":
            return f"{dataset} {split}: {count:,} samples, every row of the Hub copy read"
        where = f" under {self._root}" if self._root is not None else ""
        return f"{dataset} {split}: {count:,} samples listed{where}, only the shown images read"


def _first_line(error: BaseException) -> str:
    return (str(error).strip() or type(error).__name__).splitlines()[0]
