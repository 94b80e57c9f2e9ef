"""A plain-text table of what a judging run decided, for people reading a terminal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from speciarl.judges.base import Judgement
from speciarl.verdict import VERDICTS


def judging_summary(judgements: Sequence[Judgement], counters: Counter[str]) -> str:
    """Verdict counts and shares, undecided pairs, who decided, and the judge's counters."""
    total = len(judgements)
    verdicts = Counter(j.verdict for j in judgements)
    rows: list[tuple[str, str]] = [("pairs", str(total))]
    for verdict in VERDICTS:
        rows.append((verdict.value, _count_and_share(verdicts[verdict], total)))
    rows.append(("undecided", _count_and_share(verdicts[None], total)))
    deciders = Counter(j.judge for j in judgements if j.verdict is not None)
    for name, count in sorted(deciders.items()):
        rows.append((f"decided by {name}", _count_and_share(count, total)))
    cached = sum(j.cached for j in judgements)
    if cached or counters.get("cache_misses"):
        rows.append(("cache hits", _count_and_share(cached, total)))
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)


def _count_and_share(count: int, total: int) -> str:
    share = count / total if total else 0.0
    return f"{count:>8}  {share:6.1%}"
