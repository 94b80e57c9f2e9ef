"""Judges that grade predictions against ground truth with one of the six verdicts."""

from speciarl.judges.base import UNDECIDED, Judge, Judgement, Pair
from speciarl.judges.cache import SqliteVerdictCache, cache_key
from speciarl.judges.cached import CachedJudge
from speciarl.judges.cascade import Cascade
from speciarl.judges.hierarchy import Hierarchy
from speciarl.judges.lexical import LexicalJudge
from speciarl.judges.taxonomy import TaxonomyJudge

__all__ = [
    "UNDECIDED",
    "CachedJudge",
    "Cascade",
    "Hierarchy",
    "Judge",
    "Judgement",
    "LexicalJudge",
    "Pair",
    "SqliteVerdictCache",
    "TaxonomyJudge",
    "cache_key",
]
