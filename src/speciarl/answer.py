"""Reading the final answer out of policy output, and the one text normalisation of the project.

Policy output is untrusted text from a model optimised to earn reward, so every outcome of
parsing is explicit and an over-long answer never reaches a judge.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

NORMALIZATION_VERSION = 1
"""Bump whenever :func:`normalize` changes: it is part of every cache key."""

DEFAULT_MAX_WORDS = 20
DEFAULT_MAX_CHARS = 200


class AnswerStatus(enum.Enum):
    """Outcome of extracting the answer; only ``OK`` counts as well formatted."""

    OK = "ok"
    MISSING = "missing"
    EMPTY = "empty"
    UNCLOSED = "unclosed"
    REPEATED = "repeated"
    TOO_LONG = "too long"


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    """The answer found in one completion.

    ``text`` is the stripped content of the answer tag, ``None`` unless status is ``OK``.
    """

    status: AnswerStatus
    text: str | None = None

    @property
    def formatted(self) -> bool:
        """Whether the completion followed the answer format and may be judged."""
        return self.status is AnswerStatus.OK

    @property
    def normalized(self) -> str | None:
        """:func:`normalize` of the answer text, as judges and cache keys see it."""
        return None if self.text is None else normalize(self.text)


_TAG = re.compile(r"</?(?:think|answer)>", re.IGNORECASE)


def extract_answer(
    completion: str,
    *,
    max_words: int = DEFAULT_MAX_WORDS,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> ParsedAnswer:
    """Find the single ``<answer>…</answer>`` outside the reasoning of ``completion``.

    Reasoning is everything inside ``<think>…</think>``, everything after an unclosed
    ``<think>``, and everything before a stray ``</think>`` (models often omit the opening tag);
    answer tags there do not count. An answer must be closed before any other tag. Tags are
    matched case-insensitively. One pass over the tags, so long reasoning costs little.
    """
    visible: list[tuple[str, re.Match[str]]] = []  # tags outside reasoning, and think openings
    in_think = False
    for tag in _TAG.finditer(completion):
        name = tag.group().lower()
        if name == "<think>":
            if not in_think:
                visible.append((name, tag))
            in_think = True
        elif name == "</think>":
            if not in_think:  # a stray close: everything before it was reasoning
                visible.clear()
            in_think = False
        elif not in_think:
            visible.append((name, tag))

    names = [name for name, _ in visible]
    openings = names.count("<answer>")
    if not openings:
        return ParsedAnswer(AnswerStatus.MISSING)
    if openings > 1 or names.count("</answer>") > 1:
        return ParsedAnswer(AnswerStatus.REPEATED)
    position = names.index("<answer>")
    if names[position + 1 : position + 2] != ["</answer>"]:
        return ParsedAnswer(AnswerStatus.UNCLOSED)
    opening, closing = visible[position][1], visible[position + 1][1]
    text = completion[opening.end() : closing.start()].strip()
    if not text:
        return ParsedAnswer(AnswerStatus.EMPTY)
    if exceeds_length_cap(text, max_words=max_words, max_chars=max_chars):
        return ParsedAnswer(AnswerStatus.TOO_LONG)
    return ParsedAnswer(AnswerStatus.OK, text)


def has_answer_tags(text: str) -> bool:
    """Whether ``text`` holds ``<think>``/``<answer>`` tags: a raw completion, not an answer."""
    return _TAG.search(text) is not None


def exceeds_length_cap(
    text: str, *, max_words: int = DEFAULT_MAX_WORDS, max_chars: int = DEFAULT_MAX_CHARS
) -> bool:
    """Whether ``text`` is longer than a label can reasonably be."""
    if max_words < 1 or max_chars < 1:
        raise ValueError(f"length caps must be positive, got {max_words=} and {max_chars=}")
    return len(text) > max_chars or len(text.split()) > max_words


_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"), "-")
_APOSTROPHES = dict.fromkeys(map(ord, "'\u2018\u2019\u02bc`"), None)
# In Python, \w is exactly str.isalnum() plus "_"; "_" is not kept.
_NOT_LETTER_DIGIT_DASH = re.compile(r"[^\w\s-]|_")


def normalize(text: str) -> str:
    """The one normalisation used by every judge and cache key (version 1).

    Unicode NFKC, casefold, Unicode dashes to ``-``, apostrophes dropped (``Anna's`` ->
    ``annas``), every other character that is not a letter, digit, dash or whitespace turned
    into a space (so ``robin/cardinal`` keeps two words), whitespace collapsed.
    """
    if len(text) <= _MEMO_MAX_CHARS:
        return _normalize_memo(text)
    return _normalize(text)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.translate(_DASHES).translate(_APOSTROPHES)
    return " ".join(_NOT_LETTER_DIGIT_DASH.sub(" ", text).split())


# Labels and popular answers recur at every training step; remembering short texts saves most of
# the normalisation cost while bounding the memory an adversarial stream of long texts can take.
_MEMO_MAX_CHARS = 256
_normalize_memo = lru_cache(maxsize=1 << 16)(_normalize)


_LEADING_ARTICLE = re.compile(r"^(?:a|an|the) (?=\S)")


def name_key(text: str) -> str:
    """Key under which two names count as the same name when judges compare them.

    Built on :func:`normalize`; a dash counts as a space (``black-footed`` = ``black footed``)
    and a leading article is ignored (``a samoyed`` = ``samoyed``).
    """
    if len(text) <= _MEMO_MAX_CHARS:
        return _name_key_memo(text)
    return _name_key(text)


def _name_key(text: str) -> str:
    key = " ".join(normalize(text).replace("-", " ").split())
    return _LEADING_ARTICLE.sub("", key)


_name_key_memo = lru_cache(maxsize=1 << 16)(_name_key)
