"""CachedJudge: each distinct normalised pair is judged at most once, and only decisions persist."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from speciarl.judges import UNDECIDED, CachedJudge, Judge, Judgement, Pair, SqliteVerdictCache
from speciarl.verdict import Verdict


class ScriptedJudge:
    """Answers from a table keyed by the exact pair it receives; undecided otherwise."""

    def __init__(
        self,
        verdicts: dict[tuple[str, str], Verdict],
        *,
        identity: str = "scripted:v1",
        decided_by: str | None = "scripted",
    ) -> None:
        self.name = "scripted"
        self.identity = identity
        self.counters: Counter[str] = Counter()
        self.verdicts = verdicts
        self.decided_by = decided_by
        self.calls = 0
        self.seen: list[Pair] = []

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        self.calls += 1
        self.seen.extend(pairs)
        judgements = []
        for pair in pairs:
            verdict = self.verdicts.get((pair.ground_truth, pair.prediction))
            judgements.append(UNDECIDED if verdict is None else Judgement(verdict, self.decided_by))
        return judgements


class FailingJudge(ScriptedJudge):
    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        super().judge(pairs)
        raise ConnectionError("judge server went away")


class ShortJudge(ScriptedJudge):
    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        return super().judge(pairs)[:-1]


VERDICTS = {
    ("samoyed", "samoyed"): Verdict.SPECIFIC,
    ("samoyed", "dog"): Verdict.GENERIC,
    ("dog", "samoyed"): Verdict.MORE_SPECIFIC,
}


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[SqliteVerdictCache]:
    with SqliteVerdictCache(tmp_path / "verdicts.sqlite") as opened:
        yield opened


def test_is_a_judge_named_after_its_inner_judge(cache: SqliteVerdictCache) -> None:
    judge = CachedJudge(ScriptedJudge(VERDICTS, identity="scripted:abc"), cache)
    assert isinstance(judge, Judge)
    assert (judge.name, judge.identity) == ("scripted", "scripted:abc")


def test_second_batch_is_served_from_the_cache(cache: SqliteVerdictCache) -> None:
    inner = ScriptedJudge(VERDICTS)
    judge = CachedJudge(inner, cache)
    pairs = [Pair("samoyed", "dog"), Pair("dog", "samoyed")]

    first = judge.judge(pairs)
    second = judge.judge(list(reversed(pairs)))

    assert first == [
        Judgement(Verdict.GENERIC, "scripted"),
        Judgement(Verdict.MORE_SPECIFIC, "scripted"),
    ]
    assert second == [
        Judgement(Verdict.MORE_SPECIFIC, "scripted", cached=True),
        Judgement(Verdict.GENERIC, "scripted", cached=True),
    ]
    assert inner.calls == 1
    assert judge.counters["cache_misses"] == 2
    assert judge.counters["cache_hits"] == 2


def test_hits_name_the_judge_that_decided(cache: SqliteVerdictCache) -> None:
    CachedJudge(ScriptedJudge(VERDICTS, decided_by="lexical"), cache).judge(
        [Pair("dog", "samoyed")]
    )
    later = CachedJudge(ScriptedJudge({}), cache)
    assert later.judge([Pair("dog", "samoyed")]) == [
        Judgement(Verdict.MORE_SPECIFIC, "lexical", cached=True)
    ]
    assert later.counters["decided_by:lexical"] == 1


def test_nameless_decisions_are_credited_to_the_inner_judge(cache: SqliteVerdictCache) -> None:
    judge = CachedJudge(ScriptedJudge(VERDICTS, decided_by=None), cache)
    assert judge.judge([Pair("samoyed", "dog")]) == [Judgement(Verdict.GENERIC, "scripted")]
    assert judge.judge([Pair("samoyed", "dog")])[0].judge == "scripted"
    assert judge.counters["decided_by:scripted"] == 2


def test_inner_judge_sees_normalised_text(cache: SqliteVerdictCache) -> None:
    inner = ScriptedJudge(VERDICTS)
    judgements = CachedJudge(inner, cache).judge([Pair("  SAMOYED ", "Dog!")])
    assert inner.seen == [Pair("samoyed", "dog")]
    assert judgements == [Judgement(Verdict.GENERIC, "scripted")]


def test_texts_with_one_normalisation_share_one_entry(cache: SqliteVerdictCache) -> None:
    inner = ScriptedJudge(VERDICTS)
    judge = CachedJudge(inner, cache)

    together = judge.judge([Pair("Samoyed", "Samoyed!"), Pair("samoyed", "samoyed")])
    assert inner.seen == [Pair("samoyed", "samoyed")]
    assert [j.verdict for j in together] == [Verdict.SPECIFIC, Verdict.SPECIFIC]
    assert len(cache) == 1

    later = judge.judge([Pair("SAMOYED.", "samoyed")])
    assert later == [Judgement(Verdict.SPECIFIC, "scripted", cached=True)]
    assert inner.calls == 1


def test_identical_pairs_in_a_batch_are_judged_once(cache: SqliteVerdictCache) -> None:
    inner = ScriptedJudge(VERDICTS)
    judge = CachedJudge(inner, cache)
    judgements = judge.judge([Pair("samoyed", "dog")] * 5 + [Pair("dog", "samoyed")])
    assert inner.seen == [Pair("samoyed", "dog"), Pair("dog", "samoyed")]
    assert [j.verdict for j in judgements] == [Verdict.GENERIC] * 5 + [Verdict.MORE_SPECIFIC]
    assert judge.counters["batch_duplicates"] == 4
    assert judge.counters["cache_misses"] == 6
    assert judge.counters["pairs"] == 6


def test_undecided_pairs_are_never_cached(cache: SqliteVerdictCache) -> None:
    inner = ScriptedJudge(VERDICTS)
    judge = CachedJudge(inner, cache)
    pairs = [Pair("samoyed", "wolf"), Pair("samoyed", "dog")]

    assert judge.judge(pairs) == [UNDECIDED, Judgement(Verdict.GENERIC, "scripted")]
    assert len(cache) == 1
    assert judge.judge(pairs)[0] == UNDECIDED
    assert inner.seen == [Pair("samoyed", "wolf"), Pair("samoyed", "dog"), Pair("samoyed", "wolf")]
    assert judge.counters["undecided"] == 2
    assert judge.counters["cache_hits"] == 1


def test_a_failing_judge_caches_nothing(cache: SqliteVerdictCache) -> None:
    with pytest.raises(ConnectionError):
        CachedJudge(FailingJudge(VERDICTS), cache).judge([Pair("samoyed", "dog")])
    assert len(cache) == 0

    inner = ScriptedJudge(VERDICTS)
    CachedJudge(inner, cache).judge([Pair("samoyed", "dog")])
    assert inner.calls == 1


def test_a_new_judge_identity_misses_the_old_entries(cache: SqliteVerdictCache) -> None:
    CachedJudge(ScriptedJudge(VERDICTS, identity="prompt-a"), cache).judge([Pair("samoyed", "dog")])
    inner = ScriptedJudge({("samoyed", "dog"): Verdict.WRONG}, identity="prompt-b")
    judge = CachedJudge(inner, cache)
    assert judge.judge([Pair("samoyed", "dog")]) == [Judgement(Verdict.WRONG, "scripted")]
    assert judge.counters["cache_misses"] == 1
    assert len(cache) == 2


def test_a_judge_returning_the_wrong_number_of_judgements_is_an_error(
    cache: SqliteVerdictCache,
) -> None:
    judge = CachedJudge(ShortJudge(VERDICTS), cache)
    with pytest.raises(RuntimeError, match="returned 1 judgements for 2 pairs"):
        judge.judge([Pair("samoyed", "dog"), Pair("dog", "samoyed")])
    assert len(cache) == 0


def test_order_is_kept_across_hits_and_misses(cache: SqliteVerdictCache) -> None:
    judge = CachedJudge(ScriptedJudge(VERDICTS), cache)
    judge.judge([Pair("dog", "samoyed")])
    judgements = judge.judge(
        [Pair("samoyed", "dog"), Pair("dog", "samoyed"), Pair("x", "y"), Pair("samoyed", "samoyed")]
    )
    assert [(j.verdict, j.cached) for j in judgements] == [
        (Verdict.GENERIC, False),
        (Verdict.MORE_SPECIFIC, True),
        (None, False),
        (Verdict.SPECIFIC, False),
    ]


def test_an_empty_batch_asks_nobody(cache: SqliteVerdictCache) -> None:
    inner = ScriptedJudge(VERDICTS)
    assert CachedJudge(inner, cache).judge([]) == []
    assert inner.calls == 0
