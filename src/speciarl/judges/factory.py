"""Building a judge by name, as the command line and recipes ask for one."""

from __future__ import annotations

from pathlib import Path

from speciarl.judges.base import Judge
from speciarl.judges.cache import SqliteVerdictCache
from speciarl.judges.cached import CachedJudge
from speciarl.judges.cascade import Cascade
from speciarl.judges.hierarchy import Hierarchy
from speciarl.judges.lexical import LexicalJudge
from speciarl.judges.taxonomy import TaxonomyJudge

JUDGE_KINDS = ("lexical", "taxonomy", "cascade")


def build_judge(
    kind: str,
    *,
    hierarchy: Hierarchy | None = None,
    cache_path: str | Path | None = None,
) -> Judge:
    """A judge of the given kind.

    ``cascade`` is lexical, then taxonomy when a hierarchy is given; the lexical judge also learns
    the hierarchy's synonyms. With ``cache_path``, the judges after the lexical one sit behind a
    SQLite verdict cache. The lexical judge stays in front of it, uncached: it costs microseconds,
    and it must see the raw text, since punctuation such as ``robin/cardinal`` is what marks
    several options and the cache's keys are normalised text.
    """
    if kind not in JUDGE_KINDS:
        raise ValueError(f"unknown judge {kind!r}; choose one of {', '.join(JUDGE_KINDS)}")
    if kind == "taxonomy" and hierarchy is None:
        raise ValueError("the taxonomy judge needs a label hierarchy (--hierarchy FILE)")
    synonyms = hierarchy.synonym_groups() if hierarchy is not None else ()
    front: list[Judge] = [LexicalJudge(synonyms=synonyms)] if kind != "taxonomy" else []
    behind: list[Judge] = [TaxonomyJudge(hierarchy)] if kind != "lexical" and hierarchy else []
    if cache_path is not None:
        if not behind:
            raise ValueError(
                "a verdict cache needs a judge to put behind it; the lexical judge alone is "
                "never cached (give --hierarchy, or drop --cache)"
            )
        cached = behind[0] if len(behind) == 1 else Cascade(behind)
        behind = [CachedJudge(cached, SqliteVerdictCache(cache_path))]
    members = front + behind
    return members[0] if len(members) == 1 else Cascade(members)
