"""Time one reward step of 2,560 rollouts (256 images x 10) against a warm SQLite verdict cache.

The step is the library's own `score_rollouts`: parse every answer, look every well-formed one up
in the cache (through `CachedJudge`), compute SpeciaRL group rewards. Prints the median and
spread over repeated runs; the target on a 2-core machine is under 25 ms.

    .venv/bin/python bench/reward_step.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from speciarl.judges import (
    CachedJudge,
    Cascade,
    Hierarchy,
    Judge,
    LexicalJudge,
    SqliteVerdictCache,
)
from speciarl.judges.taxonomy import TaxonomyJudge
from speciarl.rollouts import score_rollouts

IMAGES = 256
ROLLOUTS = 10
GENERA = 40
SPECIES_PER_GENUS = 5


def build_hierarchy() -> Hierarchy:
    """A bird-like tree: bird > 40 genera > 5 species each, with one synonym per species."""
    genera = []
    for g in range(GENERA):
        species = [
            {"name": f"species {g}-{s} bird{g}", "synonyms": [f"latin{g} specium{s}"]}
            for s in range(SPECIES_PER_GENUS)
        ]
        genera.append({"name": f"genus {g} bird", "rank": "close", "children": species})
    return Hierarchy.from_dict(
        {"name": "bench", "roots": [{"name": "bird", "rank": "broad", "children": genera}]}
    )


def make_rollouts(rng: random.Random) -> tuple[list[str], list[str], list[int]]:
    """Completions with realistic reasoning lengths and a mix of answer kinds."""
    reasoning = " ".join(["the bill is short and the wing bars are pale yellow"] * 12)
    completions, labels, groups = [], [], []
    for image in range(IMAGES):
        g, s = rng.randrange(GENERA), rng.randrange(SPECIES_PER_GENUS)
        label = f"species {g}-{s} bird{g}"
        candidates = [
            label,
            label.upper(),
            f"latin{g} specium{s}",
            f"genus {g} bird",
            "bird",
            f"species {(g + 1) % GENERA}-{s} bird{(g + 1) % GENERA}",
            "None",
            f"{label} or something else",
        ]
        for _ in range(ROLLOUTS):
            if rng.random() < 0.05:
                completion = f"<think>{reasoning}</think> {label}"  # format failure
            else:
                completion = (
                    f"<think>{reasoning}</think>\n<answer>{rng.choice(candidates)}</answer>"
                )
            completions.append(completion)
            labels.append(label)
            groups.append(image)
    return completions, labels, groups


def time_steps(judge: Judge, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` reward steps, after one step that warms the cache."""
    completions, labels, groups = make_rollouts(random.Random(0))
    score_rollouts(completions, labels, groups, judge)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        score_rollouts(completions, labels, groups, judge)
        timings.append((time.perf_counter() - start) * 1000)
    return sorted(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    hierarchy = build_hierarchy()
    lexical = LexicalJudge(synonyms=hierarchy.synonym_groups())
    taxonomy = TaxonomyJudge(hierarchy)
    print(f"rollouts per step: {IMAGES * ROLLOUTS} ({IMAGES} images x {ROLLOUTS})")
    with tempfile.TemporaryDirectory() as folder:
        cache = SqliteVerdictCache(Path(folder) / "verdicts.sqlite")
        setups = {
            "every verdict from the cache": CachedJudge(Cascade([lexical, taxonomy]), cache),
            "lexical, then cached taxonomy": Cascade([lexical, CachedJudge(taxonomy, cache)]),
        }
        for title, judge in setups.items():
            timings = time_steps(judge, args.repeats)
            print(
                f"{title}: median {statistics.median(timings):.2f} ms, "
                f"min {timings[0]:.2f} ms, p90 {timings[int(0.9 * (len(timings) - 1))]:.2f} ms"
            )
        cache.close()


if __name__ == "__main__":
    main()
