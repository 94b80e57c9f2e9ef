"""The scripts in examples/ run as users run them."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN_TRL_SCRIPT = ROOT / "examples" / "own_trl_script.py"

# Runs the example as __main__, recording what each reward call received; the example itself
# stays plain user code.
RECORDING_DRIVER = """
import json, runpy, sys
from speciarl import reward_api

record, script, *arguments = sys.argv[1:]
calls = []
original = reward_api.SpeciaRLReward.__call__

def recording(self, prompts, completions, completion_ids=None, **columns):
    rewards = original(self, prompts, completions, completion_ids, **columns)
    calls.append({"sample_id": list(columns["sample_id"]), "label": list(columns["label"]),
                  "rewards": rewards, "num_generations": self.num_generations})
    return rewards

reward_api.SpeciaRLReward.__call__ = recording
sys.argv = [script, *arguments]
runpy.run_path(script, run_name="__main__")
with open(record, "w") as stream:
    json.dump(calls, stream)
"""


def test_own_trl_script_trains_with_stock_grpo_and_whole_groups(tmp_path, tiny_model):
    record = tmp_path / "calls.json"
    finished = subprocess.run(
        [
            sys.executable,
            "-c",
            RECORDING_DRIVER,
            str(record),
            str(OWN_TRL_SCRIPT),
            "--model",
            str(tiny_model),
            "--output-dir",
            str(tmp_path / "run"),
            "--max-steps",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stderr[-4000:]
    assert "step 2: mean SpeciaRL reward" in finished.stdout
    assert not (tmp_path / "run" / "tiny-model").exists()  # --model was used
    calls = json.loads(record.read_text())
    assert len(calls) == 2  # one reward call per step
    for call in calls:
        groups = Counter(call["sample_id"])
        assert len(groups) == 2
        assert set(groups.values()) == {call["num_generations"]} == {4}
        assert len(call["rewards"]) == len(call["label"]) == 8
        assert all(isinstance(value, float) for value in call["rewards"])
