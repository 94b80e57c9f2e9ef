"""The LLM judge: any OpenAI-compatible endpoint grades (ground truth, prediction) pairs.

One pair per request by default, as in the paper, with the answer constrained to the prompt's
choices (vLLM structured outputs, JSON schema, or plain text parsed strictly), temperature 0.
A batched mode sends many pairs per request, each answer keyed by the pair's id. Within one call,
pairs that would make the same request (the same text once sanitised) are asked once.

Predictions come from a policy optimised to earn reward, so they travel only as JSON data in the
user message, stripped of control and formatting characters and capped in length; instructions
live only in the system message. Failures never become verdicts: after the last retry a pair is
undecided, and undecided pairs are never cached.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import os
import random
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from speciarl.answer import DEFAULT_MAX_CHARS, DEFAULT_MAX_WORDS, exceeds_length_cap
from speciarl.judges.base import UNDECIDED, Judgement, Pair, count_judgements, distinct
from speciarl.judges.judge_prompts import DEFAULT_JUDGE_PROMPT, JudgePrompt, load_judge_prompt
from speciarl.verdict import Verdict

log = logging.getLogger(__name__)

OUTPUT_MODES = ("auto", "structured", "guided", "json_schema", "text")
"""How the answer is constrained: vLLM ``structured_outputs`` (vLLM >= 0.10), vLLM's older
``guided_choice``/``guided_json``, OpenAI-style JSON-schema ``response_format``, or free text
parsed strictly. ``auto`` starts with the first and steps down whenever the server refuses it."""
_NEGOTIATION = ("structured", "guided", "json_schema", "text")
_RETRYABLE_STATUS = {408, 409, 429}
_REFUSED_STATUS = {400, 422}


@dataclass(frozen=True)
class LLMJudgeSettings:
    """Where the judge model is served and how to talk to it."""

    endpoint: str
    """OpenAI-style base URL, such as ``http://localhost:8000/v1``."""
    model: str
    prompt: str = DEFAULT_JUDGE_PROMPT
    api_key: str | None = None
    """Defaults to ``$OPENAI_API_KEY``; local servers need none."""
    timeout_s: float = 60.0
    concurrency: int = 64
    """Requests in flight at once, at most."""
    max_retries: int = 4
    """Further attempts after a timeout, 429, 5xx or connection error."""
    malformed_retries: int = 1
    """Further attempts after an answer that is not one of the choices."""
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    output: str = "auto"
    batch_size: int = 1
    """Pairs per request; 1 is the paper's set-up."""
    max_words: int = DEFAULT_MAX_WORDS
    max_chars: int = DEFAULT_MAX_CHARS

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_MODES:
            raise ValueError(f"unknown output mode {self.output!r}; choose one of {OUTPUT_MODES}")
        for name in ("concurrency", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("max_retries", "malformed_retries"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) base URL, got {self.endpoint!r}")


class _Malformed(Exception):
    """The server answered, but not with one of the allowed choices."""


class _Refused(Exception):
    """The server rejected the request's form (HTTP 400/422): try a plainer output mode."""


class LLMJudge:
    """A :class:`~speciarl.judges.base.Judge` backed by a chat model behind an OpenAI-style API.

    Each call asks about every distinct pair once: pairs equal after :func:`sanitize` (the text
    the model would see) share one request and its verdict, and with ``batch_size > 1`` the
    requests are filled with distinct pairs only. ``counters["llm_calls"]`` counts requests sent
    (retries included), ``counters["llm_duplicates"]`` the pairs that shared another's request.

    ``progress``, when set, is called with the number of pairs finished after each request
    (duplicates included, so the total is the number of pairs given), so a command line can show
    a progress bar.
    """

    name = "llm"

    def __init__(self, settings: LLMJudgeSettings, prompt: JudgePrompt | None = None) -> None:
        self.settings = settings
        self.prompt = prompt or load_judge_prompt(settings.prompt)
        self.counters: Counter[str] = Counter()
        self.progress: Callable[[int], None] | None = None
        self._mode = _NEGOTIATION[0] if settings.output == "auto" else settings.output
        batching = f"batch{settings.batch_size}" if settings.batch_size > 1 else "single"
        identity = json.dumps([settings.model, self.prompt.name, self.prompt.digest, batching])
        self._identity = "llm:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]

    @property
    def identity(self) -> str:
        """Model id, prompt digest and batching: what can change a verdict."""
        return self._identity

    def judge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """Grade ``pairs`` (blocking); usable from inside a running event loop too."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.ajudge(pairs))
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.ajudge(pairs)).result()

    async def ajudge(self, pairs: Sequence[Pair]) -> list[Judgement]:
        """Grade ``pairs`` concurrently, at most ``concurrency`` requests in flight; each distinct
        request goes out once, and its verdict is given to every pair that would have sent it."""
        unique, slots = distinct(
            [Pair(sanitize(p.ground_truth), sanitize(p.prediction)) for p in pairs]
        )
        if len(unique) < len(pairs):  # no zero entries: counters compare as dicts
            self.counters["llm_duplicates"] += len(pairs) - len(unique)
        rows = [0] * len(unique)  # how many of ``pairs`` each distinct pair stands for
        for slot in slots:
            rows[slot] += 1
        answers: list[Judgement] = [UNDECIDED] * len(unique)
        pending: list[int] = []
        for slot, pair in enumerate(unique):
            early = self._refuse_without_asking(pair, rows[slot])
            if early is None:
                pending.append(slot)
            else:
                answers[slot] = early
        self._report(len(pairs) - sum(rows[slot] for slot in pending))
        if pending:
            from openai import AsyncOpenAI, DefaultAioHttpClient

            client = AsyncOpenAI(
                http_client=DefaultAioHttpClient(),
                base_url=self.settings.endpoint,
                api_key=self.settings.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
                timeout=self.settings.timeout_s,
                max_retries=0,
            )
            limit = asyncio.Semaphore(self.settings.concurrency)
            size = self.settings.batch_size
            chunks = [pending[start : start + size] for start in range(0, len(pending), size)]
            async with client:
                verdicts_of_chunks = await asyncio.gather(
                    *(
                        self._judge_chunk(
                            client, limit, [unique[i] for i in c], sum(rows[i] for i in c)
                        )
                        for c in chunks
                    )
                )
            for chunk, verdicts in zip(chunks, verdicts_of_chunks, strict=True):
                for slot, verdict in zip(chunk, verdicts, strict=True):
                    answers[slot] = UNDECIDED if verdict is None else Judgement(verdict, self.name)
        results = [answers[slot] for slot in slots]
        count_judgements(self.counters, results)
        return results

    def _refuse_without_asking(self, pair: Pair, rows: int = 1) -> Judgement | None:
        """Predictions no model needs to see: empty, or longer than any label (wrong).

        ``pair`` is sanitised already; ``rows`` is how many of the call's pairs it stands for.
        """
        too_long = exceeds_length_cap(
            pair.prediction, max_words=self.settings.max_words, max_chars=self.settings.max_chars
        )
        if too_long or not pair.prediction:
            self.counters["llm_refused_malformed"] += rows
            return Judgement(Verdict.WRONG, self.name)
        return None

    async def _judge_chunk(
        self, client: Any, limit: asyncio.Semaphore, chunk: list[Pair], rows: int
    ) -> list[Verdict | None]:
        """Verdicts of a chunk of distinct pairs (one request), retried; ``None`` where
        undecided. ``rows`` is how many of the call's pairs the chunk stands for."""
        settings = self.settings
        transient_left, malformed_left = settings.max_retries, settings.malformed_retries
        attempt = 0
        while True:
            mode = self._mode
            try:
                async with limit:
                    self.counters["llm_calls"] += 1
                    content = await self._ask(client, chunk, mode)
                verdicts = self._read(content, chunk, mode)
                self._report(rows)
                return verdicts
            except _Refused:
                if not self._step_down(mode):
                    return self._give_up(chunk, rows, "the server refused every output mode")
                continue
            except _Malformed as error:
                self.counters["llm_malformed"] += 1
                if malformed_left == 0:
                    return self._give_up(chunk, rows, f"malformed answer: {error}")
                malformed_left -= 1
            except Exception as error:  # any transport fault is retried or given up
                if not _is_transient(error) or transient_left == 0:
                    return self._give_up(chunk, rows, f"{type(error).__name__}: {error}")
                transient_left -= 1
            self.counters["llm_retries"] += 1
            attempt += 1
            ceiling = min(settings.backoff_max_s, settings.backoff_base_s * 2 ** (attempt - 1))
            await asyncio.sleep(random.uniform(0.0, ceiling))  # full jitter

    def _give_up(self, chunk: list[Pair], rows: int, reason: str) -> list[None]:
        self.counters["llm_failed"] += rows
        log.warning("LLM judge left %d pair(s) undecided: %s", rows, reason)
        self._report(rows)
        return [None] * len(chunk)

    def _report(self, finished: int) -> None:
        if self.progress is not None:
            self.progress(finished)

    def _step_down(self, refused_mode: str) -> bool:
        """Move ``auto`` to the next plainer output mode; False when nothing plainer is left."""
        if self.settings.output != "auto" or refused_mode == _NEGOTIATION[-1]:
            return False
        if self._mode == refused_mode:
            self._mode = _NEGOTIATION[_NEGOTIATION.index(refused_mode) + 1]
            self.counters["llm_output_downgrades"] += 1
            log.info("judge endpoint refused %s output; using %s", refused_mode, self._mode)
        return True

    async def _ask(self, client: Any, chunk: list[Pair], mode: str) -> str:
        import openai

        batched = self.settings.batch_size > 1
        request: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [
                {"role": "system", "content": self._system_message(batched)},
                {"role": "user", "content": _user_message(chunk, batched)},
            ],
            "temperature": 0.0,
            "max_tokens": 16 if not batched else 32 * len(chunk) + 32,
        }
        request.update(self._constraint(mode, batched, len(chunk)))
        try:
            # The SDK's documented raw request path: the same transport, auth and error types as
            # ``chat.completions.create``, without its per-request typed-dict transform and model
            # parsing, which cost more CPU than the judge's whole request at 64 in flight.
            response = await client.post("/chat/completions", body=request, cast_to=object)
        except openai.APIStatusError as error:
            if error.status_code in _REFUSED_STATUS:
                raise _Refused(str(error)) from None
            raise
        return _message_content(response)

    def _system_message(self, batched: bool) -> str:
        if not batched:
            return self.prompt.system
        return (
            self.prompt.system
            + '\n\nThis request holds several pairs as a JSON object {"pairs": [{"id", '
            '"ground_truth", "prediction"}, ...]}. Grade each pair on its own and reply with '
            'JSON only: {"verdicts": [{"id": <the pair\'s id>, "verdict": <verdict>}, ...]}, '
            "one entry per pair."
        )

    def _constraint(self, mode: str, batched: bool, count: int) -> dict[str, Any]:
        choices = list(self.prompt.choices)
        schema = _batch_schema(choices, count) if batched else _single_schema(choices)
        if mode == "structured":
            return {"structured_outputs": {"json": schema} if batched else {"choice": choices}}
        if mode == "guided":
            return {"guided_json": schema} if batched else {"guided_choice": choices}
        if mode == "json_schema":
            return {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "verdicts", "schema": schema, "strict": True},
                }
            }
        return {}

    def _read(self, content: str, chunk: list[Pair], mode: str) -> list[Verdict | None]:
        if self.settings.batch_size > 1:
            return self._read_batch(content, len(chunk))
        if mode == "json_schema":
            return [self._choice(_json_field(content, "verdict"))]
        return [self._choice(content)]

    def _read_batch(self, content: str, count: int) -> list[Verdict | None]:
        """Verdicts by pair id; a missing, repeated or unreadable item is undecided alone."""
        items = _json_field(content, "verdicts")
        if not isinstance(items, list):
            raise _Malformed("'verdicts' is not a list")
        found: dict[str, Verdict | None] = {}
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str | int):
                continue
            key = str(item["id"])
            try:
                verdict = self._choice(item.get("verdict"))
            except _Malformed:
                verdict = None
            found[key] = None if key in found else verdict  # a repeated id decides nothing
        verdicts = [found.get(str(position)) for position in range(count)]
        self.counters["llm_batch_item_missing"] += sum(v is None for v in verdicts)
        return verdicts

    def _choice(self, text: object) -> Verdict:
        """The verdict of an answer that must be exactly one choice (case and spacing aside)."""
        if not isinstance(text, str):
            raise _Malformed(f"expected a string, got {type(text).__name__}")
        answer = _normalise_choice(_THINK_BLOCK.sub(" ", text))
        for choice in self.prompt.choices:
            if answer == _normalise_choice(choice):
                return self.prompt.verdict_of[choice]
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise _Malformed(f"{shown!r} is not one of {', '.join(self.prompt.choices)}")


_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.IGNORECASE | re.DOTALL)
_EDGES = " \t\r\n.,;:!?\"'`*()[]{}<>"


def _normalise_choice(text: str) -> str:
    return " ".join(
        text.strip().strip(_EDGES).replace("_", " ").replace("-", " ").split()
    ).casefold()


def sanitize(text: str) -> str:
    """Untrusted text as the model will see it: control and format characters (zero-width,
    bidirectional overrides) removed, whitespace collapsed."""
    kept = "".join(
        ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch in " \t\n"
    )
    return " ".join(kept.split())


def _user_message(chunk: list[Pair], batched: bool) -> str:
    """The pairs as JSON data; nothing else reaches the user message."""
    if not batched:
        pair = chunk[0]
        data: Any = {
            "ground_truth": sanitize(pair.ground_truth),
            "prediction": sanitize(pair.prediction),
        }
    else:
        data = {
            "pairs": [
                {
                    "id": str(position),
                    "ground_truth": sanitize(pair.ground_truth),
                    "prediction": sanitize(pair.prediction),
                }
                for position, pair in enumerate(chunk)
            ]
        }
    return json.dumps(data, ensure_ascii=False)


def _message_content(response: object) -> str:
    """The assistant message of a chat-completion response body; malformed if there is none."""
    try:
        content = response["choices"][0]["message"]["content"]  # type: ignore[index]
    except (ValueError, LookupError, TypeError):
        raise _Malformed("no completion in the response") from None
    if not isinstance(content, str):
        raise _Malformed("empty completion")
    return content


def _single_schema(choices: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": choices}},
        "required": ["verdict"],
        "additionalProperties": False,
    }


def _batch_schema(choices: list[str], count: int) -> dict[str, Any]:
    item = {
        "type": "object",
        "properties": {"id": {"type": "string"}, "verdict": {"type": "string", "enum": choices}},
        "required": ["id", "verdict"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "verdicts": {"type": "array", "items": item, "minItems": count, "maxItems": count}
        },
        "required": ["verdicts"],
        "additionalProperties": False,
    }


def _json_field(content: str, field: str) -> Any:
    try:
        data = json.loads(_THINK_BLOCK.sub(" ", content).strip())
    except json.JSONDecodeError as error:
        raise _Malformed(f"not JSON: {error.msg}") from None
    if not isinstance(data, dict) or field not in data:
        raise _Malformed(f"no {field!r} in the answer")
    return data[field]


def _is_transient(error: Exception) -> bool:
    """Faults worth retrying: timeouts, lost connections, 408/409/429 and 5xx answers."""
    import openai

    if isinstance(error, openai.APITimeoutError | openai.APIConnectionError):
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in _RETRYABLE_STATUS or error.status_code >= 500
    return False
