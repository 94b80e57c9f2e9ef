"""The Stanford Cars label hierarchy and class list shipped with the package."""

import re

import pytest

from hierarchy_checks import (
    ancestors,
    dataset_fixtures,
    shipped_class_list,
    verdict_of,
)
from speciarl.judges.hierarchy import Node, Rank
from speciarl.verdict import Verdict

MULTI_WORD_MAKES = {"AM General", "Aston Martin", "Land Rover", "Mercedes-Benz", "Rolls-Royce"}


hierarchy, labels = dataset_fixtures("stanford_cars")


@pytest.fixture(scope="module")
def makes(hierarchy) -> list[Node]:
    [vehicle] = hierarchy.roots
    [car] = vehicle.children
    return list(car.children)


def test_vehicle_is_the_one_root(hierarchy):
    assert [root.name for root in hierarchy.roots] == ["vehicle"]


def test_class_list(labels):
    lines = shipped_class_list("stanford_cars")
    assert len(lines) == 196
    assert lines[0] == "AM General Hummer SUV 2000"
    assert lines[-1] == "smart fortwo Convertible 2012"
    assert labels == lines  # cleaned label = the class name as it is
    assert all(re.fullmatch(r".+ (19|20)\d\d", label) for label in labels)


def test_every_label_sits_under_its_make_and_a_model_of_it(hierarchy, labels, makes):
    make_names = {make.name for make in makes}
    assert make_names >= MULTI_WORD_MAKES
    for label in labels:
        [node] = hierarchy.resolve(label)
        chain = ancestors(node)
        assert [n.name for n in chain[-2:]] == ["car", "vehicle"], label
        make = chain[-3]
        assert make.name in make_names and make.rank is Rank.BROAD
        assert label.startswith(make.name + " "), (label, make.name)
        models = chain[:-3]
        assert models, label  # at least one model between the make and the class
        for model in models:
            assert model.rank is Rank.CLOSE
            assert model.name.startswith(make.name + " "), (label, model.name)
        # the nearest model is named by words of the label ("Dodge Ram 3500" for "Dodge Ram
        # Pickup 3500 Crew Cab 2010"); models above it may be broader names ("Audi A4")
        assert set(models[0].name.split()) <= set(label.split()), (label, models[0].name)


def test_multi_word_makes_are_not_split(hierarchy):
    for make in MULTI_WORD_MAKES:
        assert len(hierarchy.resolve(make)) == 1, make
    for part in ("AM", "General", "Aston", "Martin", "Land", "Rover", "Benz", "Rolls", "Royce"):
        assert hierarchy.resolve(part) == (), part


def test_year_first_synonyms(hierarchy, labels):
    for label in labels:
        rest, year = label.rsplit(" ", 1)
        assert hierarchy.resolve(f"{year} {rest}") == hierarchy.resolve(label)


@pytest.mark.parametrize(
    ("ground_truth", "prediction", "expected"),
    [
        # the paper's examples
        ("Audi S4 Sedan 2012", "Audi S4", Verdict.LESS_SPECIFIC),
        ("Audi S4 Sedan 2012", "Audi", Verdict.GENERIC),
        ("Audi S4 Sedan 2012", "car", Verdict.GENERIC),
        ("Audi S4 Sedan 2012", "BMW", Verdict.WRONG),
        # the same concept
        ("Audi S4 Sedan 2012", "audi s4 sedan 2012", Verdict.SPECIFIC),
        ("Audi S4 Sedan 2012", "2012 Audi S4 Sedan", Verdict.SPECIFIC),
        ("Tesla Model S Sedan 2012", "Tesla Model S Sedan 2012", Verdict.SPECIFIC),
        # models and the models above them
        ("Audi S4 Sedan 2007", "Audi S4", Verdict.LESS_SPECIFIC),
        ("Audi S4 Sedan 2012", "Audi A4", Verdict.LESS_SPECIFIC),
        ("Audi RS 4 Convertible 2008", "Audi RS4", Verdict.LESS_SPECIFIC),
        ("Audi TTS Coupe 2012", "Audi TT", Verdict.LESS_SPECIFIC),
        ("BMW M3 Coupe 2012", "BMW 3 Series", Verdict.LESS_SPECIFIC),
        ("Tesla Model S Sedan 2012", "Tesla Model S", Verdict.LESS_SPECIFIC),
        ("Volkswagen Golf Hatchback 1991", "VW Golf", Verdict.LESS_SPECIFIC),
        ("Chevrolet Silverado 1500 Regular Cab 2012", "Chevy Silverado", Verdict.LESS_SPECIFIC),
        ("Chevrolet Corvette Ron Fellows Edition Z06 2007", "Corvette", Verdict.LESS_SPECIFIC),
        ("Land Rover LR2 SUV 2012", "Land Rover Freelander 2", Verdict.LESS_SPECIFIC),
        ("Ford F-450 Super Duty Crew Cab 2012", "Ford F-Series", Verdict.LESS_SPECIFIC),
        # makes, including multi-word ones, and the roots
        ("Aston Martin Virage Coupe 2012", "Aston Martin", Verdict.GENERIC),
        ("Rolls-Royce Ghost Sedan 2012", "Rolls Royce", Verdict.GENERIC),
        ("Land Rover Range Rover SUV 2012", "Land Rover", Verdict.GENERIC),
        ("Mercedes-Benz S-Class Sedan 2012", "Mercedes", Verdict.GENERIC),
        ("AM General Hummer SUV 2000", "AM General", Verdict.GENERIC),
        ("Ram C/V Cargo Van Minivan 2012", "vehicle", Verdict.GENERIC),
        # names on two nodes: the better reading counts
        ("AM General Hummer SUV 2000", "Hummer", Verdict.LESS_SPECIFIC),
        ("HUMMER H2 SUT Crew Cab 2009", "Hummer", Verdict.GENERIC),
        ("Dodge Ram Pickup 3500 Crew Cab 2010", "Ram", Verdict.LESS_SPECIFIC),
        ("Ram C/V Cargo Van Minivan 2012", "Ram", Verdict.GENERIC),
        ("Dodge Sprinter Cargo Van 2009", "Sprinter", Verdict.LESS_SPECIFIC),
        # finer than the label
        ("car", "Audi S4 Sedan 2012", Verdict.MORE_SPECIFIC),
        ("Audi A4", "Audi S4 Sedan 2007", Verdict.MORE_SPECIFIC),
        # wrong: other years, other models, other makes
        ("Audi S4 Sedan 2012", "Audi S4 Sedan 2007", Verdict.WRONG),
        ("Audi S4 Sedan 2012", "Audi S5", Verdict.WRONG),
        ("Audi A5 Coupe 2012", "Audi S5", Verdict.WRONG),
        ("BMW M3 Coupe 2012", "BMW M5", Verdict.WRONG),
        ("Scion xD Hatchback 2012", "Toyota", Verdict.WRONG),
        ("Dodge Sprinter Cargo Van 2009", "Mercedes-Benz", Verdict.WRONG),
        ("Chevrolet Express Van 2007", "GMC Savana", Verdict.WRONG),
        # names the file does not know are left to the next judge
        ("Audi S4 Sedan 2012", "sports sedan", None),
        ("Ford F-150 Regular Cab 2012", "pickup truck", None),
    ],
)
def test_verdicts(hierarchy, ground_truth, prediction, expected):
    assert verdict_of(hierarchy, ground_truth, prediction) is expected
