"""A first hierarchy for a user's own label set, holding only structure that is certain.

``speciarl hierarchy draft`` writes it; the user then adds what only they know (broad roots,
synonyms) and checks each group. The one rule: labels that end in the same word, where that word
is alphabetic and at least three letters long, become the children of a ``close`` node named by
the word ("Golden-winged Warbler" and "Blue-winged Warbler" under "warbler"). A label that is
that word itself becomes the group's node instead of a duplicate. A word needs at least two
labels (counting a label that is the word) to make a group; every other label is a root leaf.
Words are compared by :func:`speciarl.answer.name_key`, so case, dashes and punctuation do not
matter. Numbers ("737-200", "Sedan 2012") and short words never group, and nothing is guessed:
no plurals, no synonyms, no broader categories.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from speciarl.answer import name_key
from speciarl.atomic import atomic_write

MIN_GROUP_WORD = 3
"""Fewest letters of a final word that groups labels: shorter ones are codes, not kinds."""

MIN_GROUP_SIZE = 2
"""Fewest labels (a label that is the word included) that make a group."""


class DraftError(ValueError):
    """Labels that cannot be drafted into a hierarchy, or a draft that cannot be written."""


@dataclass(frozen=True, slots=True)
class Group:
    """Labels sharing a final word, under one ``close`` node."""

    word: str
    """The shared final word, as name_key writes it (lower case)."""
    label: str | None
    """The label that is the word itself, which names the group's node; None if no label is."""
    members: tuple[str, ...]
    """The other labels of the group, in input order: the node's children."""

    @property
    def name(self) -> str:
        return self.word if self.label is None else self.label

    @property
    def size(self) -> int:
        return len(self.members) + (self.label is not None)


@dataclass(frozen=True, slots=True)
class Draft:
    """A drafted hierarchy: groups and ungrouped labels, roots in the order labels came."""

    name: str
    closed_world: bool
    labels: tuple[str, ...]
    roots: tuple[Group | str, ...]
    """A group, or an ungrouped label (a root leaf)."""

    def summary(self) -> str:
        """How many labels, groups and ungrouped labels (root leaves) the draft has."""
        return (
            f"{_count(len(self.labels), 'label')}, {_count(len(self.groups), 'group')}, "
            f"{_count(len(self.ungrouped), 'ungrouped root')}"
        )

    @property
    def groups(self) -> tuple[Group, ...]:
        return tuple(root for root in self.roots if isinstance(root, Group))

    @property
    def ungrouped(self) -> tuple[str, ...]:
        return tuple(root for root in self.roots if isinstance(root, str))

    def to_dict(self) -> dict[str, Any]:
        """The hierarchy as ``Hierarchy.from_dict`` reads it."""
        return {
            "name": self.name,
            "closed_world": self.closed_world,
            "roots": [_node(root) for root in self.roots],
        }

    def to_yaml(self) -> str:
        """The hierarchy file: a comment saying what to check and add, then the hierarchy."""
        body = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)
        return _header(self) + body


def read_labels(path: str | os.PathLike[str]) -> list[str]:
    """The labels of a UTF-8 text file, one a line; blank lines and ``#`` comment lines skipped.

    Two lines naming the same label (by name key) are an error naming both lines.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is no part of a label
    except UnicodeDecodeError as error:
        raise DraftError(f"{path}: not UTF-8 text: {error}") from error
    except OSError as error:
        raise DraftError(f"{path}: cannot read: {error.strerror or error}") from error
    numbered = [
        (f"line {number}", line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#")
    ]
    check_labels(numbered, str(path))
    return [label for _, label in numbered]


def check_labels(labels: Sequence[tuple[str, str]], source: str) -> None:
    """Raise :class:`DraftError` for an empty list, a label with no letter or digit, or two
    labels with the same name key; ``labels`` holds (where, label) pairs such as ("line 3", ...).
    """
    if not labels:
        raise DraftError(f"{source}: no labels")
    seen: dict[str, tuple[str, str]] = {}
    for where, label in labels:
        key = name_key(label)
        if not key:
            raise DraftError(f"{source}: {where}: {label!r} has no letter or digit")
        if key in seen:
            first_where, first = seen[key]
            raise DraftError(
                f"{source}: {where}: {label!r} is the same label as {first_where}: {first!r}"
            )
        seen[key] = (where, label)


def draft_hierarchy(labels: Iterable[str], *, name: str, closed_world: bool = False) -> Draft:
    """Draft a hierarchy of ``labels`` (distinct by name key) grouped by their final word."""
    labels = tuple(labels)
    check_labels([(f"label {index}", label) for index, label in enumerate(labels, 1)], name)
    by_word: dict[str, list[str]] = {}
    for label in labels:
        word = _group_word(label)
        if word is not None:
            by_word.setdefault(word, []).append(label)
    groups: dict[str, Group] = {}
    for word, members in by_word.items():
        if len(members) < MIN_GROUP_SIZE:
            continue
        itself = next((label for label in members if name_key(label) == word), None)
        others = tuple(label for label in members if name_key(label) != word)
        groups[word] = Group(word, itself, others)
    roots: dict[str, Group | str] = {}
    for label in labels:
        word = _group_word(label)
        if word in groups:
            roots.setdefault(f"group:{word}", groups[word])
        else:
            roots[f"label:{name_key(label)}"] = label
    return Draft(name=name, closed_world=closed_world, labels=labels, roots=tuple(roots.values()))


def write_draft(draft: Draft, path: str | os.PathLike[str], *, force: bool = False) -> None:
    """Write the draft's YAML to ``path`` atomically; an existing file only with ``force``."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise DraftError(f"{path}: the draft is YAML; name the file .yaml or .yml")
    if path.is_dir():
        raise DraftError(f"{path}: is a folder")
    if path.exists() and not force:
        raise DraftError(f"{path}: exists; give --force to overwrite it")
    with atomic_write(path) as stream:
        stream.write(draft.to_yaml())


def _group_word(label: str) -> str | None:
    """The label's final word if it may group labels: alphabetic, at least three letters."""
    words = name_key(label).split()
    last = words[-1] if words else ""
    return last if last.isalpha() and len(last) >= MIN_GROUP_WORD else None


def _node(root: Group | str) -> dict[str, Any]:
    if isinstance(root, str):
        return {"name": root}
    return {
        "name": root.name,
        "rank": "close",
        "children": [{"name": member} for member in root.members],
    }


def _header(draft: Draft) -> str:
    groups = draft.groups
    if groups:
        listed = [f"{group.name} ({group.size})" for group in groups]
        grouped = _wrap(["Groups, with their number of labels:", *listed], width=94)
    else:
        grouped = ["No two labels share a final word, so nothing was grouped."]
    if draft.closed_world:
        world = (
            "closed_world: true: an answer outside this hierarchy is judged wrong; false would",
            "  let the LLM judge grade it.",
        )
    else:
        world = (
            "closed_world: false: an answer outside this hierarchy goes to the LLM judge (or",
            "  stays undecided without one); true would judge it wrong.",
        )
    lines = [
        "DRAFT written by `speciarl hierarchy draft`: check and complete it before use.",
        "",
        f"{draft.summary()}.",
        "Labels ending in the same word (3+ letters, no digits) were put under a node named by",
        "that word, with rank close (a close parent: genus, family, product line); a label that",
        "is the word itself names that node. Nothing else was guessed.",
        *grouped,
        "",
        "To do:",
        "- Check each group: a shared last word is not always a kind (a sea lion is no lion);",
        "  move a wrong member to the top level, and make a group much broader than its members",
        "  rank broad.",
        '- Add broad roots above the groups, e.g. "bird" with rank broad above the families,',
        "  so that generic answers are decided.",
        "- Add synonyms (other names, common misspellings) with synonyms: [...] on a node.",
        f"- {world[0]}",
        world[1],
        "- Then check the coverage: speciarl data coverage --dataset DATASET --hierarchy FILE",
    ]
    return "".join(f"# {line}\n" if line else "#\n" for line in lines) + "\n"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _wrap(words: list[str], width: int) -> list[str]:
    """``words`` joined by ", " after the first, on lines of at most ``width`` where possible,
    never breaking a word; a full stop at the end."""
    lines = [words[0]]
    for index, word in enumerate(words[1:], start=1):
        piece = word + ("." if index == len(words) - 1 else ",")
        if len(lines[-1]) + 1 + len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] += " " + piece
    return lines
