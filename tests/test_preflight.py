"""Start-up checks of a recipe, against real folders, a real judge server and a loopback Hub."""

import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from data_fixtures import make_aircraft, make_cub
from speciarl.cli import app
from speciarl.testing.openai_server import Reply, ScriptedOpenAIServer
from speciarl.train.config import TrainConfig, load_config
from speciarl.train.grpo import check_recipe, plan
from speciarl.train.preflight import PreflightError, inspect

JUDGE = "Qwen/Qwen3-30B-A3B-Instruct-2507"
CONFIGS = Path(__file__).parents[1] / "configs"
runner = CliRunner()


NO_LLM = {"judge.endpoint": "null", "judge.model": "null"}
NO_LLM_ARGS = [f"{key}={value}" for key, value in NO_LLM.items()]


def dry_run(*arguments: str, command: str = "train") -> Result:
    """``speciarl COMMAND --config configs/cub_speciarl.yaml --dry-run ARGUMENTS``."""
    recipe_file = str(CONFIGS / "cub_speciarl.yaml")
    return runner.invoke(app, [command, "--config", recipe_file, "--dry-run", *arguments])


def recipe(**overrides: str) -> TrainConfig:
    """The main paper recipe with ``key.sub=value`` overrides, as the command line gives them."""
    return load_config(CONFIGS / "cub_speciarl.yaml", [f"{k}={v}" for k, v in overrides.items()])


def synthetic(model: Path, **overrides: str) -> TrainConfig:
    """The main recipe on the synthetic data, no LLM judge: everything there."""
    synthetic_data = {"data.dataset": "synthetic", "data.subset": "64"}
    base = {"model": str(model), **synthetic_data, "judge.hierarchy": "synthetic", **NO_LLM}
    return recipe(**{**base, **overrides})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the model ---------------------------------------------------------------------------------


def test_a_local_checkpoint_passes(tiny_model):
    findings = inspect(synthetic(tiny_model))
    assert findings.problems == []
    assert f"model: checkpoint folder {tiny_model}" in findings.checked


def test_a_missing_model_folder_is_named(tiny_model, tmp_path):
    missing = tmp_path / "no-such-model"
    findings = inspect(synthetic(missing))
    assert findings.problems == [f"model {missing}: no such folder"]
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"")
    assert inspect(synthetic(weights)).problems == [f"model {weights}: not a folder"]


def test_a_folder_without_config_json_is_not_a_checkpoint(tmp_path):
    (tmp_path / "adapter").mkdir()
    findings = inspect(synthetic(tmp_path / "adapter"))
    adapter = tmp_path / "adapter"
    assert findings.problems == [f"model {adapter}: no config.json in this folder"]


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A loopback stand-in for the Hub's model API (known ids answer, others 404) and an empty
    Hugging Face cache; returns the set of known ids."""
    from huggingface_hub import constants

    known: set[str] = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            repo_id = self.path.split("?")[0].removeprefix("/api/models/")
            if repo_id in known:
                body = json.dumps({"id": repo_id, "_id": "0", "private": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
            else:
                body = b'{"error": "Repository not found"}'
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    yield known
    server.shutdown()
    server.server_close()


def test_a_hub_id_the_hub_confirms_passes(hub):
    hub.add("Qwen/Qwen2.5-VL-7B-Instruct")
    findings = inspect(synthetic("Qwen/Qwen2.5-VL-7B-Instruct"))
    assert findings.problems == []
    assert "model: Qwen/Qwen2.5-VL-7B-Instruct, on the Hub" in findings.checked


def test_a_hub_id_the_hub_does_not_know_is_named(hub):
    findings = inspect(synthetic("Qwen/Qwen2.5-VL-7B-Instruc"))
    assert len(findings.problems) == 1
    assert findings.problems[0].startswith(
        "model Qwen/Qwen2.5-VL-7B-Instruc: no such folder, and no such model on the Hub"
    )


def test_a_cached_hub_id_needs_no_network(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    snapshot = Path(constants.HF_HUB_CACHE) / "models--org--vlm"
    (snapshot / "snapshots" / "abc").mkdir(parents=True)
    (snapshot / "snapshots" / "abc" / "config.json").write_text("{}")
    (snapshot / "refs").mkdir()
    (snapshot / "refs" / "main").write_text("abc")
    findings = inspect(synthetic("org/vlm"))
    assert findings.checked[0] == "model: org/vlm, in the local Hugging Face cache"


def test_a_hub_id_that_cannot_be_verified_passes_with_a_warning(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    findings = inspect(synthetic("org/vlm"))
    assert findings.problems == []
    unverified = (
        "model org/vlm: no such folder, not in the local Hugging Face cache, and the Hub did not "
        "answer (ConnectError)"
    )
    assert findings.unverified == [f"{unverified}; it must download when training starts"]
    assert findings.report()[-1].startswith("NOT VERIFIED model org/vlm")
    assert inspect(synthetic("org/vlm"), loading_here=True).problems == [unverified]


def test_a_missing_path_under_a_folder_here_is_not_taken_for_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    findings = inspect(synthetic("runs/tiny-model"))
    assert findings.problems == [
        "model runs/tiny-model: no such folder (not taken for a Hub id: runs/ is a folder here)"
    ]


def test_offline_mode_needs_the_model_in_the_cache(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    findings = inspect(synthetic("org/vlm"))
    assert findings.problems == [
        "model org/vlm: no such folder, and not in the local Hugging Face cache "
        "(HF_HUB_OFFLINE is set)"
    ]


# --- the data ----------------------------------------------------------------------------------


def test_a_dataset_that_needs_a_root_says_data_root(tiny_model):
    findings = inspect(recipe(model=str(tiny_model), **NO_LLM))
    assert findings.problems == [
        "data.root is not set: cub200 is read from its folder or a folder holding it "
        "(`speciarl data fetch cub200 --root DIR` downloads it)"
    ]


def test_a_root_that_does_not_hold_the_dataset_is_named(tiny_model, tmp_path):
    config = recipe(
        model=str(tiny_model),
        **{"data.root": str(tmp_path)},
        **NO_LLM,
    )
    (problem,) = inspect(config).problems
    assert problem.startswith(f"data.root {tmp_path}: cub200: cannot find train_test_split.txt")


def test_a_root_without_its_images_is_caught_by_reading_the_first(tiny_model, tmp_path):
    folder = make_cub(tmp_path)
    for image in (folder / "images").rglob("*.jpg"):
        image.unlink()
    config = recipe(
        model=str(tiny_model),
        **{"data.root": str(tmp_path), "data.subset": "3"},
        **NO_LLM,
    )
    (problem,) = inspect(config).problems
    assert problem.startswith(f"data.root {tmp_path}: cub200/train/0: cannot read ")


def test_a_root_holding_the_dataset_passes_and_counts_it(tiny_model, tmp_path):
    make_cub(tmp_path)
    config = recipe(
        model=str(tiny_model),
        **{"data.root": str(tmp_path), "data.subset": "3"},
        **NO_LLM,
    )
    findings = inspect(config)
    assert findings.problems == []
    assert f"data: cub200 train, 3 images under {tmp_path}" in findings.checked
    too_many = recipe(model=str(tiny_model), **{"data.root": str(tmp_path)})
    assert (
        "data.subset: 3000 images asked for, but cub200 train has 3"
        in inspect(too_many, judged=False).problems
    )


def test_unknown_dataset_and_split_name_their_keys(tiny_model):
    unknown = inspect(synthetic(tiny_model, **{"data.dataset": "birds"}), judged=False)
    assert unknown.problems[0].startswith("data.dataset: unknown dataset 'birds'; choose one of")
    split = inspect(synthetic(tiny_model, **{"data.split": "dev"}), judged=False)
    assert split.problems == [
        "data.split: synthetic has no split 'dev'; choose one of train, val, test"
    ]


def test_every_part_of_a_mixed_set_is_checked(tiny_model, tmp_path):
    make_cub(tmp_path)
    make_aircraft(tmp_path)
    parts = "[cub200:train:2, fgvc_aircraft:trainval:3, flowers102:train:1, cub200:train:9, x:y]"
    config = load_config(
        CONFIGS / "mixed_speciarl.yaml",
        [f"model={tiny_model}", f"data.root={tmp_path}", f"data.parts={parts}", *NO_LLM_ARGS],
    )
    findings = inspect(config, judged=False)
    assert findings.problems[0].startswith(f"data.root {tmp_path}: flowers102: cannot find")
    assert findings.problems[1:] == [
        "data.parts cub200:train:9: 9 images asked for, but cub200 train has 3",
        "data.parts: a mixed-set part is NAME:SPLIT:COUNT, got 'x:y'",
    ]
    assert f"data: fgvc_aircraft trainval, 3 images under {tmp_path}" in findings.checked


def test_a_hub_copy_is_not_read_at_start(tiny_model):
    findings = inspect(synthetic(tiny_model, **{"data.dataset": "cub200", "data.source": "hub"}))
    assert findings.problems == []
    assert findings.unverified == [
        "data: cub200 train from the Hub copy Donghyun99/CUB-200-2011 (loaded when training starts)"
    ]


# --- the judge ---------------------------------------------------------------------------------


def test_a_hierarchy_that_is_neither_a_dataset_nor_a_file_is_named(tiny_model, tmp_path):
    findings = inspect(synthetic(tiny_model, **{"judge.hierarchy": str(tmp_path / "birds.yaml")}))
    assert findings.problems == [
        f"judge.hierarchy: {tmp_path / 'birds.yaml'}: neither a dataset (cub200, fgvc_aircraft, "
        "stanford_cars, flowers102, food101, oxford_pets, caltech101, synthetic) nor a hierarchy "
        "file"
    ]


def test_a_broken_hierarchy_file_is_named_with_its_problem(tiny_model, tmp_path):
    broken = tmp_path / "birds.yaml"
    broken.write_text("roots: []\n")
    findings = inspect(synthetic(tiny_model, **{"judge.hierarchy": str(broken)}))
    assert findings.problems == [
        f"judge.hierarchy: {broken}: roots: expected a non-empty list of nodes, got list"
    ]
    good = tmp_path / "good.yaml"
    good.write_text("name: shapes\nroots: [{name: circle, rank: broad, children: [{name: red}]}]")
    findings = inspect(synthetic(tiny_model, **{"judge.hierarchy": str(good)}))
    assert findings.problems == [] and "judge hierarchy: shapes, 2 nodes" in findings.checked


def test_a_judge_endpoint_that_is_down_fails_the_start(tiny_model):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    findings = inspect(synthetic(tiny_model, **{"judge.endpoint": url, "judge.model": JUDGE}))
    (problem,) = findings.problems
    assert problem.startswith(f"judge.endpoint {url}: no answer")


def test_a_judge_serving_another_model_names_judge_model(tiny_model):
    with ScriptedOpenAIServer(lambda body: Reply("wrong"), models=["Qwen/Qwen3-8B"]) as server:
        config = synthetic(tiny_model, **{"judge.endpoint": server.base_url, "judge.model": JUDGE})
        findings = inspect(config)
    assert findings.problems == [
        f"judge.model {JUDGE!r} is not served at {server.base_url} (it serves: Qwen/Qwen3-8B)"
    ]


def test_unknown_prompts_name_their_keys(tiny_model):
    with ScriptedOpenAIServer(lambda body: Reply("wrong"), models=[JUDGE]) as server:
        llm = {"judge.endpoint": server.base_url, "judge.model": JUDGE, "judge.prompt": "terse"}
        findings = inspect(synthetic(tiny_model, **llm, **{"data.prompt": "terse"}))
    assert [problem.split(":")[0] for problem in findings.problems] == [
        "data.prompt",
        "judge.prompt",
    ]
    assert "unknown prompt 'terse'" in findings.problems[0]


def test_sft_does_not_need_the_judge(tiny_model):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    config = synthetic(tiny_model, **{"judge.endpoint": url, "judge.model": JUDGE})
    assert inspect(config, judged=False).problems == []


# --- the command line --------------------------------------------------------------------------


def test_dry_run_lists_every_problem_one_line_each(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    model = tmp_path / "model"
    result = dry_run(f"model={model}", f"judge.endpoint={url}", "judge.hierarchy=birds")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the recipe cannot start (4 problems):",
        f"  model {model}: no such folder",
        "  data.root is not set: cub200 is read from its folder or a folder holding it "
        "(`speciarl data fetch cub200 --root DIR` downloads it)",
        "  judge.hierarchy: birds: neither a dataset (cub200, fgvc_aircraft, stanford_cars, "
        "flowers102, food101, oxford_pets, caltech101, synthetic) nor a hierarchy file",
        f"  judge.endpoint {url}: no answer (ConnectError); start the judge server (e.g. `vllm "
        "serve MODEL`) or fix the URL",
    ]


def test_dry_run_reports_what_it_checked(tiny_model):
    with ScriptedOpenAIServer(lambda body: Reply("wrong"), models=[JUDGE]) as server:
        result = dry_run(
            f"model={tiny_model}",
            f"judge.endpoint={server.base_url}",
            "data.dataset=synthetic",
            "data.subset=64",
        )
        assert result.exit_code == 0, result.output
        assert server.requests == []  # GET /models only: nothing was judged
    assert result.stdout.splitlines()[-5:] == [
        f"checked model: checkpoint folder {tiny_model}",
        "checked data: synthetic train, 1920 images",
        "checked judge hierarchy: cub200, 296 nodes",
        f"checked judge: {JUDGE} answers at {server.base_url}",
        # the recipe keeps its judge.hierarchy, cub200's, which has no synthetic label
        "WARNING synthetic: 48 of 48 labels are missing from the judge's hierarchy 'cub200' "
        "('plain red circle', 'striped red circle', 'dotted red circle', 'mimic red circle', "
        "'false red circle' and 43 more); answers about them that are not the label itself go "
        "to the LLM judge; see `speciarl data coverage --dataset synthetic --hierarchy cub200`",
    ]


def test_sft_dry_run_checks_model_and_data(tmp_path):
    result = dry_run(f"model={tmp_path}", command="sft")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [
        f"  model {tmp_path}: no config.json in this folder",
        "  data.root is not set: cub200 is read from its folder or a folder holding it "
        "(`speciarl data fetch cub200 --root DIR` downloads it)",
    ]


@pytest.mark.parametrize("recipe_file", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_recipe_fails_its_dry_run_only_on_what_this_machine_lacks(recipe_file):
    """As shipped, a recipe lacks only its environment here: the data root, the judge server and
    perhaps the model (no Hub, no tiny model built); its own settings all pass. The own-data
    recipes also lack the user's data and hierarchy, which they name as placeholders."""
    result = runner.invoke(app, ["train", "--config", str(recipe_file), "--dry-run"])
    if result.exit_code == 0:
        assert "completions per step" in result.stdout
        return
    assert result.exit_code == 2, result.output
    problems = [line.strip() for line in result.stderr.splitlines()]
    if problems[0].startswith("error: the recipe cannot start"):
        problems = problems[1:]
    else:
        problems[0] = problems[0].removeprefix("error: ")
    environment = ("model ", "data.root is not set", "judge.endpoint ", "judge.model ")
    if recipe_file.stem.startswith("own_data"):
        environment += ("data.dataset: unknown dataset 'mydata'", "judge.hierarchy: ")
    assert all(problem.startswith(environment) for problem in problems), problems


# --- planning a launch -------------------------------------------------------------------------


def test_processes_plans_a_launch_without_launching(tiny_model):
    arguments = [f"model={tiny_model}", "data.dataset=synthetic", "data.subset=64", *NO_LLM_ARGS]
    eight = dry_run(*arguments, "--processes", "8")
    assert eight.exit_code == 0, eight.output
    assert (
        "256 images x 10 rollouts = 2560 completions per step on 8 process(es); per process 320 "
        "= gradient accumulation 32 x per_device_batch_size 10"
    ) in eight.stdout
    three = dry_run(*arguments, "--processes", "3")
    assert three.exit_code == 2
    assert three.stderr == (
        "error: 256 images x 10 rollouts = 2560 completions per step is not a multiple of "
        "per_device_batch_size 10 x 3 processes; change optimizer.per_device_batch_size or "
        "images_per_step\n"
    )


def test_processes_needs_dry_run(tiny_model, tmp_path):
    command = ["train", "--config", str(CONFIGS / "synthetic_tiny.yaml"), "--processes", "2"]
    result = runner.invoke(app, [*command, f"model={tiny_model}", f"output_dir={tmp_path}"])
    assert result.exit_code == 2
    assert "--processes plans a launch with --dry-run" in result.stderr
    assert not any(tmp_path.iterdir())


def test_a_real_launch_still_plans_for_its_world_size(monkeypatch, tiny_model):
    config = synthetic(tiny_model)
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert plan(config).world_size == 4
    assert plan(config).gradient_accumulation == 64
    assert plan(config, 8).gradient_accumulation == 32


def test_a_batch_that_does_not_divide_is_listed_with_the_other_problems(tmp_path):
    with pytest.raises(PreflightError) as caught:
        url = f"http://127.0.0.1:{closed_port()}/v1"
        overrides = {"data.dataset": "synthetic", "judge.endpoint": url}
        check_recipe(recipe(model=str(tmp_path / "none"), **overrides), 3)
    assert [problem.split(" ")[:3] for problem in caught.value.problems] == [
        ["256", "images", "x"],
        ["model", str(tmp_path / "none") + ":", "no"],
        ["data.subset:", "3000", "images"],
        ["judge.endpoint", f"{url}:", "no"],
    ]
