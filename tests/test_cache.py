"""The verdict cache: stable unambiguous keys; an SQLite store shared by threads and processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speciarl.judges.cache import (
    SCHEMA_VERSION,
    CachedVerdict,
    CacheEntry,
    CacheSchemaError,
    SqliteVerdictCache,
    cache_key,
)
from speciarl.verdict import Verdict

IDENTITY = "test-judge:v1"


def _entry(index: int, identity: str = IDENTITY) -> CacheEntry:
    """A distinct entry whose verdict and judge follow from ``index``, so any process agrees."""
    truth, prediction = f"label {index % 37}", f"answer {index}"
    return CacheEntry(
        key=cache_key(identity, truth, prediction),
        judge_identity=identity,
        ground_truth=truth,
        prediction=prediction,
        verdict=list(Verdict)[index % len(Verdict)],
        decided_by=f"judge-{index % 3}",
    )


def _expected(index: int) -> CachedVerdict:
    entry = _entry(index)
    return CachedVerdict(entry.verdict, entry.decided_by)


# --- keys ---------------------------------------------------------------------------------------


def test_key_is_a_fixed_length_hex_digest_that_never_changes() -> None:
    key = cache_key("lexical:v1", "samoyed", "dog", normalization_version=1)
    assert len(key) == 32
    int(key, 16)
    # Pinned: a silent change of the encoding would orphan every cache already on disk.
    assert key == "410af3613005f596c31b0b3bba9ee4de"
    assert cache_key("lexical:v1", "samoyed", "dog") == key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("j", "a b", "c"), ("j", "a", "b c")),
        (("j a", "b", "c"), ("j", "a b", "c")),
        (("j", "ab", ""), ("j", "a", "b")),
        (("j", "", "ab"), ("j", "ab", "")),
        (("j", "1:a", "b"), ("j", "1", "a|b")),
    ],
)
def test_key_tells_apart_texts_that_concatenate_alike(
    first: tuple[str, str, str], second: tuple[str, str, str]
) -> None:
    assert cache_key(*first) != cache_key(*second)


@pytest.mark.parametrize(
    "changed",
    [
        ("other-judge:v1", "samoyed", "dog", 1),
        ("lexical:v1", "husky", "dog", 1),
        ("lexical:v1", "samoyed", "canine", 1),
        ("lexical:v1", "samoyed", "dog", 2),
    ],
)
def test_key_changes_with_every_part(changed: tuple[str, str, str, int]) -> None:
    assert cache_key(*changed) != cache_key("lexical:v1", "samoyed", "dog", 1)


# --- SQLite store -------------------------------------------------------------------------------


def test_round_trip_returns_only_stored_keys(tmp_path: Path) -> None:
    with SqliteVerdictCache(tmp_path / "verdicts.sqlite") as cache:
        cache.put_many([_entry(i) for i in range(10)])
        absent = cache_key(IDENTITY, "nothing", "stored")
        found = cache.get_many([_entry(3).key, absent, _entry(7).key, _entry(3).key])
        assert found == {_entry(3).key: _expected(3), _entry(7).key: _expected(7)}
        assert cache.get_many([]) == {}
        assert len(cache) == 10


def test_lookup_of_more_keys_than_one_query_binds(tmp_path: Path) -> None:
    with SqliteVerdictCache(tmp_path / "verdicts.sqlite") as cache:
        cache.put_many([_entry(i) for i in range(2_600)])
        keys = [_entry(i).key for i in range(0, 2_600, 2)]
        found = cache.get_many(keys)
        assert len(found) == 1_300
        assert found[_entry(2_598).key] == _expected(2_598)


def test_first_verdict_stored_under_a_key_wins(tmp_path: Path) -> None:
    first = _entry(0)
    second = CacheEntry(
        first.key, IDENTITY, first.ground_truth, first.prediction, Verdict.MORE_SPECIFIC, "other"
    )
    assert first.verdict is not Verdict.MORE_SPECIFIC
    with SqliteVerdictCache(tmp_path / "verdicts.sqlite") as cache:
        cache.put_many([first])
        cache.put_many([second, _entry(1)])
        assert cache.get_many([first.key])[first.key] == _expected(0)
        assert len(cache) == 2


def test_readable_fields_are_stored_for_inspection(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.sqlite"
    with SqliteVerdictCache(path) as cache:
        cache.put_many([_entry(5)])
    with sqlite3.connect(path) as connection:
        row = connection.execute(
            "SELECT judge_identity, ground_truth, prediction, verdict, decided_by FROM verdicts"
        ).fetchone()
    assert row == (IDENTITY, "label 5", "answer 5", "more specific", "judge-2")


def test_entries_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.sqlite"
    cache = SqliteVerdictCache(path)
    cache.put_many([_entry(i) for i in range(100)])
    cache.close()
    with SqliteVerdictCache(path) as reopened:
        assert len(reopened) == 100
        assert reopened.get_many([_entry(42).key]) == {_entry(42).key: _expected(42)}


def test_creates_missing_folders_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "verdicts.sqlite"
    with SqliteVerdictCache(path):
        pass
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_closed_cache_refuses_work_and_closing_twice_is_harmless(tmp_path: Path) -> None:
    cache = SqliteVerdictCache(tmp_path / "verdicts.sqlite")
    with cache:
        pass
    cache.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        cache.get_many([_entry(0).key])
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        cache.put_many([_entry(0)])


def test_newer_schema_version_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.sqlite"
    with SqliteVerdictCache(path):
        pass
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer = rf"schema version {SCHEMA_VERSION + 1}, written by a newer speciarl"
    with pytest.raises(CacheSchemaError, match=newer):
        SqliteVerdictCache(path)


def test_foreign_database_is_not_taken_for_a_cache(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(CacheSchemaError, match="not a speciarl verdict cache"):
        SqliteVerdictCache(path)


def test_threads_share_one_cache(tmp_path: Path) -> None:
    threads, per_thread = 8, 300
    start = threading.Barrier(threads)

    def work(thread: int) -> None:
        start.wait()
        indices = range(thread * per_thread // 2, thread * per_thread // 2 + per_thread)
        for first in range(indices.start, indices.stop, 5):
            batch = [_entry(i) for i in range(first, min(first + 5, indices.stop))]
            cache.put_many(batch)
            assert len(cache.get_many([entry.key for entry in batch])) == len(batch)

    with (
        SqliteVerdictCache(tmp_path / "verdicts.sqlite") as cache,
        ThreadPoolExecutor(threads) as pool,
    ):
        for future in [pool.submit(work, thread) for thread in range(threads)]:
            future.result()
        total = (threads - 1) * per_thread // 2 + per_thread
        found = cache.get_many([_entry(i).key for i in range(total)])
        assert len(cache) == total
        assert all(found[_entry(i).key] == _expected(i) for i in range(total))


def _write_from_another_process(
    path: str,
    first: int,
    last: int,
    start: multiprocessing.synchronize.Barrier,
    report: multiprocessing.queues.Queue[str],
) -> None:
    """Open the shared file and write ``first..last`` seven entries per transaction."""
    try:
        start.wait()
        with SqliteVerdictCache(path) as cache:
            for batch_start in range(first, last, 7):
                batch = [_entry(i) for i in range(batch_start, min(batch_start + 7, last))]
                cache.put_many(batch)
                cache.get_many([entry.key for entry in batch])
        report.put("ok")
    except BaseException:
        report.put(traceback.format_exc())
        raise


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    # Both open a file that does not exist yet, then write overlapping and distinct ranges.
    path = tmp_path / "shared" / "verdicts.sqlite"
    context = multiprocessing.get_context("spawn")
    start, report = context.Barrier(2), context.Queue()
    ranges = [(0, 3_000), (1_500, 4_500)]
    processes = [
        context.Process(target=_write_from_another_process, args=(str(path), *span, start, report))
        for span in ranges
    ]
    for process in processes:
        process.start()
    outcomes = [report.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert outcomes == ["ok", "ok"], "\n".join(outcomes)
    assert [process.exitcode for process in processes] == [0, 0]

    with SqliteVerdictCache(path) as cache:
        assert len(cache) == 4_500
        found = cache.get_many([_entry(i).key for i in range(4_500)])
        assert len(found) == 4_500
        assert all(found[_entry(i).key] == _expected(i) for i in range(4_500))
