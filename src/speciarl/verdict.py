"""The six verdicts a judge can give, defined once for the whole project.

Order matters: rewards and metrics compare verdicts, so the enum is ordered from worst to best.
"""

from __future__ import annotations

import enum
import re


class VerdictParseError(ValueError):
    """Raised when judge text is not one of the six verdicts."""


class Verdict(enum.Enum):
    """A judge's grade of one prediction against its ground truth, ordered worst to best."""

    WRONG = "wrong"
    ABSTAIN = "abstain"
    GENERIC = "generic"
    LESS_SPECIFIC = "less specific"
    SPECIFIC = "specific"
    MORE_SPECIFIC = "more specific"

    @property
    def rank(self) -> int:
        """Position on the ladder: 0 for wrong up to 5 for more specific."""
        return _RANK[self]

    @property
    def is_correct(self) -> bool:
        """Whether the prediction names the object correctly, at any level of detail."""
        return self.rank >= _RANK[Verdict.GENERIC]

    # Comparisons and hashing sit in every reward step's inner loops, so they are spelt out
    # rather than derived (functools.total_ordering and Enum.__hash__ are several times slower).
    # Members are singletons compared by identity, so the identity hash is consistent.
    __hash__ = object.__hash__

    def __lt__(self, other: object) -> bool:
        if other.__class__ is not Verdict:
            return NotImplemented
        return _RANK[self] < _RANK[other]  # type: ignore[index]

    def __le__(self, other: object) -> bool:
        if other.__class__ is not Verdict:
            return NotImplemented
        return _RANK[self] <= _RANK[other]  # type: ignore[index]

    def __gt__(self, other: object) -> bool:
        if other.__class__ is not Verdict:
            return NotImplemented
        return _RANK[self] > _RANK[other]  # type: ignore[index]

    def __ge__(self, other: object) -> bool:
        if other.__class__ is not Verdict:
            return NotImplemented
        return _RANK[self] >= _RANK[other]  # type: ignore[index]

    @classmethod
    def parse(cls, text: str) -> Verdict:
        """Read a verdict from judge output such as ``" Less_Specific."``.

        Tolerates case, surrounding whitespace and punctuation, and ``_`` or ``-`` in place of
        the space; anything else raises :class:`VerdictParseError`.
        """
        if not isinstance(text, str):
            raise VerdictParseError(f"verdict must be a string, got {type(text).__name__}")
        key = _SEPARATORS.sub(" ", text.strip().strip(_EDGE_PUNCTUATION).strip()).casefold()
        try:
            return _BY_KEY[key]
        except KeyError:
            allowed = ", ".join(repr(v.value) for v in cls)
            shown = text if len(text) <= 80 else text[:77] + "..."
            raise VerdictParseError(
                f"not a verdict: {shown!r}; expected one of {allowed}"
            ) from None


VERDICTS: tuple[Verdict, ...] = tuple(Verdict)
"""All verdicts, worst first."""

_RANK = {verdict: rank for rank, verdict in enumerate(Verdict)}
_BY_KEY = {verdict.value: verdict for verdict in Verdict}
_SEPARATORS = re.compile(r"[\s_-]+")
_EDGE_PUNCTUATION = " \t\r\n.,;:!?\"'`*()[]{}<>"
