import json

import pytest

from speciarl.evaluate.store import CorruptRecordError, RecordStore, exclusive


def record(sample_id, index, **extra):
    return {"sample_id": sample_id, "prediction_index": index, "value": 1, **extra}


def test_append_and_load_round_trip(tmp_path):
    store = RecordStore(tmp_path / "s" / "p.jsonl", ("value",))
    assert store.load() == {}
    store.append([record("a", 0), record("a", 1)])
    store.append([record("b", 0)])
    store.append([])
    loaded = store.load()
    assert list(loaded) == [("a", 0), ("a", 1), ("b", 0)]
    assert loaded[("a", 1)]["value"] == 1


def test_first_record_of_a_key_wins(tmp_path):
    store = RecordStore(tmp_path / "p.jsonl")
    store.append([record("a", 0, value=1), record("a", 0, value=2)])
    assert store.load()[("a", 0)]["value"] == 1


@pytest.mark.parametrize(
    ("garbage", "problem"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"sample_id": "x"}', "missing prediction_index"),
        ('{"sample_id": 3, "prediction_index": 0, "value": 1}', "sample_id must be a string"),
    ],
)
def test_a_corrupt_line_is_reported_with_file_and_line(tmp_path, garbage, problem):
    store = RecordStore(tmp_path / "p.jsonl", ("value",))
    store.append([record("a", 0)])
    with (tmp_path / "p.jsonl").open("a") as stream:
        stream.write(garbage + "\n")
    store.append([record("b", 0)])
    with pytest.raises(CorruptRecordError, match=rf"p\.jsonl:2: {problem}"):
        store.load()


def test_a_cut_off_last_line_is_reported(tmp_path):
    store = RecordStore(tmp_path / "p.jsonl")
    store.append([record("a", 0)])
    with (tmp_path / "p.jsonl").open("a") as stream:
        stream.write('{"sample_id": "b", "predic')
    with pytest.raises(CorruptRecordError, match=r"p\.jsonl:2: the last line is cut off"):
        store.load()


def test_repair_moves_bad_lines_aside_and_keeps_the_rest(tmp_path):
    path = tmp_path / "p.jsonl"
    store = RecordStore(path)
    store.append([record("a", 0)])
    with path.open("a") as stream:
        stream.write("garbage\n")
    store.append([record("b", 0)])
    assert list(store.load(repair=True)) == [("a", 0), ("b", 0)]
    assert list(store.load()) == [("a", 0), ("b", 0)]  # the file itself is clean now
    quarantined = [json.loads(line) for line in path.with_name("p.jsonl.corrupt").open()]
    assert quarantined == [{"line": 2, "problem": "not JSON (Expecting value)", "text": "garbage"}]


def test_only_one_process_works_in_a_folder(tmp_path):
    with (
        exclusive(tmp_path),
        pytest.raises(RuntimeError, match="another process"),
        exclusive(tmp_path),
    ):
        pass
    with exclusive(tmp_path):  # released again
        pass
