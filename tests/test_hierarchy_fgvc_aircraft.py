"""The FGVC-Aircraft label hierarchy and class list shipped with the package, and the builder
that derives the plain hierarchy from the dataset's own annotation files."""

from collections import Counter
from pathlib import Path

import pytest

from hierarchy_checks import dataset_fixtures, shipped_class_list, verdict_of
from speciarl.answer import name_key
from speciarl.data.aircraft_hierarchy import AircraftHierarchyError, hierarchy_from_fgvc_root
from speciarl.judges import Hierarchy
from speciarl.verdict import Verdict

# The dataset's own labels: variant | family | manufacturer (families.txt has 70 families,
# manufacturers.txt 30 makers).
DATASET_MAPPING = """
707-320 | Boeing 707 | Boeing
727-200 | Boeing 727 | Boeing
737-200 | Boeing 737 | Boeing
737-300 | Boeing 737 | Boeing
737-400 | Boeing 737 | Boeing
737-500 | Boeing 737 | Boeing
737-600 | Boeing 737 | Boeing
737-700 | Boeing 737 | Boeing
737-800 | Boeing 737 | Boeing
737-900 | Boeing 737 | Boeing
747-100 | Boeing 747 | Boeing
747-200 | Boeing 747 | Boeing
747-300 | Boeing 747 | Boeing
747-400 | Boeing 747 | Boeing
757-200 | Boeing 757 | Boeing
757-300 | Boeing 757 | Boeing
767-200 | Boeing 767 | Boeing
767-300 | Boeing 767 | Boeing
767-400 | Boeing 767 | Boeing
777-200 | Boeing 777 | Boeing
777-300 | Boeing 777 | Boeing
A300B4 | A300 | Airbus
A310 | A310 | Airbus
A318 | A320 | Airbus
A319 | A320 | Airbus
A320 | A320 | Airbus
A321 | A320 | Airbus
A330-200 | A330 | Airbus
A330-300 | A330 | Airbus
A340-200 | A340 | Airbus
A340-300 | A340 | Airbus
A340-500 | A340 | Airbus
A340-600 | A340 | Airbus
A380 | A380 | Airbus
ATR-42 | ATR-42 | ATR
ATR-72 | ATR-72 | ATR
An-12 | An-12 | Antonov
BAE 146-200 | BAE 146 | British Aerospace
BAE 146-300 | BAE 146 | British Aerospace
BAE-125 | BAE-125 | British Aerospace
Beechcraft 1900 | Beechcraft 1900 | Beechcraft
Boeing 717 | Boeing 717 | Boeing
C-130 | C-130 | Lockheed Corporation
C-47 | C-47 | Douglas Aircraft Company
CRJ-200 | CRJ-200 | Canadair
CRJ-700 | CRJ-700 | Canadair
CRJ-900 | CRJ-700 | Canadair
Cessna 172 | Cessna 172 | Cessna
Cessna 208 | Cessna 208 | Cessna
Cessna 525 | Cessna Citation | Cessna
Cessna 560 | Cessna Citation | Cessna
Challenger 600 | Challenger 600 | Canadair
DC-10 | DC-10 | McDonnell Douglas
DC-3 | DC-3 | Douglas Aircraft Company
DC-6 | DC-6 | Douglas Aircraft Company
DC-8 | DC-8 | Douglas Aircraft Company
DC-9-30 | DC-9 | McDonnell Douglas
DH-82 | DH-82 | de Havilland
DHC-1 | DHC-1 | de Havilland
DHC-6 | DHC-6 | de Havilland
DHC-8-100 | Dash 8 | de Havilland
DHC-8-300 | Dash 8 | de Havilland
DR-400 | DR-400 | Robin
Dornier 328 | Dornier 328 | Dornier
E-170 | Embraer E-Jet | Embraer
E-190 | Embraer E-Jet | Embraer
E-195 | Embraer E-Jet | Embraer
EMB-120 | EMB-120 | Embraer
ERJ 135 | Embraer ERJ 145 | Embraer
ERJ 145 | Embraer ERJ 145 | Embraer
Embraer Legacy 600 | Embraer Legacy 600 | Embraer
Eurofighter Typhoon | Eurofighter Typhoon | Eurofighter
F-16A/B | F-16 | Lockheed Martin
F/A-18 | F/A-18 | McDonnell Douglas
Falcon 2000 | Falcon 2000 | Dassault Aviation
Falcon 900 | Falcon 900 | Dassault Aviation
Fokker 100 | Fokker 100 | Fokker
Fokker 50 | Fokker 50 | Fokker
Fokker 70 | Fokker 70 | Fokker
Global Express | Global Express | Bombardier Aerospace
Gulfstream IV | Gulfstream | Gulfstream Aerospace
Gulfstream V | Gulfstream | Gulfstream Aerospace
Hawk T1 | Hawk T1 | British Aerospace
Il-76 | Il-76 | Ilyushin
L-1011 | L-1011 | Lockheed Corporation
MD-11 | MD-11 | McDonnell Douglas
MD-80 | MD-80 | McDonnell Douglas
MD-87 | MD-80 | McDonnell Douglas
MD-90 | MD-90 | McDonnell Douglas
Metroliner | Metroliner | Fairchild
Model B200 | King Air | Beechcraft
PA-28 | PA-28 | Piper
SR-20 | SR-20 | Cirrus Aircraft
Saab 2000 | Saab 2000 | Saab
Saab 340 | Saab 340 | Saab
Spitfire | Spitfire | Supermarine
Tornado | Tornado | Panavia
Tu-134 | Tu-134 | Tupolev
Tu-154 | Tu-154 | Tupolev
Yak-42 | Yak-42 | Yakovlev
"""
MAPPING = {
    variant: (family, manufacturer)
    for variant, family, manufacturer in (
        (part.strip() for part in line.split("|")) for line in DATASET_MAPPING.strip().splitlines()
    )
}

# Variants per maker, from the number of trainval images per maker (about 66.7 per variant).
VARIANTS_PER_MANUFACTURER = {
    "Boeing": 22, "Airbus": 13, "McDonnell Douglas": 7, "Embraer": 7, "de Havilland": 5,
    "British Aerospace": 4, "Douglas Aircraft Company": 4, "Canadair": 4, "Cessna": 4,
    "Fokker": 3, "Beechcraft": 2, "Lockheed Corporation": 2, "Saab": 2, "ATR": 2,
    "Dassault Aviation": 2, "Gulfstream Aerospace": 2, "Tupolev": 2, "Antonov": 1, "Dornier": 1,
    "Lockheed Martin": 1, "Bombardier Aerospace": 1, "Piper": 1, "Panavia": 1, "Yakovlev": 1,
    "Robin": 1, "Eurofighter": 1, "Ilyushin": 1, "Fairchild": 1, "Cirrus Aircraft": 1,
    "Supermarine": 1,
}  # fmt: skip

# Makers deliberately not in the curated file (see its header), and families renamed there.
# A left-out maker's name is unknown to the file, except "Eurofighter", a synonym of its aircraft.
LEFT_OUT_MANUFACTURERS = {
    "Bombardier Aerospace": None,
    "Lockheed Martin": None,
    "Eurofighter": Verdict.SPECIFIC,
}
RENAMED_FAMILIES = {
    "A320": "A320 family",
    "CRJ-700": "CRJ700 series",
    "MD-80": "MD-80 series",
    "Embraer ERJ 145": "Embraer ERJ family",
}


hierarchy, labels = dataset_fixtures("fgvc_aircraft")


def test_aircraft_is_the_one_root(hierarchy):
    assert [root.name for root in hierarchy.roots] == ["aircraft"]


def test_class_list_is_the_hundred_variants(labels):
    lines = shipped_class_list("fgvc_aircraft")
    assert lines == list(MAPPING)  # variants.txt order
    assert labels == lines  # cleaned label = the variant as it is
    assert len(labels) == 100


def test_mapping_table_matches_the_dataset_counts():
    families = {family for family, _ in MAPPING.values()}
    manufacturers = Counter(manufacturer for _, manufacturer in MAPPING.values())
    assert len(families) == 70
    assert manufacturers == Counter(VARIANTS_PER_MANUFACTURER)


def test_file_follows_the_dataset_mapping(hierarchy):
    for variant, (family, manufacturer) in MAPPING.items():
        expected = LEFT_OUT_MANUFACTURERS.get(manufacturer, Verdict.GENERIC)
        assert verdict_of(hierarchy, variant, manufacturer) is expected, variant
        if name_key(family) == name_key(variant):
            continue
        family = RENAMED_FAMILIES.get(family, family)
        assert verdict_of(hierarchy, variant, family) is Verdict.LESS_SPECIFIC, (variant, family)


def test_every_maker_in_the_file_is_wrong_for_other_makers_variants(hierarchy):
    makers = set(VARIANTS_PER_MANUFACTURER) - set(LEFT_OUT_MANUFACTURERS)
    for variant, (_, manufacturer) in MAPPING.items():
        for other in makers - {manufacturer}:
            assert verdict_of(hierarchy, variant, other) is Verdict.WRONG, (variant, other)


@pytest.mark.parametrize(
    ("ground_truth", "prediction", "expected"),
    [
        # the paper's examples
        ("707-320", "Boeing 707", Verdict.LESS_SPECIFIC),
        ("707-320", "Boeing", Verdict.GENERIC),
        ("A320", "aircraft", Verdict.GENERIC),
        ("707-320", "A320", Verdict.WRONG),
        # the same concept
        ("707-320", "Boeing 707-320", Verdict.SPECIFIC),
        ("737-800", "boeing 737 800", Verdict.SPECIFIC),
        ("A320", "Airbus A320", Verdict.SPECIFIC),
        ("DHC-6", "de Havilland Canada Twin Otter", Verdict.SPECIFIC),
        ("C-130", "Lockheed C-130 Hercules", Verdict.SPECIFIC),
        ("Boeing 717", "MD-95", Verdict.SPECIFIC),
        ("F/A-18", "F-18", Verdict.SPECIFIC),
        ("ATR-72", "ATR 72", Verdict.SPECIFIC),
        ("Eurofighter Typhoon", "Eurofighter", Verdict.SPECIFIC),
        # close and broad ancestors
        ("737-800", "737 NG", Verdict.LESS_SPECIFIC),
        ("737-800", "Boeing 737", Verdict.LESS_SPECIFIC),
        ("A321", "A320 family", Verdict.LESS_SPECIFIC),
        ("CRJ-900", "CRJ", Verdict.LESS_SPECIFIC),
        ("Cessna 525", "Cessna Citation", Verdict.LESS_SPECIFIC),
        ("Model B200", "King Air", Verdict.LESS_SPECIFIC),
        ("F-16A/B", "F-16", Verdict.LESS_SPECIFIC),
        ("Falcon 900", "Dassault Falcon", Verdict.LESS_SPECIFIC),
        ("MD-87", "MD-80 series", Verdict.LESS_SPECIFIC),
        ("757-200", "airplane", Verdict.GENERIC),
        ("E-190", "Embraer", Verdict.GENERIC),
        ("DHC-8-300", "de Havilland", Verdict.GENERIC),
        ("Spitfire", "Supermarine", Verdict.GENERIC),
        # finer than the label
        ("aircraft", "A380", Verdict.MORE_SPECIFIC),
        # wrong: siblings, other families, other makers
        ("A321", "A320", Verdict.WRONG),
        ("CRJ-900", "CRJ-700", Verdict.WRONG),
        ("MD-87", "MD-80", Verdict.WRONG),
        ("737-300", "737 NG", Verdict.WRONG),
        ("757-200", "Boeing 767", Verdict.WRONG),
        ("C-47", "DC-3", Verdict.WRONG),
        ("Boeing 717", "McDonnell Douglas", Verdict.WRONG),
        ("F-16A/B", "Boeing", Verdict.WRONG),
        # names the file does not know are left to the next judge
        ("C-130", "Lockheed Martin", None),
        ("Global Express", "Bombardier", None),
        ("757-200", "commercial airliner", None),
    ],
)
def test_verdicts(hierarchy, ground_truth, prediction, expected):
    assert verdict_of(hierarchy, ground_truth, prediction) is expected


# --- hierarchy_from_fgvc_root --------------------------------------------------------------


def write_split(folder: Path, split: str, rows: list[tuple[str, str, str, str]]) -> None:
    """rows: (image id, variant, family, manufacturer)."""
    for position, level in enumerate(("variant", "family", "manufacturer"), start=1):
        lines = [f"{row[0]} {row[position]}" for row in rows]
        (folder / f"images_{level}_{split}.txt").write_text("\n".join(lines) + "\n")


SMALL = [
    ("0000001", "707-320", "Boeing 707", "Boeing"),
    ("0000002", "737-800", "Boeing 737", "Boeing"),
    ("0000003", "737-300", "Boeing 737", "Boeing"),
    ("0000004", "A320", "A320", "Airbus"),
    ("0000005", "A321", "A320", "Airbus"),
    ("0000006", "A380", "A380", "Airbus"),
    ("0000007", "F-16A/B", "F-16", "Lockheed Martin"),
]


@pytest.fixture
def small_root(tmp_path: Path) -> Path:
    data = tmp_path / "fgvc-aircraft-2013b" / "data"
    data.mkdir(parents=True)
    write_split(data, "trainval", SMALL[:5])
    write_split(data, "test", SMALL[3:])
    (data / "variants.txt").write_text(
        "\n".join(["707-320", "737-300", "737-800", "A320", "A321", "A380", "F-16A/B"]) + "\n"
    )
    return tmp_path


def test_builder_makes_the_dataset_tree(small_root):
    data = hierarchy_from_fgvc_root(small_root)
    assert data["closed_world"] is False
    hierarchy = Hierarchy.from_dict(data)
    [root] = hierarchy.roots
    assert root.name == "aircraft"
    assert [maker.name for maker in root.children] == ["Airbus", "Boeing", "Lockheed Martin"]
    airbus, boeing, lockheed = root.children
    # A320 is a family and a variant: the family is renamed; A380 is its own family.
    assert [child.name for child in airbus.children] == ["A320 family", "A380"]
    assert [leaf.name for leaf in airbus.children[0].children] == ["A320", "A321"]
    assert [family.name for family in boeing.children] == ["Boeing 707", "Boeing 737"]
    assert [leaf.name for leaf in boeing.children[1].children] == ["737-300", "737-800"]
    assert [family.name for family in lockheed.children] == ["F-16"]
    for _, variant, *_ in SMALL:
        [node] = hierarchy.resolve(variant)
        assert not node.children


@pytest.mark.parametrize(
    ("ground_truth", "prediction", "expected"),
    [
        ("707-320", "Boeing 707", Verdict.LESS_SPECIFIC),
        ("707-320", "Boeing", Verdict.GENERIC),
        ("A321", "A320 family", Verdict.LESS_SPECIFIC),
        ("A321", "A320", Verdict.WRONG),
        ("A380", "Airbus", Verdict.GENERIC),
        ("F-16A/B", "airplane", Verdict.GENERIC),
        ("F-16A/B", "Boeing", Verdict.WRONG),
    ],
)
def test_builder_tree_judges(small_root, ground_truth, prediction, expected):
    hierarchy = Hierarchy.from_dict(hierarchy_from_fgvc_root(small_root))
    assert verdict_of(hierarchy, ground_truth, prediction) is expected


def test_builder_accepts_the_data_folder_itself(small_root):
    data = small_root / "fgvc-aircraft-2013b" / "data"
    assert hierarchy_from_fgvc_root(data) == hierarchy_from_fgvc_root(small_root)


def test_builder_on_the_full_mapping_agrees_with_the_curated_file(tmp_path, hierarchy):
    rows = [(f"{index:07d}", v, f, m) for index, (v, (f, m)) in enumerate(MAPPING.items())]
    write_split(tmp_path, "trainval", rows[::2])
    write_split(tmp_path, "test", rows[1::2])
    built = Hierarchy.from_dict(hierarchy_from_fgvc_root(tmp_path))
    [root] = built.roots
    assert len(root.children) == 30
    for variant, (family, manufacturer) in MAPPING.items():
        [node] = built.resolve(variant)
        assert not node.children
        assert verdict_of(built, variant, manufacturer) is Verdict.GENERIC
        if manufacturer not in LEFT_OUT_MANUFACTURERS:
            assert verdict_of(hierarchy, variant, manufacturer) is Verdict.GENERIC
        if name_key(family) != name_key(variant):
            renamed = f"{family} family" if family in ("A320", "CRJ-700", "MD-80") else family
            assert verdict_of(built, variant, renamed) is Verdict.LESS_SPECIFIC


def test_builder_rejects_a_variant_in_two_families(tmp_path):
    write_split(tmp_path, "trainval", [("0000001", "737-800", "Boeing 737", "Boeing")])
    write_split(tmp_path, "test", [("0000002", "737-800", "Boeing 747", "Boeing")])
    with pytest.raises(AircraftHierarchyError, match=r"variant '737-800' belongs to 2 families"):
        hierarchy_from_fgvc_root(tmp_path)


def test_builder_rejects_a_family_with_two_makers(tmp_path):
    write_split(
        tmp_path,
        "test",
        [
            ("0000001", "737-800", "Boeing 737", "Boeing"),
            ("0000002", "737-700", "Boeing 737", "Airbus"),
        ],
    )
    with pytest.raises(AircraftHierarchyError, match=r"family 'Boeing 737' belongs to 2 manu"):
        hierarchy_from_fgvc_root(tmp_path)


def test_builder_rejects_files_that_disagree_on_images(tmp_path):
    write_split(tmp_path, "test", [("0000001", "737-800", "Boeing 737", "Boeing")])
    (tmp_path / "images_family_test.txt").write_text("0000002 Boeing 737\n")
    with pytest.raises(AircraftHierarchyError, match="list different images"):
        hierarchy_from_fgvc_root(tmp_path)


def test_builder_rejects_an_image_labelled_twice(tmp_path):
    write_split(tmp_path, "test", [("0000001", "737-800", "Boeing 737", "Boeing")])
    (tmp_path / "images_variant_test.txt").write_text("0000001 737-800\n0000001 737-700\n")
    with pytest.raises(AircraftHierarchyError, match="listed twice"):
        hierarchy_from_fgvc_root(tmp_path)


def test_builder_rejects_a_missing_level_file(tmp_path):
    write_split(tmp_path, "test", [("0000001", "737-800", "Boeing 737", "Boeing")])
    (tmp_path / "images_manufacturer_test.txt").unlink()
    with pytest.raises(AircraftHierarchyError, match=r"images_manufacturer_test\.txt is missing"):
        hierarchy_from_fgvc_root(tmp_path)


def test_builder_rejects_a_folder_without_the_files(tmp_path):
    with pytest.raises(AircraftHierarchyError, match=r"cannot find images_variant_test\.txt"):
        hierarchy_from_fgvc_root(tmp_path)


def test_builder_rejects_variants_a_judge_cannot_tell_apart(tmp_path):
    write_split(
        tmp_path,
        "test",
        [("0000001", "ATR-42", "ATR-42", "ATR"), ("0000002", "ATR 42", "ATR 42", "ATR")],
    )
    with pytest.raises(AircraftHierarchyError, match="same name key"):
        hierarchy_from_fgvc_root(tmp_path)
