"""Reading a dataset reference: what it points at, and the ``?key=value&...`` options after it.

Parsing is kept apart from loading so that a typo in an option fails before any file is read,
and so that every source kind sees the same checked options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from speciarl.data.errors import DatasetError

HUB_PREFIX = "hub:"
DEFAULT_TEST_FRACTION = 0.2
DEFAULT_SEED = 0
OPTION_KEYS = ("image", "label", "split", "name", "test_fraction", "seed")
_NOT_IN_NAME = re.compile(r"[^a-z0-9_-]")


@dataclass(frozen=True)
class Options:
    """The options of a reference; ``given`` holds the keys the user wrote, so a source can
    refuse one that does not apply to it instead of ignoring it."""

    image: str | None = None
    label: str | None = None
    split: str | None = None
    name: str | None = None
    test_fraction: float = DEFAULT_TEST_FRACTION
    seed: int = DEFAULT_SEED
    given: tuple[str, ...] = field(default=())

    def refuse(self, keys: tuple[str, ...], why: str, reference: str) -> None:
        """Fail on the first of ``keys`` that was given: it means nothing for this source."""
        for key in keys:
            if key in self.given:
                raise DatasetError(f"{reference}: option {key!r} does not apply: {why}")


@dataclass(frozen=True)
class Reference:
    """A user reference as written (``text``), split into its target and its options."""

    text: str
    target: str
    options: Options

    @property
    def is_hub(self) -> bool:
        return self.target.startswith(HUB_PREFIX)

    @property
    def hub_id(self) -> str:
        return self.target[len(HUB_PREFIX) :]

    @property
    def path(self) -> Path:
        """The target as a path: ``~`` expanded, relative to the current folder."""
        return Path(self.target).expanduser()


def parse_reference(text: str) -> Reference:
    """``TARGET`` or ``TARGET?key=value&key=value``; an unknown key or a bad value is an error
    naming the key. A target that exists as a path with ``?`` in it is taken whole."""
    if "?" not in text or Path(text).expanduser().exists():
        return Reference(text, text, Options())
    target, _, query = text.partition("?")
    if not target:
        raise DatasetError(f"{text}: nothing before '?'; give a path or hub:ID")
    return Reference(text, target, parse_options(query, text))


def parse_options(query: str, reference: str) -> Options:
    values: dict[str, object] = {}
    for piece in query.split("&"):
        key, equals, value = piece.partition("=")
        key = key.strip()
        if not equals:
            raise DatasetError(f"{reference}: option {piece!r} is not key=value")
        if key not in OPTION_KEYS:
            raise DatasetError(
                f"{reference}: unknown option {key!r}; choose from {', '.join(OPTION_KEYS)}"
            )
        if key in values:
            raise DatasetError(f"{reference}: option {key!r} is given twice")
        values[key] = _option_value(key, value.strip(), reference)
    return Options(**values, given=tuple(values))  # type: ignore[arg-type]


def _option_value(key: str, value: str, reference: str) -> object:
    if not value:
        raise DatasetError(f"{reference}: option {key!r} has no value")
    if key == "test_fraction":
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not 0.0 < fraction < 1.0:
            raise DatasetError(
                f"{reference}: option 'test_fraction' must be a number between 0 and 1 "
                f"(exclusive), got {value!r}"
            )
        return fraction
    if key == "seed":
        try:
            return int(value)
        except ValueError:
            raise DatasetError(
                f"{reference}: option 'seed' must be a whole number, got {value!r}"
            ) from None
    if key == "name":
        return dataset_name(value, f"{reference}: option 'name'")
    return value


def dataset_name(raw: str, where: str) -> str:
    """The name in sample ids and output folders: lower case, anything outside ``[a-z0-9_-]``
    turned into ``-`` (it becomes a folder name and part of ``dataset/split/index``)."""
    name = _NOT_IN_NAME.sub("-", raw.strip().lower()).strip("-")
    if not name:
        raise DatasetError(f"{where}: {raw!r} gives an empty dataset name; give ?name=NAME")
    return name


def looks_like_path(text: str) -> bool:
    """Whether a string that is not a dataset was probably meant as a file or folder."""
    suffixes = (".csv", ".jsonl", ".json", ".parquet")
    return (
        "/" in text
        or "\\" in text
        or text.startswith((".", "~"))
        or text.lower().endswith(suffixes)
    )
