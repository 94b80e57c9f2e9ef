"""Judge 2,560 rollout answers (256 images x 10) against a scripted OpenAI-compatible server.

The server answers after 50 ms, like a busy vLLM; the client may keep 64 requests in flight.
About 30 % of the pairs repeat another rollout of the same image, and the cache starts cold.
The floor for judging U distinct pairs one per request is ceil(U / 64) x 50 ms; the goal is a
wall time within 1.3x of it. Two set-ups are timed: the LLM behind the cache alone (every
distinct pair reaches the LLM), and the full cascade (lexical, then taxonomy and LLM behind the
cache), which also shows how many calls the deterministic judges save.

    .venv/bin/python bench/llm_judge.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from speciarl.answer import name_key
from speciarl.judges import Hierarchy, Pair
from speciarl.judges.cache import SqliteVerdictCache
from speciarl.judges.factory import build_judge, judges_in
from speciarl.judges.llm import LLMJudgeSettings
from speciarl.testing.openai_server import ScriptedOpenAIServer, rule_responder

IMAGES, ROLLOUTS, LATENCY_S, CONCURRENCY = 256, 10, 0.05, 64


def make_pairs(rng: random.Random) -> list[Pair]:
    """Per image: 7 distinct answers and 3 repeats of them (30 % duplicates)."""
    pairs = []
    for image in range(IMAGES):
        genus = image % 40
        label = f"species {image} of genus {genus}"
        answers = [
            label,  # exact: lexical decides
            f"genus {genus} bird",  # in the hierarchy: taxonomy decides
            "bird",
            "None",  # abstention: lexical decides
            f"a bird seen at site {image}-{rng.randrange(10**6)}",  # only the LLM knows
            f"species {image} or species {image + 1}",  # several options: lexical decides
            f"unknown-looking creature {image}-{rng.randrange(10**6)}",
        ]
        answers += rng.sample(answers, 3)
        pairs.extend(Pair(label, answer) for answer in answers)
    return pairs


def hierarchy() -> Hierarchy:
    genera = [
        {
            "name": f"genus {g} bird",
            "rank": "close",
            "children": [{"name": f"species {i} of genus {g}"} for i in range(g, IMAGES, 40)],
        }
        for g in range(40)
    ]
    return Hierarchy.from_dict({"roots": [{"name": "bird", "rank": "broad", "children": genera}]})


def rule(ground_truth: str, prediction: str) -> str:
    return "specific" if name_key(ground_truth) == name_key(prediction) else "wrong"


def run(kind: str, pairs: list[Pair], endpoint: str, cache_file: Path) -> tuple[float, Counter]:
    """Judge ``pairs`` once; the wall time and every judge's counters, prefixed by its name."""
    settings = LLMJudgeSettings(endpoint=endpoint, model="bench", concurrency=CONCURRENCY)
    with SqliteVerdictCache(cache_file) as cache:
        judge = build_judge(kind, hierarchy=hierarchy(), llm=settings, cache=cache)
        start = time.perf_counter()
        judge.judge(pairs)
        elapsed = time.perf_counter() - start
    counters: Counter = Counter()
    for member in judges_in(judge):
        for key, value in member.counters.items():
            counters[f"{member.name}.{key}"] += value
    return elapsed, counters


def savings(counters: Counter, total: int) -> str:
    """Where the LLM calls a naive judge would make (one per pair) went instead."""
    lexical = counters["lexical.decided_by:lexical"]
    duplicates = counters["cascade.batch_duplicates"] + counters["llm.batch_duplicates"]
    cached = counters["cascade.cache_hits"] + counters["llm.cache_hits"]
    taxonomy = counters["taxonomy.decided_by:taxonomy"]
    calls = counters["llm.llm_calls"]
    return (
        f"{total} pairs -> lexical decided {lexical}, batch dedup saved {duplicates}, "
        f"cache answered {cached}, taxonomy decided {taxonomy} -> {calls} LLM calls"
    )


def serve(urls: multiprocessing.Queue) -> None:
    """The stand-in judge server, in its own process as vLLM would be."""
    with ScriptedOpenAIServer(rule_responder(rule), latency_s=LATENCY_S) as server:
        urls.put(server.base_url)
        threading.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pairs = make_pairs(random.Random(0))
    distinct = len({(name_key(p.ground_truth), name_key(p.prediction)) for p in pairs})
    floor = math.ceil(distinct / CONCURRENCY) * LATENCY_S
    print(f"pairs {len(pairs)}, distinct after normalisation {distinct}")
    print(f"floor ceil({distinct} / {CONCURRENCY}) x {LATENCY_S * 1000:.0f} ms = {floor:.2f} s")
    context = multiprocessing.get_context("spawn")
    urls = context.Queue()
    server = context.Process(target=serve, args=(urls,), daemon=True)
    server.start()
    endpoint = urls.get(timeout=60)
    try:
        with tempfile.TemporaryDirectory() as folder:
            for kind in ("llm", "cascade"):
                times = []
                for repeat in range(args.repeats):
                    cache_file = Path(folder) / f"{kind}-{repeat}.sqlite"
                    elapsed, counters = run(kind, pairs, endpoint, cache_file)
                    times.append(elapsed)
                median = statistics.median(times)
                print(
                    f"{kind:>8}, cold cache: median {median:.2f} s of {args.repeats} runs "
                    f"= {median / floor:.2f}x the floor (min {min(times):.2f} s)"
                )
                print(f"          {savings(counters, len(pairs))}")
                elapsed, counters = run(kind, pairs, endpoint, cache_file)
                print(f"{kind:>8}, warm cache: {elapsed:.2f} s; {savings(counters, len(pairs))}")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
