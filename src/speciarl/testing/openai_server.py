"""A real local HTTP server speaking the OpenAI chat-completions protocol, with scripted answers.

It stands in for ``vllm serve`` in tests and benchmarks: the client, its retries, parsing and
caches under test are the real ones, talking HTTP over loopback. A *responder* decides what each
request gets: a reply text, an HTTP error, a delay, or a dropped connection.

Run as a program, it is a judge for smoke-testing a paper recipe on a CPU, answering every pair
from a label hierarchy (see :func:`main`)::

    python -m speciarl.testing.openai_server --port 8000 \\
        --model Qwen/Qwen3-30B-A3B-Instruct-2507 --hierarchy synthetic
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from speciarl.verdict import Verdict


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


def hierarchy_responder(hierarchy: str, otherwise: Verdict = Verdict.WRONG) -> Responder:
    """A responder that grades each pair as the deterministic judges (lexical, then taxonomy)
    of ``hierarchy`` (a dataset name or a hierarchy file) do, and ``otherwise`` what they leave
    undecided. It answers in the six verdicts of the ``base`` judge prompt."""
    from speciarl.data.registry import named_hierarchy
    from speciarl.judges.base import Pair
    from speciarl.judges.factory import build_judge

    tree = named_hierarchy(hierarchy)
    judge = build_judge("cascade", hierarchy=tree)

    def rule(ground_truth: str, prediction: str) -> str:
        (judgement,) = judge.judge([Pair(ground_truth, prediction)])
        return (judgement.verdict or otherwise).value

    return rule_responder(rule)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a stand-in judge on 127.0.0.1 until interrupted, printing its base URL."""
    parser = argparse.ArgumentParser(
        prog="python -m speciarl.testing.openai_server",
        description="A stand-in LLM judge (OpenAI-compatible, on 127.0.0.1) for CPU smoke tests: "
        "it grades each pair from a label hierarchy.",
    )
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument(
        "--model", action="append", required=True, help="model id to serve (repeatable)"
    )
    parser.add_argument(
        "--hierarchy", required=True, help="dataset name (e.g. synthetic) or hierarchy file"
    )
    parser.add_argument(
        "--otherwise",
        default=Verdict.WRONG.value,
        choices=[verdict.value for verdict in Verdict],
        help="verdict for pairs the hierarchy cannot decide (default: wrong)",
    )
    args = parser.parse_args(argv)
    try:
        responder = hierarchy_responder(args.hierarchy, Verdict(args.otherwise))
    except (ValueError, OSError) as error:
        parser.error(f"--hierarchy: {error}")
    try:
        with ScriptedOpenAIServer(responder, port=args.port, models=args.model) as server:
            print(f"judge serving {', '.join(args.model)} at {server.base_url}", flush=True)
            threading.Event().wait()
    except OSError as error:  # the port is taken
        parser.error(f"--port {args.port}: {error}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
