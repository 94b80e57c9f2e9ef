"""bench/gpu_scale.py's CPU smoke mode prints every figure the GPU run prints, in a form that
parses (not a timed test: the numbers only have to be there and be sane)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "gpu_scale.py"
NUMBER = r"(\d+(?:\.\d+)?)"
COUNT = r"(\d{1,3}(?:,\d{3})*)"
STEPS, IMAGES, ROLLOUTS, TOKENS = 2, 2, 2, 8
PHASES = (
    "generation",
    "log-probabilities",
    "reward",
    "loss forward+backward",
    "optimiser step",
    "other",
)


@pytest.fixture(scope="module")
def output(tmp_path_factory: pytest.TempPathFactory) -> str:
    arguments = [
        *("--arch", "tiny", "--device", "cpu", "--steps", STEPS, "--images", IMAGES),
        *("--rollouts", ROLLOUTS, "--tokens", TOKENS, "--image-size", 56),
        *("--predict-images", 2, "--predict-batch", 2),
        *("--workdir", tmp_path_factory.mktemp("gpu_scale")),
    ]
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def figure(output: str, pattern: str) -> tuple[float, ...]:
    found = re.search(rf"^{pattern}$", output, flags=re.MULTILINE)
    assert found, f"no line matching {pattern!r} in:\n{output}"
    return tuple(float(value.replace(",", "")) for value in found.groups())


def test_steps_and_their_phases(output):
    step, first = figure(
        output, rf"step tiny: {NUMBER} s per step \(mean of 1; first step {NUMBER} s\)"
    )
    assert step > 0 and first > 0
    seconds = {
        name: figure(output, rf"phase tiny {re.escape(name)}: {NUMBER} s")[0] for name in PHASES
    }
    assert seconds["generation"] > 0 and seconds["loss forward+backward"] > 0
    assert sum(seconds.values()) <= step * 1.01 + 0.0005 * len(PHASES)  # 3-decimal rounding


def test_parameters_tokens_memory_plan_and_prediction(output):
    total, trainable = figure(output, rf"parameters tiny: {COUNT} total, {COUNT} trainable")
    assert 0 < trainable < total
    rate, tokens, seconds = figure(
        output,
        rf"tokens tiny: {NUMBER} generated tokens per second \({NUMBER} tokens in {NUMBER} s "
        r"of generate over those steps\)",
    )
    assert 0 < tokens <= (STEPS - 1) * IMAGES * ROLLOUTS * TOKENS
    assert tokens / rate == pytest.approx(seconds, rel=0.01, abs=0.00006)  # seconds: 4 decimals
    assert figure(output, rf"memory tiny: peak {NUMBER} GiB resident \(CPU\)")[0] > 0
    planned, resident = figure(
        output, rf"plan tiny: peak {NUMBER} GiB allocated \(.+; resident {NUMBER} GiB\)"
    )
    assert planned >= resident
    images_per_second = figure(
        output,
        rf"predict tiny: {NUMBER} images per second \(2 images, greedy, {TOKENS} new tokens at "
        rf"most, batch 2; loading took {NUMBER} s\)",
    )[0]
    assert images_per_second > 0
