"""Label hierarchies: which names mean the same thing, and which names are broader than others.

A hierarchy is a forest read from a YAML or JSON file. The taxonomy judge grades a prediction by
where it sits relative to the ground truth in this forest, so the file is validated strictly and
every error names the file and the node it is about.

Format::

    name: example          # optional
    closed_world: false    # optional; true: a name outside the hierarchy is wrong
    roots:
      - name: bird
        rank: broad        # on every node with children: close (genus, family, product
                           # line) or broad (much broader), relative to all its descendants
        synonyms: [birds]  # optional
        children: [...]    # optional
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from speciarl.answer import name_key

MAX_DEPTH = 64
"""Deepest nesting accepted; real label hierarchies are a handful of levels deep."""


class HierarchyError(ValueError):
    """A hierarchy file or mapping that does not follow the format."""


class Rank(enum.StrEnum):
    """How a node with children relates to its descendants."""

    CLOSE = "close"
    """A close parent such as a genus, family or product line."""
    BROAD = "broad"
    """A much broader category."""


class Relation(enum.Enum):
    """Where one node sits relative to another."""

    SAME = "same"
    CLOSE_ANCESTOR = "close ancestor"
    BROAD_ANCESTOR = "broad ancestor"
    DESCENDANT = "descendant"
    UNRELATED = "unrelated"


@dataclass(eq=False, repr=False)
class Node:
    """One named concept. Nodes compare by identity: two nodes may share a name."""

    name: str
    synonyms: tuple[str, ...]
    rank: Rank | None
    """``None`` exactly when the node has no children."""
    parent: Node | None
    depth: int
    """0 for a root."""
    path: str
    """Where the node is in its source, such as ``roots[0].children[3]``."""
    children: tuple[Node, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The name followed by the synonyms."""
        return (self.name, *self.synonyms)

    def __repr__(self) -> str:
        return f"Node({self.name!r}, path={self.path!r})"


class Hierarchy:
    """A validated forest of named nodes with fast name lookup and ancestry queries.

    Build one with :meth:`load` or :meth:`from_dict`, which validate and compute the digest.
    """

    def __init__(
        self, roots: tuple[Node, ...], *, name: str | None, closed_world: bool, digest: str
    ) -> None:
        self.roots = roots
        self.name = name
        self.closed_world = closed_world
        self.digest = digest
        """sha256 hex of the content; the same whatever the file format or key order."""
        self.nodes: tuple[Node, ...] = tuple(_preorder(roots))
        by_key: dict[str, list[Node]] = {}
        self._ancestors: dict[Node, frozenset[Node]] = {}
        for node in self.nodes:
            for key in dict.fromkeys(map(name_key, node.names)):
                by_key.setdefault(key, []).append(node)
            parent = node.parent
            inherited = frozenset() if parent is None else self._ancestors[parent] | {parent}
            self._ancestors[node] = inherited
        self._by_key = {key: tuple(nodes) for key, nodes in by_key.items()}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Hierarchy:
        """Read a hierarchy from a ``.yaml``, ``.yml`` or ``.json`` file."""
        path = Path(path)
        source = str(path)
        suffix = path.suffix.lower()
        if suffix not in (".yaml", ".yml", ".json"):
            raise HierarchyError(f"{source}: unsupported file type {suffix!r}; use .yaml or .json")
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        except UnicodeDecodeError as error:
            raise HierarchyError(f"{source}: not UTF-8 text: {error}") from error
        except (json.JSONDecodeError, yaml.YAMLError) as error:
            raise HierarchyError(f"{source}: cannot parse: {error}") from error
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Hierarchy:
        """Build a hierarchy from parsed data; ``source`` names it in error messages."""
        return _Reader(source).hierarchy(data)

    def resolve(self, name: str) -> tuple[Node, ...]:
        """Every node called ``name`` (or a synonym of it), compared by name key; may be empty."""
        return self._by_key.get(name_key(name), ())

    def synonym_groups(self) -> tuple[tuple[str, ...], ...]:
        """For each node, its name and synonyms: the groups of names that mean the same."""
        return tuple(node.names for node in self.nodes)

    def relation(self, node: Node, other: Node) -> Relation:
        """Where ``node`` sits relative to ``other``; an ancestor comes with its own rank."""
        for given in (node, other):
            if given not in self._ancestors:
                raise ValueError(f"{given!r} is not a node of this hierarchy")
        if node is other:
            return Relation.SAME
        if node in self._ancestors[other]:
            return Relation.CLOSE_ANCESTOR if node.rank is Rank.CLOSE else Relation.BROAD_ANCESTOR
        if other in self._ancestors[node]:
            return Relation.DESCENDANT
        return Relation.UNRELATED

    def __repr__(self) -> str:
        return f"Hierarchy(name={self.name!r}, nodes={len(self.nodes)}, digest={self.digest[:16]})"


def _preorder(roots: tuple[Node, ...]) -> list[Node]:
    ordered: list[Node] = []
    stack = list(reversed(roots))
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(reversed(node.children))
    return ordered


_TOP_KEYS = ("closed_world", "name", "roots")
_NODE_KEYS = ("children", "name", "rank", "synonyms")


class _Reader:
    """Validates parsed data into nodes, prefixing every error with the source and node path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> HierarchyError:
        return HierarchyError(f"{self.source}: {where}: {problem}")

    def hierarchy(self, data: Any) -> Hierarchy:
        if not isinstance(data, Mapping):
            raise HierarchyError(f"{self.source}: expected a mapping, got {_kind(data)}")
        self.check_keys(data, _TOP_KEYS, "top level")
        name = data.get("name")
        if name is not None and not isinstance(name, str):
            raise self.fail("name", f"expected a string, got {_kind(name)}")
        closed_world = data.get("closed_world", False)
        if not isinstance(closed_world, bool):
            raise self.fail("closed_world", f"expected true or false, got {_kind(closed_world)}")
        if "roots" not in data:
            raise self.fail("top level", "missing 'roots'")
        roots_data = data["roots"]
        if not isinstance(roots_data, list) or not roots_data:
            raise self.fail("roots", f"expected a non-empty list of nodes, got {_kind(roots_data)}")
        roots = tuple(
            self.node(item, f"roots[{index}]", None, 0) for index, item in enumerate(roots_data)
        )
        content = {
            "name": name,
            "closed_world": closed_world,
            "roots": [_content(root) for root in roots],
        }
        canonical = json.dumps(content, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return Hierarchy(roots, name=name, closed_world=closed_world, digest=digest)

    def node(self, data: Any, path: str, parent: Node | None, depth: int) -> Node:
        if depth >= MAX_DEPTH:
            raise self.fail(path, f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(data, Mapping):
            raise self.fail(path, f"expected a mapping with a 'name', got {_kind(data)}")
        self.check_keys(data, _NODE_KEYS, path)
        if "name" not in data:
            raise self.fail(path, "missing 'name'")
        name = self.name(data["name"], f"{path}.name")
        synonyms_data = data.get("synonyms", [])
        if not isinstance(synonyms_data, list):
            raise self.fail(f"{path}.synonyms", f"expected a list, got {_kind(synonyms_data)}")
        synonyms = tuple(
            self.name(item, f"{path}.synonyms[{index}]") for index, item in enumerate(synonyms_data)
        )
        self.check_distinct((name, *synonyms), path)
        children_data = data.get("children", [])
        if not isinstance(children_data, list):
            raise self.fail(f"{path}.children", f"expected a list, got {_kind(children_data)}")
        rank = self.rank(data, path, has_children=bool(children_data))
        node = Node(name, synonyms, rank, parent, depth, path)
        node.children = tuple(
            self.node(item, f"{path}.children[{index}]", node, depth + 1)
            for index, item in enumerate(children_data)
        )
        return node

    def name(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            hint = " (quote it in YAML)" if isinstance(value, int | float | bool) else ""
            raise self.fail(where, f"expected a string, got {_kind(value)}{hint}")
        if not name_key(value):
            raise self.fail(where, f"empty name {value!r}")
        return value

    def rank(self, data: Mapping[str, Any], path: str, *, has_children: bool) -> Rank | None:
        if "rank" not in data:
            if has_children:
                raise self.fail(path, "missing 'rank' ('close' or 'broad'), needed with children")
            return None
        value = data["rank"]
        if not isinstance(value, str) or value not in (Rank.CLOSE.value, Rank.BROAD.value):
            raise self.fail(f"{path}.rank", f"expected 'close' or 'broad', got {value!r}")
        if not has_children:
            raise self.fail(f"{path}.rank", "only a node with children has a rank")
        return Rank(value)

    def check_keys(self, data: Mapping[Any, Any], allowed: tuple[str, ...], where: str) -> None:
        unknown = [key for key in data if key not in allowed]
        if unknown:
            shown = ", ".join(repr(key) for key in unknown)
            raise self.fail(where, f"unknown key {shown}; allowed: {', '.join(allowed)}")

    def check_distinct(self, names: tuple[str, ...], path: str) -> None:
        seen: dict[str, str] = {}
        for name in names:
            key = name_key(name)
            if key in seen:
                raise self.fail(path, f"name {name!r} repeats {seen[key]!r} among the node's names")
            seen[key] = name


def _content(node: Node) -> dict[str, Any]:
    """The node's subtree as plain data, for the digest."""
    return {
        "name": node.name,
        "synonyms": list(node.synonyms),
        "rank": None if node.rank is None else node.rank.value,
        "children": [_content(child) for child in node.children],
    }


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
