"""The shipped labelled answers (speciarl/data/labelled_answers/<dataset>.jsonl): complete, well
formed, about real labels, and never contradicted by the deterministic judges.

judge-eval measures every judge against these rows, so a row that is wrong makes a right judge
look wrong; the format and the rules for writing rows are in docs/judge-eval.md.
"""

import json
from collections import Counter
from importlib.resources import files

import pytest

from speciarl.judges.judge_eval import evaluate_setups, labelled_groups, prepare_setups
from speciarl.judges.labelled import (
    LABELLED_KEYS,
    dataset_labels,
    read_labelled,
    shipped_labelled_datasets,
)
from speciarl.verdict import VERDICTS

SHIPPED = (
    "cub200",
    "fgvc_aircraft",
    "stanford_cars",
    "flowers102",
    "food101",
    "oxford_pets",
    "caltech101",
)
MIN_ROWS_PER_DATASET = 80
MIN_ROWS_PER_VERDICT = 40


def shipped_file(dataset):
    return files("speciarl") / "data" / "labelled_answers" / f"{dataset}.jsonl"


def raw_rows(dataset):
    """(line number, parsed object) of every non-blank line, read without the validating reader."""
    text = shipped_file(dataset).read_text(encoding="utf-8")
    return [
        (number, json.loads(line))
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]


def test_every_shipped_dataset_has_labelled_answers():
    assert set(SHIPPED) <= set(shipped_labelled_datasets())
    for dataset in SHIPPED:
        assert shipped_file(dataset).is_file(), f"no labelled answers for {dataset}"


@pytest.mark.parametrize("dataset", SHIPPED)
def test_rows_have_exactly_the_four_keys_and_one_line_reasons(dataset):
    problems = []
    for number, record in raw_rows(dataset):
        if not isinstance(record, dict) or set(record) != set(LABELLED_KEYS):
            problems.append(f"line {number}: keys {sorted(record)}")
            continue
        for key in LABELLED_KEYS:
            if not isinstance(record[key], str) or not record[key].strip():
                problems.append(f"line {number}: {key} is not a non-empty string")
        reason = record["reason"]
        if isinstance(reason, str) and len(reason.splitlines()) != 1:
            problems.append(f"line {number}: reason is not one line")
        if record["verdict"] not in {verdict.value for verdict in VERDICTS}:
            problems.append(f"line {number}: verdict {record['verdict']!r} is not canonical")
    assert not problems, f"{dataset}: " + "; ".join(problems)


@pytest.mark.parametrize("dataset", SHIPPED)
def test_ground_truths_are_labels_of_their_dataset_as_cleaned(dataset):
    labels = dataset_labels(dataset)
    assert labels
    strangers = [
        f"line {number}: {record['ground_truth']!r}"
        for number, record in raw_rows(dataset)
        if record["ground_truth"] not in labels
    ]
    assert not strangers, f"{dataset}: not labels of the dataset: " + "; ".join(strangers)


@pytest.mark.parametrize("dataset", SHIPPED)
def test_no_pair_is_labelled_twice(dataset):
    seen = Counter((r["ground_truth"], r["prediction"]) for _, r in raw_rows(dataset))
    assert not [pair for pair, count in seen.items() if count > 1]


@pytest.mark.parametrize("dataset", SHIPPED)
def test_each_dataset_has_enough_rows_over_many_labels(dataset):
    labelled = read_labelled(shipped_file(dataset))  # the validating reader accepts the file
    assert len(labelled.answers) >= MIN_ROWS_PER_DATASET
    # Rows spread over many labels, not a handful.
    per_label = Counter(answer.ground_truth for answer in labelled.answers)
    assert len(per_label) >= 10, f"{dataset}: rows cover only {len(per_label)} labels"


def test_every_verdict_is_well_represented_overall():
    verdicts = Counter(record["verdict"] for dataset in SHIPPED for _, record in raw_rows(dataset))
    scarce = {
        verdict.value: verdicts[verdict.value]
        for verdict in VERDICTS
        if verdicts[verdict.value] < MIN_ROWS_PER_VERDICT
    }
    assert not scarce, f"verdicts with fewer than {MIN_ROWS_PER_VERDICT} rows: {scarce}"


@pytest.mark.parametrize("dataset", SHIPPED)
def test_deterministic_judges_are_never_wrong_on_the_shipped_set(dataset):
    """Lexical alone and the cascade without an LLM (lexical, then the dataset's taxonomy) give a
    verdict only where it is the labelled one: precision 1.0 on every verdict they give."""
    groups = labelled_groups([str(shipped_file(dataset))])
    sections = evaluate_setups(prepare_setups(["lexical", "cascade"]), groups)
    for section in sections:
        wrong = [
            f"{d['ground_truth']!r} / {d['prediction']!r}: labelled {d['label']}, "
            f"{d['judge']} says {d['judged']}"
            for d in section["disagreements"]
        ]
        assert not wrong, f"{section['name']} on {dataset}: " + "; ".join(wrong)
        for verdict, figures in section["overall"]["verdicts"].items():
            assert figures["precision"] in (None, 1.0), (section["name"], verdict)
