"""The Redis verdict cache and request coalescing, against a real redis-server."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import RedisServer
from speciarl.answer import normalize
from speciarl.judges import UNDECIDED, CachedJudge, Judgement, Pair, SqliteVerdictCache
from speciarl.judges.cache import (
    CachedVerdict,
    CacheEntry,
    CacheUnavailableError,
    CoalescingCache,
    cache_key,
)
from speciarl.judges.redis_cache import RedisVerdictCache
from speciarl.verdict import Verdict

IDENTITY = "test-judge:v1"
PREFIX = "speciarl:verdict:"


def _entry(index: int) -> CacheEntry:
    truth, prediction = f"label {index % 37}", f"answer {index}"
    return CacheEntry(
        key=cache_key(IDENTITY, truth, prediction),
        judge_identity=IDENTITY,
        ground_truth=truth,
        prediction=prediction,
        verdict=list(Verdict)[index % len(Verdict)],
        decided_by=f"judge-{index % 3}",
    )


def _expected(index: int) -> CachedVerdict:
    return CachedVerdict(_entry(index).verdict, _entry(index).decided_by)


def _open(server: RedisServer, **options: object) -> RedisVerdictCache:
    return RedisVerdictCache(server.url, password=server.password, **options)


# --- the store ----------------------------------------------------------------------------------


def test_round_trip_uses_the_same_keys_as_sqlite(redis_server: RedisServer, tmp_path: Path) -> None:
    entries = [_entry(i) for i in range(2_500)]  # more than one MGET chunk
    keys = [entry.key for entry in entries] + [cache_key(IDENTITY, "nothing", "stored")]
    with _open(redis_server) as cache, SqliteVerdictCache(tmp_path / "v.sqlite") as sqlite:
        assert isinstance(cache, CoalescingCache)
        assert not isinstance(sqlite, CoalescingCache)
        cache.put_many(entries)
        sqlite.put_many(entries)
        found = cache.get_many(keys)
        assert found == sqlite.get_many(keys)
        assert len(found) == 2_500
        assert found[_entry(7).key] == _expected(7)
        assert cache.get_many([]) == {}
    stored = json.loads(redis_server.client().get(PREFIX + _entry(5).key))
    assert stored == {
        "verdict": "more specific",
        "decided_by": "judge-2",
        "judge_identity": IDENTITY,
        "ground_truth": "label 5",
        "prediction": "answer 5",
    }


def test_first_writer_wins(redis_server: RedisServer) -> None:
    first = _entry(0)
    second = CacheEntry(
        first.key, IDENTITY, first.ground_truth, first.prediction, Verdict.MORE_SPECIFIC, "other"
    )
    with _open(redis_server) as one, _open(redis_server) as another:
        one.put_many([first])
        another.put_many([second, _entry(1)])
        assert another.get_many([first.key, _entry(1).key]) == {
            first.key: _expected(0),
            _entry(1).key: _expected(1),
        }


def test_entries_never_expire_unless_a_ttl_is_given(redis_server: RedisServer) -> None:
    client = redis_server.client()
    with _open(redis_server) as lasting, _open(redis_server, ttl_s=0.2) as fleeting:
        lasting.put_many([_entry(0)])
        fleeting.put_many([_entry(1)])
        assert client.pttl(PREFIX + _entry(0).key) == -1
        assert 0 < client.pttl(PREFIX + _entry(1).key) <= 200
        assert len(fleeting.get_many([_entry(0).key, _entry(1).key])) == 2
        time.sleep(0.3)
        assert fleeting.get_many([_entry(0).key, _entry(1).key]) == {_entry(0).key: _expected(0)}


def test_prefixes_keep_caches_apart(redis_server: RedisServer) -> None:
    with _open(redis_server) as default, _open(redis_server, prefix="other:") as other:
        default.put_many([_entry(0)])
        assert other.get_many([_entry(0).key]) == {}


def test_unreadable_entries_are_misses_that_get_logged_and_repaired(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = redis_server.client()
    good = {"verdict": "specific", "decided_by": "lexical"}
    corrupt = {
        _entry(0).key: b"not json",
        _entry(1).key: json.dumps({**good, "verdict": "excellent"}),
        _entry(2).key: json.dumps([good]),
        _entry(3).key: json.dumps({**good, "decided_by": 7}),
        _entry(4).key: b"\xff\xfe",
    }
    for key, value in corrupt.items():
        client.set(PREFIX + key, value)
    client.set(PREFIX + _entry(5).key, json.dumps(good))
    with _open(redis_server) as cache, caplog.at_level(logging.WARNING):
        found = cache.get_many([*corrupt, _entry(5).key])
        assert found == {_entry(5).key: CachedVerdict(Verdict.SPECIFIC, "lexical")}
        assert "5 unreadable entries" in caplog.text
        # Gone, so the next verdict can be stored instead of being judged again forever.
        assert client.exists(*(PREFIX + key for key in corrupt)) == 0
        cache.put_many([_entry(i) for i in range(5)])
        assert cache.get_many(list(corrupt)) == {_entry(i).key: _expected(i) for i in range(5)}


# --- connection and configuration ---------------------------------------------------------------


def test_wrong_password_names_the_url_but_not_the_password(redis_server: RedisServer) -> None:
    secret = "hunter2-not-it"
    with pytest.raises(CacheUnavailableError) as raised:
        RedisVerdictCache(redis_server.url, password=secret)
    assert redis_server.url in str(raised.value)
    assert "password" in str(raised.value)

    in_url = f"redis://:{secret}@127.0.0.1:{redis_server.port}/0"
    with pytest.raises(CacheUnavailableError) as raised:
        RedisVerdictCache(in_url)
    message = "".join(traceback.format_exception(raised.value))
    assert f"redis://:***@127.0.0.1:{redis_server.port}/0" in message
    assert secret not in message


def test_missing_password_is_a_clear_error(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPECIARL_REDIS_PASSWORD", raising=False)
    monkeypatch.delenv("REDIS_PASSWORD", raising=False)
    with pytest.raises(CacheUnavailableError, match=redis_server.url):
        RedisVerdictCache(redis_server.url)


@pytest.mark.parametrize("variable", ["SPECIARL_REDIS_PASSWORD", "REDIS_PASSWORD"])
def test_password_comes_from_the_environment(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.delenv("SPECIARL_REDIS_PASSWORD", raising=False)
    monkeypatch.setenv(variable, redis_server.password)
    with RedisVerdictCache(redis_server.url) as cache:
        cache.put_many([_entry(0)])
        assert cache.get_many([_entry(0).key]) == {_entry(0).key: _expected(0)}


def test_unreachable_server_is_a_clear_error(redis_server: RedisServer) -> None:
    client = redis_server.client()
    client.shutdown(nosave=True)
    url = f"redis://:s3cret@127.0.0.1:{redis_server.port}/0"
    with pytest.raises(CacheUnavailableError) as raised:
        RedisVerdictCache(url, timeout_s=2)
    assert f"redis://:***@127.0.0.1:{redis_server.port}/0" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_a_closed_cache_refuses_work(redis_server: RedisServer) -> None:
    cache = _open(redis_server)
    cache.close()
    cache.close()
    with pytest.raises(CacheUnavailableError, match="closed"):
        cache.get_many([_entry(0).key])


def test_an_evicting_server_draws_a_warning(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING), _open(redis_server):
        assert caplog.text == ""
    redis_server.client().config_set("maxmemory-policy", "allkeys-lru")
    with caplog.at_level(logging.WARNING), _open(redis_server):
        assert "allkeys-lru" in caplog.text
        assert "noeviction" in caplog.text


def test_a_user_without_config_rights_is_only_logged_at_debug(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    redis_server.client().acl_setuser(
        "worker", enabled=True, passwords=["+w0rker"], commands=["+@all", "-config"], keys=["*"]
    )
    url = f"redis://worker:w0rker@127.0.0.1:{redis_server.port}/0"
    with caplog.at_level(logging.DEBUG, "speciarl.judges.redis_cache"), RedisVerdictCache(url) as c:
        assert c.url == f"redis://worker:***@127.0.0.1:{redis_server.port}/0"
        assert [record.levelname for record in caplog.records] == ["DEBUG"]
        assert "maxmemory-policy" in caplog.text


# --- claims -------------------------------------------------------------------------------------


def test_overlapping_claims_give_disjoint_ownership(redis_server: RedisServer) -> None:
    keys = [_entry(i).key for i in range(10)]
    with _open(redis_server) as one, _open(redis_server) as another:
        first = one.claim_many(keys[:6], ttl_s=10)
        second = another.claim_many(keys[3:], ttl_s=10)
        assert first == set(keys[:6])
        assert second == set(keys[6:])
        assert one.claim_many(keys, ttl_s=10) == set()


def test_only_the_owner_can_release_a_claim(redis_server: RedisServer) -> None:
    keys = [_entry(i).key for i in range(3)]
    with _open(redis_server) as owner, _open(redis_server) as other:
        owner.claim_many(keys, ttl_s=10)
        other.release_many(keys)
        assert other.claim_many(keys, ttl_s=10) == set()
        owner.release_many(keys[:2])
        assert other.claim_many(keys, ttl_s=10) == set(keys[:2])


def test_a_lapsed_claim_can_be_taken_and_not_released_by_its_old_owner(
    redis_server: RedisServer,
) -> None:
    keys = [_entry(i).key for i in range(3)]
    with _open(redis_server) as owner, _open(redis_server) as other, _open(redis_server) as third:
        assert owner.claim_many(keys, ttl_s=0.1) == set(keys)
        assert other.claim_many(keys, ttl_s=10) == set()
        time.sleep(0.2)
        assert other.claim_many(keys, ttl_s=10) == set(keys)
        owner.release_many(keys)
        assert third.claim_many(keys, ttl_s=10) == set()


# --- CachedJudge with coalescing ----------------------------------------------------------------


class CountingJudge:
    """Takes ``delay_s`` per call, like an LLM; tallies every pair it judges in Redis."""

    def __init__(self, server: RedisServer, delay_s: float = 0.0, *, decides: bool = True) -> None:
        self.name = "counting"
        self.identity = "counting:v1"
        self.counters: Counter[str] = Counter()
        self.calls = 0
        self._tally = server.client()
        self._delay_s = delay_s
        self._decides = decides

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        self.calls += 1
        for pair in pairs:
            self._tally.hincrby("judged", f"{pair.ground_truth}|{pair.prediction}", 1)
        time.sleep(self._delay_s)
        if not self._decides:
            return [UNDECIDED] * len(pairs)
        return [Judgement(_verdict_of(pair), "counting") for pair in pairs]


class FailingJudge(CountingJudge):
    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        raise ConnectionError("judge server went away")


def _verdict_of(pair: Pair) -> Verdict:
    return list(Verdict)[int(pair.prediction.split()[-1]) % len(Verdict)]


def _pairs(count: int) -> list[Pair]:
    return [Pair(f"Label {i % 5}", f"Answer {i}") for i in range(count)]


def _keys(pairs: Sequence[Pair]) -> list[str]:
    return [
        cache_key("counting:v1", normalize(p.ground_truth), normalize(p.prediction)) for p in pairs
    ]


def _tally(server: RedisServer) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in server.client().hgetall("judged").items()}


def _claims_left(server: RedisServer) -> list[bytes]:
    return server.client().keys(f"{PREFIX}claim:*")


def test_a_single_process_judges_once_and_leaves_no_claims(redis_server: RedisServer) -> None:
    pairs = _pairs(6)
    with _open(redis_server) as cache:
        inner = CountingJudge(redis_server)
        judge = CachedJudge(inner, cache)
        first = judge.judge(pairs)
        second = judge.judge(pairs)
    assert [j.verdict for j in first] == [_verdict_of(pair) for pair in pairs]
    assert all(j.cached for j in second) and not any(j.cached for j in first)
    assert inner.calls == 1
    assert judge.counters["coalesced"] == judge.counters["coalesce_timeouts"] == 0
    assert _claims_left(redis_server) == []


def test_a_failing_judge_releases_its_claims(redis_server: RedisServer) -> None:
    pairs = _pairs(3)
    with _open(redis_server) as cache, _open(redis_server) as other:
        with pytest.raises(ConnectionError):
            CachedJudge(FailingJudge(redis_server), cache).judge(pairs)
        assert other.claim_many(_keys(pairs), ttl_s=10) == set(_keys(pairs))


def test_a_waiter_takes_the_verdicts_its_owner_stores(redis_server: RedisServer) -> None:
    pairs = _pairs(4)
    keys = _keys(pairs)
    entries = [
        CacheEntry(key, "counting:v1", "", "", _verdict_of(pair), "owner")
        for key, pair in zip(keys, pairs, strict=True)
    ]
    with _open(redis_server) as owner, _open(redis_server) as cache:
        owner.claim_many(keys, ttl_s=10)

        def finish() -> None:
            owner.put_many(entries)
            owner.release_many(keys)

        threading.Timer(0.2, finish).start()
        inner = CountingJudge(redis_server)
        judge = CachedJudge(inner, cache, poll_s=0.01)
        judgements = judge.judge(pairs)
    assert judgements == [Judgement(_verdict_of(pair), "owner", cached=True) for pair in pairs]
    assert inner.calls == 0
    assert judge.counters["coalesced"] == 4
    assert judge.counters["cache_misses"] == 4


def test_a_waiter_judges_itself_when_its_owner_dies(redis_server: RedisServer) -> None:
    pairs = _pairs(3)
    with _open(redis_server) as owner, _open(redis_server) as cache:
        owner.claim_many(_keys(pairs), ttl_s=30)  # then never stores nor releases: it died
        inner = CountingJudge(redis_server)
        judge = CachedJudge(inner, cache, wait_s=0.4, poll_s=0.02)
        started = time.monotonic()
        judgements = judge.judge(pairs)
        elapsed = time.monotonic() - started
        assert cache.get_many(_keys(pairs)).keys() == set(_keys(pairs))
    assert 0.4 <= elapsed < 2
    assert [j.verdict for j in judgements] == [_verdict_of(pair) for pair in pairs]
    assert inner.calls == 1
    assert judge.counters["coalesce_timeouts"] == 3


def test_a_waiter_takes_over_a_lapsed_claim_before_its_wait_ends(
    redis_server: RedisServer,
) -> None:
    pairs = _pairs(3)
    with _open(redis_server) as owner, _open(redis_server) as cache:
        owner.claim_many(_keys(pairs), ttl_s=0.2)
        judge = CachedJudge(CountingJudge(redis_server), cache, wait_s=10, poll_s=0.02)
        started = time.monotonic()
        judge.judge(pairs)
    assert time.monotonic() - started < 1
    assert judge.counters["coalesce_timeouts"] == 0
    assert sorted(_tally(redis_server).values()) == [1, 1, 1]


def test_a_pair_left_undecided_by_its_owner_is_judged_by_a_waiter(
    redis_server: RedisServer,
) -> None:
    pairs = _pairs(2)
    with _open(redis_server) as owner, _open(redis_server) as cache:
        owner.claim_many(_keys(pairs), ttl_s=10)
        threading.Timer(0.2, owner.release_many, [_keys(pairs)]).start()
        judge = CachedJudge(CountingJudge(redis_server), cache, wait_s=10, poll_s=0.02)
        started = time.monotonic()
        judgements = judge.judge(pairs)
    assert time.monotonic() - started < 1
    assert [j.verdict for j in judgements] == [_verdict_of(pair) for pair in pairs]
    assert judge.counters["coalesce_timeouts"] == 0


def _judge_in_another_process(
    server: RedisServer,
    index: int,
    pairs: list[Pair],
    start: multiprocessing.synchronize.Barrier,
    report: multiprocessing.queues.Queue[object],
) -> None:
    """Judge ``pairs`` with a fresh cache and a slow judge, as training process ``index`` would."""
    try:
        with _open(server) as cache:
            judge = CachedJudge(CountingJudge(server, delay_s=0.3), cache, wait_s=5, poll_s=0.02)
            start.wait()
            judgements = judge.judge(pairs)
        report.put((index, [(j.verdict, j.judge) for j in judgements], dict(judge.counters)))
    except BaseException:
        report.put(traceback.format_exc())
        raise


def test_processes_missing_the_same_pairs_at_once_judge_each_only_once(
    redis_server: RedisServer,
) -> None:
    processes, pairs = 4, _pairs(24)
    # Overlapping windows: each pair is in two batches, no batch holds them all, so the pairs
    # are judged by at least two processes, each waiting for pairs that another one claimed.
    batches = [(pairs * 2)[6 * i : 6 * i + 12] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    start, report = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(
            target=_judge_in_another_process, args=(redis_server, index, batch, start, report)
        )
        for index, batch in enumerate(batches)
    ]
    for worker in workers:
        worker.start()
    outcomes = [report.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
    failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert not failures, "\n".join(failures)
    outcomes.sort()

    tally = _tally(redis_server)
    assert len(tally) == len(pairs)
    assert set(tally.values()) == {1}, tally
    answers: dict[Pair, set[tuple[Verdict, str]]] = {}
    for batch, (_, verdicts, _) in zip(batches, outcomes, strict=True):
        for pair, verdict in zip(batch, verdicts, strict=True):
            answers.setdefault(pair, set()).add(verdict)
    assert answers == {pair: {(_verdict_of(pair), "counting")} for pair in pairs}
    counters = [counts for _, _, counts in outcomes]
    assert sum(c.get("coalesce_timeouts", 0) for c in counters) == 0
    # The process that did not judge a pair got it from the other one, or from the cache.
    shared = sum(c.get("coalesced", 0) + c.get("cache_hits", 0) for c in counters)
    assert shared == sum(map(len, batches)) - len(pairs)
    assert _claims_left(redis_server) == []


class _SlowCountingJudge:
    """Takes ``seconds`` per batch and counts the pairs it judges, across threads."""

    name = "slow"
    identity = "slow:v1"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.counters: Counter[str] = Counter()
        self.judged: list[Pair] = []
        self._lock = threading.Lock()

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        time.sleep(self.seconds)
        with self._lock:
            self.judged.extend(pairs)
        return [Judgement(Verdict.SPECIFIC, self.name) for _ in pairs]


def test_claims_are_renewed_while_a_long_judge_call_runs(redis_server: RedisServer) -> None:
    """The owner's claim (0.3 s) outlives its 1.2 s judge call, so the waiter never judges."""
    judge = _SlowCountingJudge(1.2)
    pairs = [Pair("samoyed", "samoyed"), Pair("dog", "samoyed")]
    owner = CachedJudge(judge, _open(redis_server), claim_ttl_s=0.3, wait_s=5.0, poll_s=0.05)
    waiter = CachedJudge(judge, _open(redis_server), claim_ttl_s=0.3, wait_s=5.0, poll_s=0.05)
    results: dict[str, list[Judgement]] = {}
    first = threading.Thread(target=lambda: results.setdefault("owner", owner.judge(pairs)))
    first.start()
    time.sleep(0.6)  # past the claim's first lifetime: only renewal keeps it
    results["waiter"] = waiter.judge(pairs)
    first.join()
    assert len(judge.judged) == 2  # each pair judged once, by the owner
    assert waiter.counters["coalesced"] == 2
    assert [j.verdict for j in results["waiter"]] == [Verdict.SPECIFIC, Verdict.SPECIFIC]


def test_renewal_extends_only_claims_still_owned(redis_server: RedisServer) -> None:
    first, second = _open(redis_server), _open(redis_server)
    assert first.claim_many(["k"], 0.2) == {"k"}
    second.renew_many(["k"], 60.0)  # not the owner: nothing changes
    time.sleep(0.3)
    assert second.claim_many(["k"], 0.2) == {"k"}
    first.renew_many(["k"], 60.0)  # no longer the owner
    time.sleep(0.3)
    assert first.claim_many(["k"], 1.0) == {"k"}
