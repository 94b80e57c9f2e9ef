"""Building a judge by name, as the command line and recipes ask for one."""

from __future__ import annotations

from pathlib import Path

from speciarl.judges.base import Judge
from speciarl.judges.cache import SqliteVerdictCache, VerdictCache
from speciarl.judges.cached import CachedJudge
from speciarl.judges.cascade import Cascade
from speciarl.judges.hierarchy import Hierarchy
from speciarl.judges.lexical import LexicalJudge
from speciarl.judges.llm import LLMJudge, LLMJudgeSettings
from speciarl.judges.taxonomy import TaxonomyJudge

JUDGE_KINDS = ("lexical", "taxonomy", "llm", "cascade")


def open_cache(path: str | Path | None = None, redis_url: str | None = None) -> VerdictCache | None:
    """The verdict cache asked for: a SQLite file, a Redis server, or none."""
    if path is not None and redis_url is not None:
        raise ValueError("give a SQLite cache file or a Redis URL, not both")
    if redis_url is not None:
        from speciarl.judges.redis_cache import RedisVerdictCache

        return RedisVerdictCache(redis_url)
    return SqliteVerdictCache(path) if path is not None else None


def build_judge(
    kind: str,
    *,
    hierarchy: Hierarchy | None = None,
    llm: LLMJudgeSettings | None = None,
    cache: VerdictCache | None = None,
) -> Judge:
    """A judge of the given kind.

    ``cascade`` runs lexical, then taxonomy (when a hierarchy is given), then the LLM (when its
    settings are given); the lexical judge also learns the hierarchy's synonyms. With a cache,
    the judges after the lexical one sit behind it. The lexical judge stays in front, uncached:
    it costs microseconds, and it must see the raw text, since punctuation such as
    ``robin/cardinal`` is what marks several options and the cache's keys are normalised text.
    """
    if kind not in JUDGE_KINDS:
        raise ValueError(f"unknown judge {kind!r}; choose one of {', '.join(JUDGE_KINDS)}")
    if kind == "taxonomy" and hierarchy is None:
        raise ValueError("the taxonomy judge needs a label hierarchy (--hierarchy or --dataset)")
    if kind == "llm" and llm is None:
        raise ValueError("the LLM judge needs an endpoint and a model (--endpoint, --model)")
    synonyms = hierarchy.synonym_groups() if hierarchy is not None else ()
    front: list[Judge] = [LexicalJudge(synonyms=synonyms)] if kind in ("lexical", "cascade") else []
    behind: list[Judge] = []
    if hierarchy is not None and kind in ("taxonomy", "cascade"):
        behind.append(TaxonomyJudge(hierarchy))
    if llm is not None and kind in ("llm", "cascade"):
        behind.append(LLMJudge(llm))
    if cache is not None:
        if not behind:
            raise ValueError(
                "a verdict cache needs a judge to put behind it; the lexical judge alone is "
                "never cached (give a hierarchy or an LLM, or drop the cache)"
            )
        cached = behind[0] if len(behind) == 1 else Cascade(behind)
        behind = [CachedJudge(cached, cache)]
    members = front + behind
    return members[0] if len(members) == 1 else Cascade(members)


def judges_in(judge: Judge) -> list[Judge]:
    """``judge`` and every judge inside it (cascade members, the judge behind a cache)."""
    found = [judge]
    for inner in getattr(judge, "judges", ()):
        found.extend(judges_in(inner))
    inner = getattr(judge, "inner", None)
    if inner is not None:
        found.extend(judges_in(inner))
    return found
