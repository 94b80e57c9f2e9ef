"""Launching a test script as two CPU processes with torchrun (gloo)."""

import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).parent / "train_scripts"


def run_two_processes(script: str, argument: str, timeout: int) -> subprocess.CompletedProcess:
    """Run ``train_scripts/<script>`` on two processes; fails the test if it fails."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            str(SCRIPTS / script),
            argument,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed
