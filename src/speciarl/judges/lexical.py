"""A judge that settles what plain text alone can settle, before any costlier judge runs.

It recognises exact names and declared synonyms, refusals, answers that hedge between several
options, and answers with nothing in them. Anything else it leaves undecided. Predictions come from
a policy optimised to earn reward, so every rule only ever moves a prediction down to ``wrong`` or
``abstain``, or up to ``specific`` on an exact name match, never on anything the text claims.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from speciarl.answer import name_key
from speciarl.judges.base import UNDECIDED, Judgement, Pair, count_judgements
from speciarl.verdict import Verdict

RULES_VERSION = 2
"""Bump whenever a rule below changes how a pair is judged: it is part of the judge's identity."""

DEFAULT_ABSTAIN_PHRASES: tuple[str, ...] = (
    "none",
    "nothing",
    "unknown",
    "unsure",
    "not sure",
    "i dont know",
    "i do not know",
    "dont know",
    "do not know",
    "cannot tell",
    "can not tell",
    "cant tell",
    "cannot determine",
    "can not determine",
    "cant determine",
    "unable to determine",
    "unable to identify",
    "unable to tell",
    "no idea",
    "na",
    "n a",
    "not applicable",
    "unidentifiable",
    "unclear",
    "uncertain",
    "no answer",
    "impossible to tell",
    "impossible to say",
)
"""Whole answers that refuse to name anything, compared by :func:`~speciarl.answer.name_key`."""

# Refusals written as a sentence ("Sorry, I can't tell which flower this is", "I'm not sure"):
# optional filler words, then a refusal, then only words that name no candidate. A word outside
# these lists ("I can't tell, maybe a robin") leaves the answer to the other rules and judges.
# "Unknown bird" and "none of these" are not refusal sentences: the first names a class, the
# second may be a reply to options; they stay undecided unless they are an abstention phrase.
_REFUSAL_FILLER = frozenset(
    [
        "sorry",
        "i",
        "im",
        "we",
        "it",
        "its",
        "this",
        "that",
        "honestly",
        "unfortunately",
        "but",
        "well",
        "hmm",
    ]
)
_REFUSAL_VERBS = (
    "tell",
    "determine",
    "identify",
    "say",
    "classify",
    "recognize",
    "recognise",
    "know",
    "be sure",
    "make out",
    "name",
    "judge",
)
_REFUSAL_CORES: tuple[tuple[str, ...], ...] = (
    *tuple(
        (*start, *verb.split())
        for start in (
            ("cannot",),
            ("can", "not"),
            ("cant",),
            ("couldnt",),
            ("could", "not"),
            ("unable", "to"),
            ("not", "able", "to"),
            ("impossible", "to"),
            ("hard", "to"),
        )
        for verb in _REFUSAL_VERBS
    ),
    ("not", "sure"),
    ("unsure",),
    ("not", "certain"),
    ("uncertain",),
    ("unclear",),
    ("dont", "know"),
    ("do", "not", "know"),
    ("no", "idea"),
    ("not", "enough", "detail"),
    ("not", "enough", "details"),
    ("not", "enough", "information"),
)
_REFUSAL_TAIL = frozenset(
    [
        "which",
        "what",
        "whether",
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "it",
        "its",
        "is",
        "are",
        "was",
        "exactly",
        "precisely",
        "for",
        "sure",
        "specific",
        "kind",
        "type",
        "sort",
        "species",
        "breed",
        "variant",
        "model",
        "make",
        "year",
        "dish",
        "food",
        "flower",
        "plant",
        "bird",
        "dog",
        "cat",
        "pet",
        "animal",
        "aircraft",
        "airplane",
        "plane",
        "car",
        "vehicle",
        "object",
        "thing",
        "image",
        "picture",
        "photo",
        "from",
        "in",
        "of",
        "here",
        "to",
        "be",
        "or",
        "and",
        "me",
        "with",
        "confidence",
        "certainty",
        "enough",
        "detail",
        "details",
        "information",
        "visible",
        "shown",
        "name",
        "class",
        "category",
        "label",
        "one",
        "answer",
        "exact",
        "say",
        "tell",
    ]
)


def _is_refusal(key: str) -> bool:
    """Whether the name key ``key`` is a refusal sentence (see the word lists above)."""
    words = key.split()
    start = 0
    while start < len(words) and words[start] in _REFUSAL_FILLER:
        start += 1
    rest = words[start:]
    for core in _REFUSAL_CORES:
        if tuple(rest[: len(core)]) == core:
            return all(word in _REFUSAL_TAIL for word in rest[len(core) :])
    return False


# Several options in one answer. Each detector sees the prediction after NFKC and casefold (so a
# full-width solidus or "OR" counts), with punctuation still in place. "and/or" is a slash between
# two words.
_OPTION_WORD = re.compile(r"\b(?:or|either|vs|versus)\b")
_WORD_SLASH_WORD = re.compile(r"(?<!\w)[^\W\d_]{2,}+\s*+/\s*+[^\W\d_]{2,}+(?!\w)")
_COMMA = re.compile(r"[,\u3001\u060c]")
_SEMICOLON_OR_BAR = re.compile(r"[;|\u061b]")
_LIST_MARKER = re.compile(
    r"(?:^|(?<=\s))(?:\(?\d{1,3}[.)]|\(?[a-z]\))(?=\s)|[\u2022\u2023\u25aa\u25cf\u25e6]"
)


def _found(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    """A detector for any match of ``pattern``."""
    return lambda text: pattern.search(text) is not None


def _separates_items(separator: re.Pattern[str]) -> Callable[[str], bool]:
    """A detector for ``separator`` standing between two parts that both name something."""

    def detect(text: str) -> bool:
        return sum(_has_word(part) for part in separator.split(text)) >= 2

    return detect


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def _several_lines(text: str) -> bool:
    return sum(_has_word(line) for line in text.splitlines()) >= 2


def _list_of_items(text: str) -> bool:
    return len(_LIST_MARKER.findall(text)) >= 2


_OPTION_DETECTORS: tuple[Callable[[str], bool], ...] = (
    _found(_OPTION_WORD),
    _found(_WORD_SLASH_WORD),
    _separates_items(_COMMA),
    _separates_items(_SEMICOLON_OR_BAR),
    _several_lines,
    _list_of_items,
)


def _names_several_options(prediction: str, ground_truth: str) -> bool:
    """Whether ``prediction`` hedges between options, by a separator the label itself lacks.

    Labels such as "Ram C/V Cargo Van" or "Cape May Warbler, male" contain separators of their
    own; a separator found in the ground truth is not taken as a sign of hedging.
    """
    shown = _fold(prediction)
    return any(detect(shown) and not detect(_fold(ground_truth)) for detect in _OPTION_DETECTORS)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


class LexicalJudge:
    """Decides exact names, synonyms, refusals, hedged and empty answers; leaves the rest.

    Rules, first match wins: same name or declared synonyms -> ``specific``; an abstention phrase,
    or a refusal sentence naming no candidate -> ``abstain``; several options -> ``wrong``;
    nothing left after normalisation -> ``wrong``.
    Synonyms are not transitive: two names match only when one declared group holds both.
    """

    name = "lexical"

    def __init__(
        self,
        synonyms: Iterable[Iterable[str]] = (),
        abstain_phrases: Iterable[str] = DEFAULT_ABSTAIN_PHRASES,
    ) -> None:
        groups = sorted({group for group in map(_key_group, synonyms) if len(group) >= 2})
        self._groups_of: dict[str, set[int]] = {}
        for index, group in enumerate(groups):
            for key in group:
                self._groups_of.setdefault(key, set()).add(index)
        self._abstain = frozenset(_keys(abstain_phrases, what="abstain phrase"))
        config = {
            "rules": RULES_VERSION,
            "synonyms": [list(group) for group in groups],
            "abstain_phrases": sorted(self._abstain),
        }
        canonical = json.dumps(config, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        self._identity = "lexical:" + hashlib.sha256(canonical.encode()).hexdigest()[:16]
        self.counters: Counter[str] = Counter()

    @property
    def identity(self) -> str:
        return self._identity

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        # Rollouts of one image often repeat an answer: judge each distinct pair once per batch.
        by_pair = {pair: self._judge_one(pair) for pair in dict.fromkeys(pairs)}
        judgements = [by_pair[pair] for pair in pairs]
        count_judgements(self.counters, judgements)
        return judgements

    def _judge_one(self, pair: Pair) -> Judgement:
        verdict = self._verdict(pair)
        return UNDECIDED if verdict is None else Judgement(verdict, self.name)

    def _verdict(self, pair: Pair) -> Verdict | None:
        prediction = name_key(pair.prediction)
        if prediction and self._same_name(prediction, name_key(pair.ground_truth)):
            return Verdict.SPECIFIC
        if prediction in self._abstain or _is_refusal(prediction):
            return Verdict.ABSTAIN
        if _names_several_options(pair.prediction, pair.ground_truth):
            return Verdict.WRONG
        if not prediction:
            return Verdict.WRONG
        return None

    def _same_name(self, prediction: str, ground_truth: str) -> bool:
        if prediction == ground_truth:
            return True
        shared = self._groups_of.get(prediction, set()) & self._groups_of.get(ground_truth, set())
        return bool(shared)


def _key_group(group: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(_keys(group, what="synonym"))))


def _keys(names: Iterable[str], *, what: str) -> list[str]:
    """The name keys of ``names``, refusing a bare string (it would iterate by character)."""
    if isinstance(names, str):
        raise TypeError(f"expected a collection of {what}s, got the string {names!r}")
    keys = []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{what} must be a string, got {type(name).__name__}: {name!r}")
        key = name_key(name)
        if not key:
            raise ValueError(f"{what} {name!r} has no letters or digits")
        keys.append(key)
    return keys
