import copy
import json
import re
from pathlib import Path

import pytest
import yaml

import speciarl
from speciarl.judges import Hierarchy
from speciarl.judges.hierarchy import MAX_DEPTH, HierarchyError, Rank, Relation

EXAMPLE = Path(speciarl.__file__).parent / "data" / "hierarchies" / "example.yaml"

SMALL = {
    "name": "small",
    "roots": [
        {
            "name": "bird",
            "rank": "broad",
            "synonyms": ["birds"],
            "children": [
                {
                    "name": "emberizidae",
                    "rank": "close",
                    "synonyms": ["bunting"],
                    "children": [{"name": "yellowhammer", "synonyms": ["Emberiza citrinella"]}],
                },
                {
                    "name": "passerina",
                    "rank": "close",
                    "synonyms": ["Bunting"],
                    "children": [{"name": "indigo bunting"}],
                },
            ],
        },
        {"name": "fish"},
    ],
}


@pytest.fixture(scope="module")
def example() -> Hierarchy:
    return Hierarchy.load(EXAMPLE)


def only(hierarchy: Hierarchy, name: str):
    [node] = hierarchy.resolve(name)
    return node


def test_example_loads_with_its_settings(example):
    assert example.name == "example"
    assert example.closed_world is False
    assert [root.name for root in example.roots] == ["animal", "aircraft"]
    assert len(example.nodes) == len({id(node) for node in example.nodes}) > 20


def test_nodes_know_their_place(example):
    warbler = only(example, "warbler")
    species = only(example, "golden-winged warbler")
    assert species.parent is warbler
    assert species in warbler.children
    assert (warbler.rank, species.rank) == (Rank.CLOSE, None)
    assert (only(example, "animal").depth, warbler.depth, species.depth) == (0, 2, 3)
    assert species.synonyms == ("vermivora chrysoptera",)
    assert species.names == ("golden-winged warbler", "vermivora chrysoptera")
    assert species.path == "roots[0].children[0].children[0].children[0]"
    assert "golden-winged warbler" in repr(species)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Golden-winged Warbler", "golden-winged warbler"),
        ("golden winged warbler", "golden-winged warbler"),
        ("Vermivora chrysoptera", "golden-winged warbler"),
        ("a Samoyed", "samoyed"),
        ("Domestic Dog", "dog"),
        ("707", "boeing 707"),
        ("Boeing 707-320", "707-320"),
    ],
)
def test_resolve_by_name_or_synonym(example, name, expected):
    assert [node.name for node in example.resolve(name)] == [expected]


@pytest.mark.parametrize("name", ["husky", "", "???", "s\u0430moyed", "samoyed or dog"])
def test_resolve_unknown_names_to_nothing(example, name):
    assert example.resolve(name) == ()


def test_ambiguous_names_resolve_to_every_node():
    hierarchy = Hierarchy.from_dict(SMALL)
    assert [node.name for node in hierarchy.resolve("bunting")] == ["emberizidae", "passerina"]


def test_synonym_groups_hold_each_node_with_its_synonyms(example):
    groups = example.synonym_groups()
    assert len(groups) == len(example.nodes)
    assert ("dog", "dogs", "domestic dog", "canis familiaris") in groups
    assert ("samoyed",) in groups


@pytest.mark.parametrize(
    ("node", "other", "expected"),
    [
        ("samoyed", "samoyed", Relation.SAME),
        ("warbler", "golden-winged warbler", Relation.CLOSE_ANCESTOR),
        ("bird", "golden-winged warbler", Relation.BROAD_ANCESTOR),
        ("animal", "golden-winged warbler", Relation.BROAD_ANCESTOR),
        ("boeing 707", "707-320", Relation.CLOSE_ANCESTOR),
        ("boeing", "707-320", Relation.BROAD_ANCESTOR),
        ("commercial airliner", "757-200", Relation.BROAD_ANCESTOR),
        ("golden-winged warbler", "warbler", Relation.DESCENDANT),
        ("757-200", "aircraft", Relation.DESCENDANT),
        ("samoyed", "golden retriever", Relation.UNRELATED),
        ("dog", "siamese", Relation.UNRELATED),
        ("boeing 757", "707-320", Relation.UNRELATED),
        ("aircraft", "bird", Relation.UNRELATED),
    ],
)
def test_relation_between_nodes(example, node, other, expected):
    assert example.relation(only(example, node), only(example, other)) is expected


def test_relation_refuses_nodes_of_another_hierarchy(example):
    other = Hierarchy.load(EXAMPLE)
    with pytest.raises(ValueError, match="not a node of this hierarchy"):
        example.relation(only(example, "dog"), only(other, "dog"))


def write(path: Path, data: dict) -> Path:
    if path.suffix == ".json":
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json", ".YAML"])
def test_every_supported_format_loads(tmp_path, suffix):
    hierarchy = Hierarchy.load(write(tmp_path / f"small{suffix}", SMALL))
    assert hierarchy.name == "small"
    assert only(hierarchy, "indigo bunting").parent.name == "passerina"


def test_digest_ignores_format_key_order_and_spelled_out_defaults(tmp_path, example):
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    reordered = {key: data[key] for key in reversed(list(data))}
    without_default = {key: value for key, value in data.items() if key != "closed_world"}
    as_json = write(tmp_path / "example.json", reordered)
    as_yml = write(tmp_path / "example.yml", without_default)
    assert re.fullmatch(r"[0-9a-f]{64}", example.digest)
    assert Hierarchy.load(as_json).digest == example.digest
    assert Hierarchy.load(as_yml).digest == example.digest
    assert Hierarchy.from_dict(data).digest == example.digest


def _renamed(data):
    data["roots"][0]["name"] = "aves"


def _added_synonym(data):
    data["roots"][0]["synonyms"].append("fowl")


def _changed_rank(data):
    data["roots"][0]["children"][0]["rank"] = "broad"


def _closed(data):
    data["closed_world"] = True


def _moved_node(data):
    data["roots"][0]["children"].append(data["roots"].pop())


def _retitled(data):
    data["name"] = "other"


@pytest.mark.parametrize(
    "change", [_renamed, _added_synonym, _changed_rank, _closed, _moved_node, _retitled]
)
def test_digest_changes_with_content(change):
    data = copy.deepcopy(SMALL)
    change(data)
    assert Hierarchy.from_dict(data).digest != Hierarchy.from_dict(SMALL).digest


def test_closed_world_is_read():
    assert Hierarchy.from_dict({**SMALL, "closed_world": True}).closed_world is True
    assert Hierarchy.from_dict(SMALL).closed_world is False
    assert Hierarchy.from_dict({"roots": [{"name": "x"}]}).name is None


def _node(**fields):
    return {"roots": [{"name": "bird", "rank": "broad", "children": [fields]}]}


def _deep(levels: int) -> dict:
    node: dict = {"name": f"n{levels}"}
    for level in range(levels - 1, 0, -1):
        node = {"name": f"n{level}", "rank": "close", "children": [node]}
    return {"roots": [node]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["bird"], "birds.yaml: expected a mapping, got list"),
        (None, "birds.yaml: expected a mapping, got null"),
        ({}, "birds.yaml: top level: missing 'roots'"),
        ({"roots": [], "extra": 1}, "birds.yaml: top level: unknown key 'extra'; allowed: "),
        ({"roots": []}, "birds.yaml: roots: expected a non-empty list of nodes, got list"),
        (
            {"roots": {"name": "x"}},
            "birds.yaml: roots: expected a non-empty list of nodes, got dict",
        ),
        ({"name": 3, "roots": [{"name": "x"}]}, "birds.yaml: name: expected a string, got int"),
        (
            {"closed_world": "yes", "roots": [{"name": "x"}]},
            "birds.yaml: closed_world: expected true or false, got str",
        ),
        ({"roots": ["bird"]}, "birds.yaml: roots[0]: expected a mapping with a 'name', got str"),
        ({"roots": [{"rank": "broad"}]}, "birds.yaml: roots[0]: missing 'name'"),
        (_node(synonyms=["x"]), "birds.yaml: roots[0].children[0]: missing 'name'"),
        (
            _node(name="x", colour="red"),
            "birds.yaml: roots[0].children[0]: unknown key 'colour'; allowed: children, name, "
            "rank, synonyms",
        ),
        (
            _node(name=707),
            "birds.yaml: roots[0].children[0].name: expected a string, got int (quote it in YAML)",
        ),
        (_node(name=None), "birds.yaml: roots[0].children[0].name: expected a string, got null"),
        (_node(name=["x"]), "birds.yaml: roots[0].children[0].name: expected a string, got list"),
        (_node(name=""), "birds.yaml: roots[0].children[0].name: empty name ''"),
        (_node(name=" - "), "birds.yaml: roots[0].children[0].name: empty name ' - '"),
        (
            _node(name="x", synonyms="y"),
            "birds.yaml: roots[0].children[0].synonyms: expected a list, got str",
        ),
        (
            _node(name="x", synonyms=["y", True]),
            "birds.yaml: roots[0].children[0].synonyms[1]: expected a string, got bool",
        ),
        (
            _node(name="x", synonyms=["y", "?"]),
            "birds.yaml: roots[0].children[0].synonyms[1]: empty name '?'",
        ),
        (
            _node(name="Black-footed albatross", synonyms=["black footed Albatross"]),
            "birds.yaml: roots[0].children[0]: name 'black footed Albatross' repeats "
            "'Black-footed albatross' among the node's names",
        ),
        (
            _node(name="x", synonyms=["y", "the Y"]),
            "birds.yaml: roots[0].children[0]: name 'the Y' repeats 'y' among the node's names",
        ),
        (
            _node(name="x", children={"name": "y"}),
            "birds.yaml: roots[0].children[0].children: expected a list, got dict",
        ),
        (
            _node(name="x", children=[{"name": "y"}]),
            "birds.yaml: roots[0].children[0]: missing 'rank' ('close' or 'broad'), needed with "
            "children",
        ),
        (
            _node(name="x", rank="narrow", children=[{"name": "y"}]),
            "birds.yaml: roots[0].children[0].rank: expected 'close' or 'broad', got 'narrow'",
        ),
        (
            _node(name="x", rank="Close", children=[{"name": "y"}]),
            "birds.yaml: roots[0].children[0].rank: expected 'close' or 'broad', got 'Close'",
        ),
        (
            _node(name="x", rank=["close"], children=[{"name": "y"}]),
            "birds.yaml: roots[0].children[0].rank: expected 'close' or 'broad', got ['close']",
        ),
        (
            _node(name="x", rank="close"),
            "birds.yaml: roots[0].children[0].rank: only a node with children has a rank",
        ),
        (
            _node(name="x", rank="broad", children=[{"name": "y"}, {"synonyms": []}]),
            "birds.yaml: roots[0].children[0].children[1]: missing 'name'",
        ),
        (
            _deep(MAX_DEPTH + 1),
            f"birds.yaml: roots[0]{'.children[0]' * MAX_DEPTH}: nested deeper than {MAX_DEPTH}",
        ),
    ],
)
def test_invalid_data_is_rejected_naming_file_and_node(data, message):
    with pytest.raises(HierarchyError, match=f"^{re.escape(message)}"):
        Hierarchy.from_dict(data, source="birds.yaml")


def test_deepest_allowed_nesting_loads():
    hierarchy = Hierarchy.from_dict(_deep(MAX_DEPTH))
    assert only(hierarchy, f"n{MAX_DEPTH}").depth == MAX_DEPTH - 1


def test_the_same_name_may_appear_on_different_nodes():
    data = {"roots": [{"name": "a", "rank": "broad", "children": [{"name": "a"}]}]}
    assert len(Hierarchy.from_dict(data).resolve("a")) == 2


def test_errors_from_a_file_name_the_file(tmp_path):
    path = tmp_path / "birds.yaml"
    path.write_text("roots:\n  - name: bird\n    rank: broad\n    children:\n      - rank: close\n")
    with pytest.raises(HierarchyError, match=re.escape(f"{path}: roots[0].children[0]: missing")):
        Hierarchy.load(path)


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("birds.txt", "roots: []", "unsupported file type '.txt'; use .yaml or .json"),
        ("birds", "roots: []", "unsupported file type ''"),
        ("birds.yaml", "roots: [unclosed", "cannot parse"),
        ("birds.yaml", "roots:\n\t- name: x\n", "cannot parse"),
        ("birds.json", '{"roots": [}', "cannot parse"),
        ("birds.yaml", "", "expected a mapping, got null"),
        ("birds.yaml", "roots:\n  - name: 707\n", "roots[0].name: expected a string, got int"),
    ],
)
def test_unreadable_files_are_rejected_naming_the_file(tmp_path, filename, content, message):
    path = tmp_path / filename
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HierarchyError, match=f"^{re.escape(str(path))}: .*{re.escape(message)}"):
        Hierarchy.load(path)


def test_non_utf8_file_is_rejected(tmp_path):
    path = tmp_path / "birds.yaml"
    path.write_bytes(b"roots:\n  - name: caf\xe9\n")
    with pytest.raises(HierarchyError, match="not UTF-8 text"):
        Hierarchy.load(path)


def test_yaml_is_read_safely(tmp_path):
    path = tmp_path / "birds.yaml"
    path.write_text("roots:\n  - name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(HierarchyError, match="cannot parse"):
        Hierarchy.load(path)
