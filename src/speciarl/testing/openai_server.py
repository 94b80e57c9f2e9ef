"""A real local HTTP server speaking the OpenAI chat-completions protocol, with scripted answers.

It stands in for ``vllm serve`` in tests and benchmarks: the client, its retries, parsing and
caches under test are the real ones, talking HTTP over loopback. A *responder* decides what each
request gets: a reply text, an HTTP error, a delay, or a dropped connection.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server does with one request."""

    content: str | None = None
    """The assistant message; ``None`` sends an empty completion (no choices)."""
    status: int = 200
    delay_s: float = 0.0
    drop: bool = False
    """Close the connection without answering, as a crashing server does."""


Responder = Callable[[dict[str, Any]], Reply]


class ScriptedOpenAIServer:
    """``with ScriptedOpenAIServer(responder) as server: server.base_url`` ... on 127.0.0.1.

    Built on aiohttp's server in a background thread with its own event loop, so waiting out the
    scripted latency costs no thread per request, as in a real asynchronous inference server.
    """

    def __init__(
        self,
        responder: Responder,
        *,
        latency_s: float = 0.0,
        port: int = 0,
        models: Sequence[str] = (),
    ) -> None:
        self.responder = responder
        self.models = tuple(models)
        """What ``GET /v1/models`` lists, as a real server lists what it serves."""
        self.latency_s = latency_s
        self.requests: list[dict[str, Any]] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._requested_port = port
        self._port: int | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ScriptedOpenAIServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering and free the port, as an endpoint that goes down does."""
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
            self._runner = None
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_get("/v1/models", self._list_models)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port, backlog=1024)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def _list_models(self, request: web.Request) -> web.StreamResponse:
        listed = [{"id": name, "object": "model", "owned_by": "scripted"} for name in self.models]
        return web.json_response({"object": "list", "data": listed})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            reply = self.responder(body)
            await asyncio.sleep(self.latency_s + reply.delay_s)
            if reply.drop:
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("scripted drop")
            if reply.status != 200:
                error = {"error": {"message": "scripted failure", "code": reply.status}}
                return web.json_response(error, status=reply.status)
            return web.json_response(completion(body.get("model", ""), reply.content))
        finally:
            self._in_flight -= 1


def completion(model: str, content: str | None) -> dict[str, Any]:
    """A chat-completion response body as OpenAI-compatible servers send it."""
    choices = (
        []
        if content is None
        else [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ]
    )
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def judged_pairs(body: dict[str, Any]) -> list[dict[str, str]]:
    """The (ground truth, prediction) items a judge request carries, single or batched."""
    data = json.loads(body["messages"][-1]["content"])
    return data.get("pairs", [data])


def answer_as_requested(body: dict[str, Any], verdicts: list[str]) -> str:
    """Format verdicts the way the request asked: JSON schema, batched JSON, or plain text."""
    batched = "pairs" in json.loads(body["messages"][-1]["content"])
    if batched:
        items = judged_pairs(body)
        return json.dumps(
            {
                "verdicts": [
                    {"id": i["id"], "verdict": v} for i, v in zip(items, verdicts, strict=True)
                ]
            }
        )
    if body.get("response_format", {}).get("type") == "json_schema":
        return json.dumps({"verdict": verdicts[0]})
    return verdicts[0]


def rule_responder(rule: Callable[[str, str], str]) -> Responder:
    """A responder that answers every pair with ``rule(ground_truth, prediction)``."""

    def respond(body: dict[str, Any]) -> Reply:
        verdicts = [rule(p["ground_truth"], p["prediction"]) for p in judged_pairs(body)]
        return Reply(answer_as_requested(body, verdicts))

    return respond
