"""Checks that cost milliseconds and save hours: is the generation backend installed?

(Whether the model is there is `speciarl.policy.checkpoint.check_checkpoint`, shared with
training.) Each failure is one line that starts with the option to fix, because it is printed
before any GPU work begins and must be actionable from the terminal alone.
"""

from __future__ import annotations

import importlib.util

from speciarl.evaluate.predict import BACKENDS


def check_backend(name: str) -> None:
    """Refuse an unknown backend, or vLLM where it is not installed (it is an optional extra)."""
    if name not in BACKENDS:
        raise ValueError(f"--backend {name!r}: choose one of {', '.join(BACKENDS)}")
    if name == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ValueError(
            "--backend vllm: vLLM is not installed in this environment; install it with "
            "`pip install vllm` (needs a CUDA GPU) or use --backend transformers"
        )
