"""A verdict cache that fails during a run costs speed only; ``speciarl judge`` keeps its work.

Redis is a real redis-server on loopback (the ``redis_server`` fixture), killed with SHUTDOWN and,
where the test needs it back, started again on the same port with the same password.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis

from conftest import RedisServer, _answers_ping
from speciarl.answer import AnswerStatus, ParsedAnswer, normalize
from speciarl.judges import CachedJudge, Judgement, Pair, SqliteVerdictCache
from speciarl.judges.cache import CachedVerdict, CacheEntry, CacheUnavailableError
from speciarl.judges.redis_cache import RedisVerdictCache
from speciarl.judges.resilient_cache import ResilientCache, resilient
from speciarl.testing.openai_server import ScriptedOpenAIServer, judged_pairs, rule_responder
from speciarl.verdict import Verdict

PREFIX = "speciarl:verdict:"
OUTAGE_WARNING = "judging goes on without it"


# --- helpers ------------------------------------------------------------------------------------


def _kill(server: RedisServer) -> None:
    """Stop the server at once, as ``kill`` does: nothing saved, every connection dropped."""
    with contextlib.suppress(redis.ConnectionError):  # it went before it could answer
        server.client().shutdown(nosave=True, now=True)


@pytest.fixture
def restart_redis(tmp_path: Path) -> Iterator[Callable[[RedisServer], None]]:
    """``restart_redis(server)`` starts a killed ``redis_server`` again on its port."""
    started: list[subprocess.Popen] = []

    def restart(server: RedisServer) -> None:
        command = [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1"]
        command += ["--port", str(server.port), "--requirepass", server.password]
        command += ["--maxmemory-policy", "noeviction", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(tmp_path)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        started.append(process)
        assert _answers_ping(server, process, timeout_s=10), "redis-server did not restart"

    yield restart
    for process in started:
        process.kill()
        process.wait()


class CountingJudge:
    """Decides every pair (the verdict follows the prediction) and counts what it was asked."""

    name = "counting"
    identity = "counting:v1"

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self.asked: Counter[Pair] = Counter()

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        self.asked.update(pairs)
        return [Judgement(_verdict_of(pair.prediction), self.name) for pair in pairs]


def _verdict_of(prediction: str) -> Verdict:
    return list(Verdict)[sum(map(ord, prediction)) % len(Verdict)]


def _pairs(start: int, stop: int) -> list[Pair]:
    return [Pair(f"label {i % 7}", f"answer {i}") for i in range(start, stop)]


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def _write_pairs(path: Path, count: int, change: int | None = None) -> list[dict[str, str]]:
    records = [
        {"ground_truth": f"label {i % 50}", "prediction": f"answer {i}", "id": i}
        for i in range(count)
    ]
    if change is not None:
        records[change]["prediction"] = "something else"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return records


def _rule(ground_truth: str, prediction: str) -> str:
    return _verdict_of(prediction).value


def _judge_command(pairs: Path, out: Path, server: ScriptedOpenAIServer, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "speciarl.cli",
        "judge",
        "--pairs",
        str(pairs),
        "--out",
        str(out),
        "--judge",
        "llm",
        "--endpoint",
        server.base_url,
        "--model",
        "judge",
        "--concurrency",
        "4",
        *extra,
    ]


def _read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# --- the reported fault -------------------------------------------------------------------------


def test_judge_command_survives_redis_dying_mid_run(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    _write_pairs(pairs, 2_000)
    env = {**os.environ, "SPECIARL_REDIS_PASSWORD": redis_server.password}
    with ScriptedOpenAIServer(rule_responder(_rule), latency_s=0.005, models=["judge"]) as server:
        command = _judge_command(pairs, out, server, "--redis", redis_server.url)
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            # Killed some chunks in, once verdicts were being stored in Redis.
            _wait_for(lambda: len(server.requests) >= 600, 60, "the first chunks")
            stored_before = redis_server.client().dbsize()
            _kill(redis_server)
            _, stderr = process.communicate(timeout=120)
        finally:
            process.kill()
        requests = len(server.requests)
    assert process.returncode == 0, stderr
    assert stored_before > 0
    rows = _read_rows(out)
    assert [row["id"] for row in rows] == list(range(2_000))
    assert all(row["verdict"] == _rule("", row["prediction"]) for row in rows)
    assert requests == 2_000  # every pair judged once, none lost, none repeated
    assert stderr.count(OUTAGE_WARNING) == 1
    summary = {line[:40].strip(): line[40:].split() for line in stderr.splitlines()}
    assert "cache errors (judged on without it)" in stderr
    assert int(summary["cache outages"][0]) == 1
    assert "Traceback" not in stderr


# --- Redis back on the same port ----------------------------------------------------------------


def test_verdicts_judged_while_redis_was_down_are_written_back(
    redis_server: RedisServer,
    restart_redis: Callable[[RedisServer], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    inner = CountingJudge()
    cache = RedisVerdictCache(redis_server.url, password=redis_server.password, timeout_s=2)
    judge = CachedJudge(inner, cache)
    with caplog.at_level(logging.INFO, logger="speciarl"):
        judge.judge(_pairs(0, 100))
        _kill(redis_server)
        during = judge.judge(_pairs(100, 300))
        again = judge.judge(_pairs(200, 300))  # judged during the outage: kept in memory
        assert [j.verdict for j in again] == [j.verdict for j in during[100:]]
        assert all(j.cached for j in again)
        restart_redis(redis_server)
        time.sleep(1.1)  # the first retry comes 1 s after the failure
        judge.judge(_pairs(300, 310))
    client = redis_server.client()
    assert client.dbsize() == 210  # the outage's 200 written back, then 10 stored normally
    stored = json.loads(client.get(PREFIX + _key(inner, _pairs(150, 151)[0])))
    assert stored["verdict"] == _verdict_of("answer 150").value
    assert max(inner.asked.values()) == 1  # no pair judged twice
    assert judge.counters["cache_outages"] == 1
    assert judge.counters["cache_reconnects"] == 1
    assert judge.counters["cache_written_back"] == 200
    assert judge.counters["cache_errors"] >= 1
    assert sum(OUTAGE_WARNING in message for message in _warnings(caplog)) == 1
    assert "answers again" in caplog.text
    judge.close()


def _key(judge: CountingJudge, pair: Pair) -> str:
    from speciarl.judges.cache import cache_key

    return cache_key(judge.identity, normalize(pair.ground_truth), normalize(pair.prediction))


def test_claims_degrade_when_redis_dies_between_lookup_and_claim(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    inner = CountingJudge()
    cache = RedisVerdictCache(redis_server.url, password=redis_server.password, timeout_s=2)
    judge = CachedJudge(inner, cache)
    claim = cache.claim_many

    def dies_then_claims(keys: Sequence[str], ttl_s: float) -> set[str]:
        _kill(redis_server)
        return claim(keys, ttl_s)

    cache.claim_many = dies_then_claims  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING):
        judgements = judge.judge(_pairs(0, 50))
    assert [j.verdict for j in judgements] == [_verdict_of(f"answer {i}") for i in range(50)]
    assert sum(inner.asked.values()) == 50
    assert judge.counters["cache_errors"] >= 1
    assert sum(OUTAGE_WARNING in message for message in _warnings(caplog)) == 1
    judge.close()


def test_a_cache_down_at_start_is_still_an_error(redis_server: RedisServer) -> None:
    _kill(redis_server)
    with pytest.raises(CacheUnavailableError):
        RedisVerdictCache(redis_server.url, password=redis_server.password, timeout_s=2)


# --- SQLite -------------------------------------------------------------------------------------


class _BrokenConnection:
    """Stands in for the cache file's connection once the database has become unusable."""

    def execute(self, *args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    executemany = execute

    def close(self) -> None:
        pass


def test_sqlite_cache_failing_mid_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    inner = CountingJudge()
    cache = SqliteVerdictCache(tmp_path / "verdicts.sqlite")
    judge = CachedJudge(inner, cache)
    judge.judge(_pairs(0, 100))
    healthy, cache._connection = cache._connection, _BrokenConnection()  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING):
        for start in range(100, 400, 50):  # several calls, one warning
            judgements = judge.judge(_pairs(start - 50, start + 50))
            assert all(j.verdict is not None for j in judgements)
    assert sum(OUTAGE_WARNING in message for message in _warnings(caplog)) == 1
    assert len(_warnings(caplog)) == 1
    assert judge.counters["cache_errors"] >= 1
    assert judge.counters["cache_outages"] == 1
    # What the outage cost: the stored verdicts it hid were judged again, once; those judged
    # during it were kept in memory and not judged again.
    assert {pair for pair, times in inner.asked.items() if times > 1} == set(_pairs(50, 100))
    assert max(inner.asked.values()) == 2
    cache._connection = healthy  # the file works again: close writes the verdicts back
    judge.close()
    with SqliteVerdictCache(tmp_path / "verdicts.sqlite") as reopened:
        assert len(reopened) == 400
    assert judge.counters["cache_written_back"] == 350  # with the 50 judged again


# --- backoff, bounds and close, with a fake clock -----------------------------------------------


class FlakyCache:
    """A cache that fails while ``down`` and counts every call that reached it."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0
        self.stored: dict[str, CacheEntry] = {}

    def _reach(self) -> None:
        self.calls += 1
        if self.down:
            raise CacheUnavailableError("verdict cache fake is unavailable: refused")

    def get_many(self, keys: Sequence[str]) -> dict[str, CachedVerdict]:
        self._reach()
        return {
            key: CachedVerdict(self.stored[key].verdict, self.stored[key].decided_by)
            for key in keys
            if key in self.stored
        }

    def put_many(self, entries: Sequence[CacheEntry]) -> None:
        self._reach()
        for entry in entries:
            self.stored.setdefault(entry.key, entry)

    def close(self) -> None:
        pass


def _entry(index: int) -> CacheEntry:
    return CacheEntry(f"{index:032x}", "j:v1", "t", f"p{index}", Verdict.SPECIFIC, "j")


def test_retries_back_off_and_are_capped() -> None:
    now = [0.0]
    inner = FlakyCache()
    cache = ResilientCache(inner, first_retry_s=1, max_retry_s=8, clock=lambda: now[0])
    inner.down = True
    attempts = []
    for step in range(400):  # 40 s of calls every 0.1 s
        now[0] = step / 10
        before = inner.calls
        assert cache.get_many(["k"]) == {}
        if inner.calls > before:
            attempts.append(now[0])
    # Each retry is one probe: 0 (the failure), then after 1, 2, 4, 8, 8 ... seconds.
    assert attempts == pytest.approx([0, 1, 3, 7, 15, 23, 31, 39])
    assert cache.counters["cache_outages"] == 1
    assert cache.counters["cache_errors"] == len(attempts)
    inner.down = False
    now[0] = 50
    assert cache.get_many(["k"]) == {}
    assert cache.available and cache.counters["cache_reconnects"] == 1


def test_kept_verdicts_are_bounded_and_unwritten_ones_reported_at_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    inner = FlakyCache()
    cache = resilient(inner, pending_limit=5, clock=lambda: now[0])
    inner.down = True
    cache.put_many([_entry(i) for i in range(8)])
    assert cache.pending == 5
    assert cache.counters["cache_write_back_dropped"] == 3
    assert cache.get_many([_entry(7).key, _entry(0).key]) == {
        _entry(7).key: CachedVerdict(Verdict.SPECIFIC, "j")
    }
    with caplog.at_level(logging.WARNING):
        cache.close()  # still down: one last try fails
    assert cache.counters["cache_write_back_lost"] == 5
    assert "were not written back" in caplog.text


def test_a_healthy_cache_adds_no_counters(tmp_path: Path) -> None:
    inner = CountingJudge()
    with SqliteVerdictCache(tmp_path / "v.sqlite") as cache:
        judge = CachedJudge(inner, cache)
        judge.judge(_pairs(0, 10))
        judge.judge(_pairs(0, 10))
    assert not any(
        name.startswith("cache_") and "hits" not in name and "misses" not in name
        for name in judge.counters
    )


# --- speciarl judge: chunked, resumable ---------------------------------------------------------


def test_judge_killed_mid_file_resumes_without_asking_again(tmp_path: Path) -> None:
    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    records = _write_pairs(pairs, 1_200)
    with ScriptedOpenAIServer(rule_responder(_rule), latency_s=0.01, models=["judge"]) as server:
        command = _judge_command(pairs, out, server, "--chunk-size", "100")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for(
                lambda: out.is_file() and out.read_bytes().count(b"\n") >= 300, 60, "3 chunks"
            )
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            process.kill()
        kept = _read_rows(out)
        assert len(kept) % 100 == 0 and 300 <= len(kept) < 1_200
        first_run = len(server.requests)
        resumed = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr
        asked_again = [
            item["prediction"]
            for body in server.requests[first_run:]
            for item in judged_pairs(body)
        ]
        # The same --out for other pairs is refused, and the file is left as it is.
        other = tmp_path / "other.jsonl"
        _write_pairs(other, 1_200, change=5)
        before = out.read_bytes()
        refused = subprocess.run(
            [*command[:5], str(other), *command[6:]], capture_output=True, text=True, timeout=60
        )
    rows = _read_rows(out)
    assert rows[: len(kept)] == kept
    assert [row["id"] for row in rows] == list(range(1_200))  # each row once, in order
    assert all(row["verdict"] == _rule("", row["prediction"]) for row in rows)
    assert sorted(asked_again) == sorted(r["prediction"] for r in records[len(kept) :])
    assert f"keeping {len(kept)} of 1200 rows" in resumed.stderr
    assert "pairs" in resumed.stderr and " 1200 " in resumed.stderr  # the whole file's summary
    assert refused.returncode == 2
    message = refused.stderr.strip()
    assert len(message.splitlines()) == 1
    assert message.startswith(f"error: {out}:6 judged") and "written for other pairs" in message
    assert message.endswith("pass another --out or delete it")
    assert out.read_bytes() == before


def test_judge_resume_drops_a_cut_off_line_and_rejects_foreign_files(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from speciarl.cli import app
    from speciarl.selfcheck import EXAMPLE_HIERARCHY

    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    _write_pairs(pairs, 30)
    args = ["judge", "--pairs", str(pairs), "--out", str(out), "--judge", "lexical"]
    args += ["--chunk-size", "7"]
    runner = CliRunner()
    assert runner.invoke(app, args).exit_code == 0
    whole = out.read_bytes()
    lines = whole.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:10]) + lines[10][:15])  # killed mid-write of a chunk
    resumed = runner.invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    assert "removed a cut-off last line" in resumed.stderr
    assert "keeping 10 of 30 rows" in resumed.stderr
    assert out.read_bytes() == whole
    assert runner.invoke(app, args).stderr.count("keeping 30 of 30 rows") == 1

    out.write_text("not a row\n")
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert "is not a judgement row of speciarl judge; pass another --out" in refused.stderr
    assert EXAMPLE_HIERARCHY.is_file()


# --- a real training run on the tiny model ------------------------------------------------------


_SHAPES = ("circle", "square", "red circle", "green square", "blue circle", "red square")


def _coarse_answer(completion: str, **limits: object) -> ParsedAnswer:
    """Stands in for answer extraction: the tiny random model never writes an <answer>, so each
    completion is read as one of a few coarse shape names, which the taxonomy judge decides and
    which repeat across steps (as a trained policy's answers do)."""
    return ParsedAnswer(AnswerStatus.OK, _SHAPES[zlib.crc32(completion.encode()) % len(_SHAPES)])


@pytest.mark.parametrize("outage", [True, False], ids=["outage", "baseline"])
def test_training_survives_redis_going_away_after_the_first_step(
    redis_server: RedisServer,
    restart_redis: Callable[[RedisServer], None],
    tiny_model: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    outage: bool,
) -> None:
    """Redis dies at the second step's judging and comes back at the fourth's, some 2 s later;
    the third and fourth steps' judging wait so that the retries (1 s, then 2 s after the
    failure) come due at those steps whatever the speed of the machine, as on a real run whose
    steps take longer. The baseline, the same run with Redis up throughout, is there to compare
    what the outage cost; both print their figures (pytest -s)."""
    from speciarl.judges.taxonomy import TaxonomyJudge
    from speciarl.train.config import load_config
    from speciarl.train.grpo import train_grpo
    from test_train_e2e import recipe

    monkeypatch.setenv("SPECIARL_REDIS_PASSWORD", redis_server.password)
    monkeypatch.setattr("speciarl.rollouts.extract_answer", _coarse_answer)
    cached_judges: list[CachedJudge] = []
    asked: Counter[Pair] = Counter()
    calls: list[float] = []  # seconds each judge call took, waits left out
    build, judge_cached, judge_taxonomy = (
        CachedJudge.__init__,
        CachedJudge.judge,
        TaxonomyJudge.judge,
    )
    client = redis_server.client()
    events: dict[str, float] = {}

    def recording_build(self: CachedJudge, *args: object, **options: object) -> None:
        build(self, *args, **options)  # type: ignore[arg-type]
        cached_judges.append(self)

    def step_judge(self: CachedJudge, pairs: Sequence[Pair]) -> list[Judgement]:
        call = len(calls) + 1
        if outage and call == 2:
            events["stored_before"] = client.dbsize()
            _kill(redis_server)
            events["killed"] = time.monotonic()
        if outage and call == 4:
            restart_redis(redis_server)  # empty: what it holds afterwards was written back or new
            events["restarted"] = time.monotonic()
        if outage and call == 3:
            time.sleep(1.5)  # past the first retry (1 s after the failure): it fails
        if outage and call == 4:
            time.sleep(2.1)  # past the second (2 s after the first): Redis is back
        began = time.monotonic()
        try:
            return judge_cached(self, pairs)
        finally:
            calls.append(time.monotonic() - began)

    def counting_judge(self: TaxonomyJudge, pairs: Sequence[Pair]) -> list[Judgement]:
        asked.update(pairs)
        return judge_taxonomy(self, pairs)

    monkeypatch.setattr(CachedJudge, "__init__", recording_build)
    monkeypatch.setattr(CachedJudge, "judge", step_judge)
    monkeypatch.setattr(TaxonomyJudge, "judge", counting_judge)
    steps = 6
    rollouts = tmp_path / "run" / "rollouts" / "rank0.jsonl"
    config = load_config(
        recipe(
            tmp_path,
            tiny_model,
            data={"dataset": "synthetic", "subset": 4},  # each image comes back every 2 steps
            judge={"hierarchy": "synthetic", "cache": redis_server.url},
            optimizer__max_steps=steps,
            save_steps=steps,
        )
    )
    started = time.monotonic()
    train_grpo(config)
    seconds = time.monotonic() - started
    rows = [json.loads(line) for line in rollouts.open()]
    assert sorted({row["step"] for row in rows}) == list(range(steps))
    assert len(rows) == steps * 2 * 4
    assert len(calls) == steps  # one judge call per step
    (cached_judge,) = cached_judges
    counters = {k: v for k, v in cached_judge.counters.items() if k.startswith("cache")}
    repeated = sum(times - 1 for times in asked.values())
    if outage:
        assert events["stored_before"] > 0  # Redis was in use before it died
        assert counters["cache_outages"] == 1 and counters["cache_reconnects"] == 1
        # Verdicts of the steps after the kill reached the restarted Redis (written back or new).
        stored = {
            json.loads(client.get(key))["prediction"] for key in client.scan_iter(f"{PREFIX}*")
        }
        after = {row["answer"] for row in rows if row["judge"] == "taxonomy" and row["step"] >= 1}
        assert after and {normalize(answer) for answer in after} <= stored
    else:
        assert repeated == 0 and "cache_errors" not in counters
    down = f"Redis down {events['restarted'] - events['killed']:.1f} s" if outage else "baseline"
    print(
        f"\ntraining, {down}: {seconds:.1f} s for {steps} steps, of which {sum(calls):.2f} s "
        f"in judge calls (max {max(calls):.2f} s); taxonomy judged {asked.total()} pairs, "
        f"{repeated} of them again; {client.dbsize()} verdicts in Redis at the end; {counters}"
    )


def test_judge_asks_each_pair_once_across_chunks_and_reruns(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from speciarl.cli import app

    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "out.jsonl"
    records = [{"ground_truth": "label", "prediction": f"answer {i % 5}"} for i in range(40)]
    pairs.write_text("".join(json.dumps(record) + "\n" for record in records))
    with ScriptedOpenAIServer(rule_responder(_rule), models=["judge"]) as server:
        command = _judge_command(pairs, out, server, "--chunk-size", "2")[3:]
        first = CliRunner().invoke(app, command)
        assert first.exit_code == 0, first.output
        lines = out.read_text().splitlines(keepends=True)
        out.write_text("".join(lines[:3]))  # as if killed after the first chunk
        second = CliRunner().invoke(app, command)
        assert second.exit_code == 0, second.output
        asked = [item["prediction"] for body in server.requests for item in judged_pairs(body)]
    # Chunks hold 2 new distinct pairs each, repeats ride along: 5 pairs, each asked once in
    # the first run; the rerun asks only the pairs the 3 kept rows do not cover.
    assert sorted(asked[:5]) == [f"answer {i}" for i in range(5)]
    assert sorted(asked[5:]) == ["answer 3", "answer 4"]
    assert out.read_text().splitlines(keepends=True) == lines
