"""One labelled image of a benchmark, with its image read and decoded only when asked for."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


class ImageReadError(RuntimeError):
    """An image that cannot be read or decoded; the message names the sample."""


def make_sample_id(dataset: str, split: str, index: int) -> str:
    """The stable id of a sample: only its dataset, split and index in the source decide it."""
    if index < 0:
        raise ValueError(f"index must not be negative, got {index}")
    return f"{dataset}/{split}/{index}"


@dataclass(frozen=True, slots=True)
class Sample:
    """A benchmark item.

    ``label`` is the cleaned class name the judge compares answers with (CUB
    ``001.Black_footed_Albatross`` becomes ``Black footed Albatross``); ``class_id`` keeps the
    raw class identifier of the source. ``read_bytes`` returns the image file's original bytes,
    never re-encoded.
    """

    dataset: str
    split: str
    index: int
    label: str
    class_id: str
    read_bytes: Callable[[], bytes] = field(repr=False, compare=False)
    origin: str = ""
    """Where the image comes from (a file path, a Hub row), for error messages."""

    @property
    def sample_id(self) -> str:
        return make_sample_id(self.dataset, self.split, self.index)

    def image_bytes(self) -> bytes:
        """The original encoded image, read now."""
        try:
            return self.read_bytes()
        except OSError as error:
            raise ImageReadError(f"{self.sample_id}: cannot read {self.origin}: {error}") from None

    def image(self) -> Image.Image:
        """The decoded RGB image, decoded now."""
        from PIL import Image, UnidentifiedImageError

        data = self.image_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image:
                return image.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as error:
            raise ImageReadError(
                f"{self.sample_id}: corrupt image {self.origin}: {error}"
            ) from None


def file_reader(path: Path) -> Callable[[], bytes]:
    """A reader of a file's bytes, opened only when called."""
    return path.read_bytes
