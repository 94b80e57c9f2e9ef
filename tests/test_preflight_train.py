"""A paper recipe, as shipped, trains through the command line on a CPU with its LLM judge; and a
judge that is down stops a real run, on every process, before anything loads."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from speciarl.cli import app
from speciarl.testing.openai_server import ScriptedOpenAIServer, hierarchy_responder
from speciarl.train.config import load_config
from speciarl.train.sft import train_sft
from test_train_e2e import recipe
from two_processes import SCRIPTS

JUDGE = "Qwen/Qwen3-30B-A3B-Instruct-2507"
MAIN_RECIPE = Path(__file__).parents[1] / "configs" / "cub_speciarl.yaml"
CPU_SIZES = [
    "optimizer.images_per_step=2",  # x 10 rollouts = 20 completions, 2 micro-batches of 10
    "optimizer.max_steps=2",
    "optimizer.max_completion_length=32",
    "optimizer.overlong_buffer=8",
]
SYNTHETIC_DATA = ["data.dataset=synthetic", "data.subset=8"]  # CUB's images are not here
runner = CliRunner()


def train_main_recipe(*overrides: str) -> Result:
    return runner.invoke(app, ["train", "--config", str(MAIN_RECIPE), *overrides])


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/v1"


@pytest.fixture(scope="module")
def answering_model(tmp_path_factory, tiny_model) -> Path:
    """The tiny model after 30 SFT steps on the labels: it now answers in the format about half
    the time, so its answers reach the judge (a random model's almost never do)."""
    folder = tmp_path_factory.mktemp("answering")
    path = recipe(
        folder,
        tiny_model,
        lora=None,
        optimizer__learning_rate=5e-3,
        optimizer__max_steps=30,
        optimizer__per_device_batch_size=8,
        save_steps=30,
    )
    return train_sft(load_config(path))


def test_the_main_recipe_trains_on_a_cpu_with_its_llm_judge_called(tmp_path, answering_model):
    """configs/cub_speciarl.yaml with only the model, the judge endpoint, the data and the sizes
    changed. The judge's hierarchy stays cub200's, which knows no synthetic label, so every
    well-formed answer the lexical judge cannot settle goes to the LLM: here the stand-in server,
    which grades it by the synthetic hierarchy."""
    responder = hierarchy_responder("synthetic")
    with ScriptedOpenAIServer(responder, models=[JUDGE]) as server:
        result = train_main_recipe(
            f"model={answering_model}",
            f"judge.endpoint={server.base_url}",
            *SYNTHETIC_DATA,
            f"output_dir={tmp_path / 'run'}",
            *CPU_SIZES,
        )
    assert result.exit_code == 0, result.output
    assert f"saved to {tmp_path / 'run' / 'adapter'}" in result.stdout
    assert server.requests, "the LLM judge was never called"
    assert {body["model"] for body in server.requests} == {JUDGE}
    rollouts = [json.loads(line) for line in (tmp_path / "run/rollouts/rank0.jsonl").open()]
    assert len(rollouts) == 2 * 2 * 10  # steps x images x rollouts
    by_llm = [row for row in rollouts if row["judge"] == "llm"]
    assert by_llm and all(row["verdict"] is not None for row in by_llm)
    state = json.loads(
        next((tmp_path / "run" / "checkpoints").glob("*/trainer_state.json")).read_text()
    )
    assert state["global_step"] == 2
    assert sum(step.get("speciarl/judge/llm_calls", 0) for step in state["log_history"]) > 0


def test_a_real_run_with_its_judge_down_stops_before_anything_loads(tmp_path, tiny_model):
    url = closed_port_url()
    result = train_main_recipe(
        f"model={tiny_model}",
        f"judge.endpoint={url}",
        *SYNTHETIC_DATA,
        f"output_dir={tmp_path / 'run'}",
        *CPU_SIZES,
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: judge.endpoint {url}: no answer (ConnectError)")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "run" / "data").exists()  # no data built, no model loaded


def test_every_process_of_a_launch_stops_when_the_judge_is_down(tmp_path, tiny_model):
    """torchrun, two CPU processes: the main process finds the judge down, both stop."""
    path = recipe(
        tmp_path,
        tiny_model,
        judge={"hierarchy": "synthetic", "endpoint": closed_port_url(), "model": JUDGE},
    )
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    completed = subprocess.run(
        [*torchrun, "--nproc_per_node", "2", str(SCRIPTS / "two_process_grpo.py"), str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode != 0
    assert completed.stderr.count("PreflightError: judge.endpoint http://127.0.0.1:") == 2
    assert "cannot start" not in completed.stderr  # one problem: only the main process asked
    assert not (tmp_path / "run" / "data").exists()
