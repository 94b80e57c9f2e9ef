"""A plain-text table of what a judging run decided, for people reading a terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from speciarl.answer import ParsedAnswer
from speciarl.judges.base import Judge, Judgement
from speciarl.judges.factory import judges_in
from speciarl.verdict import VERDICTS

# Counters worth a row, from whichever judge of the tree keeps them.
_COUNTER_ROWS = (
    ("cache_hits", "cache hits"),
    ("cache_misses", "cache misses"),
    ("batch_duplicates", "duplicates in the batch (judged once)"),
    ("coalesced", "answered by another process"),
    ("cache_errors", "cache errors (judged on without it)"),
    ("cache_outages", "cache outages"),
    ("cache_reconnects", "cache reconnections"),
    ("cache_lookups_skipped", "lookups skipped (cache down)"),
    ("cache_written_back", "verdicts written back after an outage"),
    ("cache_write_back_dropped", "verdicts dropped from write-back"),
    ("cache_write_back_lost", "verdicts never written back"),
    ("llm_calls", "LLM calls"),
    ("llm_duplicates", "pairs sharing another's LLM request"),
    ("llm_retries", "LLM retries"),
    ("llm_malformed", "LLM malformed answers"),
    ("llm_failed", "LLM failures (left undecided)"),
    ("llm_refused_malformed", "refused before the LLM (empty/too long)"),
)


def judging_summary(
    judgements: Sequence[Judgement],
    judge: Judge,
    answers: Sequence[ParsedAnswer] | None = None,
) -> str:
    """Verdict counts and shares, undecided pairs, who decided, cache and LLM counters; with
    ``answers`` (extracted from raw completions) also the format failures, by kind, which were
    never judged and so are not counted as undecided."""
    total = len(judgements)
    failures = Counter(a.status.value for a in answers or () if not a.formatted)
    verdicts = Counter(j.verdict for j in judgements)
    rows: list[tuple[str, str]] = [("pairs", str(total))]
    for verdict in VERDICTS:
        rows.append((verdict.value, _count_and_share(verdicts[verdict], total)))
    rows.append(("undecided", _count_and_share(verdicts[None] - failures.total(), total)))
    if answers is not None:
        rows.append(("format failures", _count_and_share(failures.total(), total)))
        rows.extend(
            (f"  answer {status}", _count_and_share(count, total))
            for status, count in sorted(failures.items())
        )
    deciders = Counter(j.judge for j in judgements if j.verdict is not None)
    for name, count in sorted(deciders.items()):
        rows.append((f"decided by {name}", _count_and_share(count, total)))
    counters: Counter[str] = Counter()
    for member in judges_in(judge):
        for key, _ in _COUNTER_ROWS:
            counters[key] += member.counters.get(key, 0)
    rows.extend((label, f"{counters[key]:>8}") for key, label in _COUNTER_ROWS if counters[key])
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _count_and_share(count: int, total: int) -> str:
    share = count / total if total else 0.0
    return f"{count:>8}  {share:6.1%}"
