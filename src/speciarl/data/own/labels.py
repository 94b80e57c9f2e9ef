"""Labels and splits of user data: cleaning untrusted label text, and a seeded split for sources
that come without one.

Labels reach the judge and the reward, so they are cleaned the same way whatever the source, and
a label that cleans to nothing is an error naming where it came from rather than an empty
ground truth. The seeded split depends only on the items, the seed and the fraction, so the same
files always give the same sample ids.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence

from speciarl.data.errors import DatasetError

SEEDED_SPLITS = ("train", "test", "all")
MAX_LABEL_CHARS = 200
"""A class name longer than this is more likely a wrong column than a label."""
_NUMBER_PREFIX = re.compile(r"^\d+[._-]")
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def clean_text_label(raw: str) -> str:
    """Underscores as spaces, whitespace collapsed, control characters dropped."""
    text = "".join(ch for ch in raw if unicodedata.category(ch) != "Cc" or ch.isspace())
    return " ".join(text.replace("_", " ").split())


def clean_folder_label(raw: str) -> str:
    """A class folder's name as a label: ``001.Black_footed_Albatross`` -> ``Black footed
    Albatross`` (a numeric ordering prefix is not part of the class name)."""
    return clean_text_label(_NUMBER_PREFIX.sub("", raw.strip()))


def checked_label(label: str, raw: str, where: str) -> str:
    """``label`` (cleaned from ``raw``), or an error naming ``where`` when it is no label."""
    if not label:
        raise DatasetError(f"{where}: empty label (from {raw!r})")
    if len(label) > MAX_LABEL_CHARS:
        raise DatasetError(
            f"{where}: a label of {len(label)} characters (more than {MAX_LABEL_CHARS}); "
            "is this the label column?"
        )
    return label


def checked_split_name(split: str, where: str) -> str:
    """Split names become part of sample ids (``dataset/split/index``) and of ``--split``."""
    if not _SPLIT_NAME.match(split):
        raise DatasetError(
            f"{where}: split name {split!r} must be letters, digits, '_', '.' or '-' "
            "(it is part of every sample id)"
        )
    return split


def seeded_split(
    class_ids: Sequence[str], *, test_fraction: float, seed: int
) -> dict[str, list[int]]:
    """Positions (in source order) of ``train``, ``test`` and ``all``, stratified by class.

    Each class's items, in source order, are shuffled by a generator seeded with the seed and
    the class id alone, so adding a class does not move another class's items; ``round(fraction
    * n)`` go to test, and a class of two or more keeps at least one item on each side.
    """
    by_class: dict[str, list[int]] = {}
    for position, class_id in enumerate(class_ids):
        by_class.setdefault(class_id, []).append(position)
    test: set[int] = set()
    for class_id, positions in by_class.items():
        shuffled = list(positions)
        random.Random(f"{seed}:{class_id}").shuffle(shuffled)
        count = round(test_fraction * len(shuffled))
        if len(shuffled) >= 2:
            count = min(max(count, 1), len(shuffled) - 1)
        test.update(shuffled[:count])
    everything = list(range(len(class_ids)))
    return {
        "train": [p for p in everything if p not in test],
        "test": [p for p in everything if p in test],
        "all": everything,
    }
