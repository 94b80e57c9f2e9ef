"""The shipped recipes (configs/*.yaml) and accelerate launch configs (configs/accelerate/)."""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from speciarl.data.prepare import PartRequest
from speciarl.data.registry import REGISTRY, get_dataset
from speciarl.train.config import ConfigError, TrainConfig, load_config
from speciarl.train.run_folder import dotted_settings

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
ACCELERATE = CONFIGS / "accelerate"
MULTINODE_DOC = ROOT / "docs" / "multinode.md"

CPU_RECIPES = {"synthetic_tiny", "own_data_smoke"}
OWN_DATA_RECIPES = {"own_data", "own_data_smoke"}
"""Recipes for a user's own data: the dataset and hierarchy are placeholders named on the command
line (README, "Your own dataset in five commands")."""
GPU_RECIPES = {
    "cub_speciarl",
    "cub_speciarl_n5",
    "cub_speciarl_n15",
    "cub_binary",
    "cub_scala1",
    "cub_scala2",
    "cub_scala3",
    "cub_speciarl_single",
    "cub_noise5",
    "cub_noise10",
    "cub_noise25",
    "cub_size128",
    "cub_size1024",
    "cub_size2048",
    "mixed_speciarl",
    "flowers_speciarl",
    "cub_dr_grpo",
    "cub_dapo",
    "cub_dr_grpo_binary",
    "cub_dapo_binary",
    "cub_dapo_ds",
    "cub_dapo_binary_ds",
    "own_data",
}
OTHER_POLICY_RECIPES = {"qwen3vl8b_speciarl"}
"""The main run on another architecture (README, "Supported architectures"), not the paper's."""
ALL_RECIPES = GPU_RECIPES | CPU_RECIPES | OTHER_POLICY_RECIPES
JUDGE_MODEL = "Qwen/Qwen3-30B-A3B-Instruct-2507"
ACCELERATE_CONFIGS = {"single_gpu", "multi_gpu_ddp", "deepspeed_zero3", "fsdp", "multi_node_zero3"}

# The overrides docs/multinode.md puts on the command line.
DOC_OVERRIDES = [
    "judge.cache=redis://10.0.0.2:6379/0",
    "judge.endpoint=http://10.0.0.2:8000/v1",
    "rollouts.use_vllm=true",
    "rollouts.vllm_mode=server",
    "rollouts.vllm_server_base_url=http://10.0.0.3:8001",
]


def recipe(name: str) -> TrainConfig:
    return load_config(CONFIGS / f"{name}.yaml")


# --- every recipe ------------------------------------------------------------------------------


def test_the_recipes_are_exactly_the_papers_experiments():
    assert {path.stem for path in CONFIGS.glob("*.yaml")} == ALL_RECIPES
    assert not list(CONFIGS.glob("*.yml"))


@pytest.mark.parametrize("name", sorted(ALL_RECIPES))
def test_recipe_loads_validates_and_names_its_run(name):
    config = recipe(name)
    assert config.validate() is config
    assert config.name == name
    assert config.output_dir == f"runs/{name}"


@pytest.mark.parametrize("name", sorted(ALL_RECIPES))
def test_recipe_starts_with_a_comment_saying_what_it_reproduces(name):
    first = (CONFIGS / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# ") and len(first) > 20


def _default(path: str) -> Any:
    node: Any = TrainConfig()
    for part in path.split("."):
        node = getattr(node, part)
    return node


@pytest.mark.parametrize("name", sorted(ALL_RECIPES))
def test_recipe_states_only_what_differs_from_the_defaults(name):
    content = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text(encoding="utf-8"))
    same = [key for key, value in dotted_settings(content).items() if value == _default(key)]
    assert not same, f"{name} repeats defaults: {same}"


@pytest.mark.parametrize("name", sorted(ALL_RECIPES - OWN_DATA_RECIPES))
def test_recipe_data_and_hierarchy_exist(name):
    config = recipe(name)
    if config.data.parts:
        for part in map(PartRequest.parse, config.data.parts):
            assert part.split in get_dataset(part.dataset).splits
    else:
        assert config.data.split in get_dataset(config.data.dataset).splits
    hierarchy = config.judge.hierarchy
    if hierarchy is not None:
        assert hierarchy in REGISTRY
        get_dataset(hierarchy).hierarchy()  # shipped and readable


@pytest.mark.parametrize("name", sorted(OWN_DATA_RECIPES))
def test_own_data_recipes_name_the_guides_placeholders_and_the_whole_split(name):
    config = recipe(name)
    assert (config.data.dataset, config.judge.hierarchy) == ("mydata", "mydata-hierarchy.yaml")
    guide = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"configs/{name}.yaml" in guide
    if name == "own_data":
        assert config.data.subset is None  # a user's train split, whatever its size


@pytest.mark.parametrize("name", sorted(GPU_RECIPES))
def test_gpu_recipe_uses_the_papers_policy_and_llm_judge(name):
    config = recipe(name)
    assert config.model == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert config.judge.endpoint == "http://localhost:8000/v1"
    assert config.judge.model == JUDGE_MODEL
    assert config.judge.cache == "verdicts.sqlite"


def _accelerate_process_counts() -> set[int]:
    from accelerate.commands.config.config_args import load_config_from_file

    return {
        load_config_from_file(str(ACCELERATE / f"{name}.yaml")).num_processes
        for name in ACCELERATE_CONFIGS
    }


def test_accelerate_configs_launch_1_4_and_8_processes():
    assert _accelerate_process_counts() == {1, 4, 8}


@pytest.mark.parametrize("name", sorted(GPU_RECIPES))
@pytest.mark.parametrize("world_size", [1, 4, 8])
def test_gpu_recipe_batches_fit_every_launch_config(name, world_size):
    config = recipe(name)
    accumulation = config.gradient_accumulation(world_size)
    optimizer = config.optimizer
    assert accumulation * optimizer.per_device_batch_size * world_size == (
        optimizer.images_per_step * optimizer.num_generations
    )


@pytest.mark.parametrize("name", sorted(ALL_RECIPES))
def test_a_micro_batch_holds_whole_groups(name):
    optimizer = recipe(name).optimizer
    assert optimizer.per_device_batch_size % optimizer.num_generations == 0


def test_synthetic_tiny_runs_on_one_process():
    assert recipe("synthetic_tiny").gradient_accumulation(1) == 1


@pytest.mark.parametrize("name", sorted(GPU_RECIPES | OTHER_POLICY_RECIPES))
def test_the_documented_command_line_overrides_apply(name):
    config = load_config(CONFIGS / f"{name}.yaml", DOC_OVERRIDES)
    assert config.judge.cache == "redis://10.0.0.2:6379/0"
    assert config.judge.endpoint == "http://10.0.0.2:8000/v1"
    assert config.rollouts.use_vllm is True
    assert config.rollouts.vllm_mode == "server"
    assert config.rollouts.vllm_server_base_url == "http://10.0.0.3:8001"


def test_the_doc_uses_the_tested_overrides():
    text = MULTINODE_DOC.read_text(encoding="utf-8")
    for override in DOC_OVERRIDES:
        assert override in text


# --- what each experiment changes ----------------------------------------------------------------


def test_main_run_is_the_papers_setting():
    config = recipe("cub_speciarl")
    defaults = TrainConfig()
    assert (config.data.dataset, config.data.split, config.data.subset) == ("cub200", "train", 3000)
    assert config.data.parts == []
    assert config.judge.hierarchy == "cub200"
    assert config.reward == defaults.reward
    assert config.reward.scheme == "speciarl" and config.reward.noise == 0.0
    assert config.optimizer == defaults.optimizer
    assert config.optimizer.preset == "grpo"
    assert (config.optimizer.num_generations, config.optimizer.images_per_step) == (10, 256)
    assert config.optimizer.learning_rate == 3e-5 and config.optimizer.epochs == 15
    assert (config.lora.r, config.lora.alpha) == (64, 32)
    assert config.rollouts.use_vllm is False


def _differences(name: str) -> dict[str, Any]:
    """Every setting in which a recipe differs from the main run, as dotted keys."""
    main, other = dataclasses.asdict(recipe("cub_speciarl")), dataclasses.asdict(recipe(name))
    left, right = dotted_settings(main), dotted_settings(other)
    return {key: right[key] for key in right if right[key] != left[key]}


def _run(name: str) -> dict[str, Any]:
    return {"name": name, "output_dir": f"runs/{name}"}


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("cub_speciarl_n5", {"optimizer.num_generations": 5, "optimizer.per_device_batch_size": 5}),
        (
            "cub_speciarl_n15",
            {"optimizer.num_generations": 15, "optimizer.per_device_batch_size": 15},
        ),
        ("cub_binary", {"reward.scheme": "binary"}),
        ("cub_scala1", {"reward.scheme": "scala1"}),
        ("cub_scala2", {"reward.scheme": "scala2"}),
        ("cub_scala3", {"reward.scheme": "scala3"}),
        ("cub_speciarl_single", {"reward.scheme": "speciarl-single"}),
        ("cub_noise5", {"reward.noise": 0.05}),
        ("cub_noise10", {"reward.noise": 0.10}),
        ("cub_noise25", {"reward.noise": 0.25}),
        ("cub_size128", {"data.subset": 128, "optimizer.images_per_step": 128}),
        ("cub_size1024", {"data.subset": 1024}),
        ("cub_size2048", {"data.subset": 2048}),
        ("flowers_speciarl", {"data.dataset": "flowers102", "judge.hierarchy": "flowers102"}),
        ("cub_dr_grpo", {"optimizer.preset": "dr_grpo"}),
        ("cub_dapo", {"optimizer.preset": "dapo"}),
        ("cub_dr_grpo_binary", {"optimizer.preset": "dr_grpo", "reward.scheme": "binary"}),
        ("cub_dapo_binary", {"optimizer.preset": "dapo", "reward.scheme": "binary"}),
        (
            "cub_dapo_ds",
            {
                "optimizer.preset": "dapo",
                "optimizer.dynamic_sampling": True,
                "optimizer.generation_batch_size": 768,
            },
        ),
        (
            "cub_dapo_binary_ds",
            {
                "optimizer.preset": "dapo",
                "reward.scheme": "binary",
                "optimizer.dynamic_sampling": True,
                "optimizer.generation_batch_size": 768,
            },
        ),
    ],
)
def test_each_ablation_changes_only_its_own_settings(name, changes):
    assert _differences(name) == {**_run(name), **changes}


def test_the_second_architecture_recipe_changes_only_the_model():
    assert _differences("qwen3vl8b_speciarl") == {
        **_run("qwen3vl8b_speciarl"),
        "model": "Qwen/Qwen3-VL-8B-Instruct",
    }


def test_size_ablation_steps_never_need_more_images_than_the_set_holds():
    for name in ("cub_size128", "cub_size1024", "cub_size2048", "cub_speciarl"):
        config = recipe(name)
        assert config.optimizer.images_per_step <= config.data.subset


def test_mixed_set_is_500_images_from_each_of_six_datasets():
    config = recipe("mixed_speciarl")
    parts = [PartRequest.parse(text) for text in config.data.parts]
    assert len(parts) == 6
    assert sum(part.count for part in parts) == 3000
    assert {part.count for part in parts} == {500}
    assert {(part.dataset, part.split) for part in parts} == {
        ("cub200", "train"),
        ("fgvc_aircraft", "trainval"),
        ("flowers102", "train"),
        ("food101", "train"),
        ("oxford_pets", "train"),
        ("stanford_cars", "train"),
    }
    # No single hierarchy: the trainer joins the six datasets' hierarchies.
    assert config.judge.hierarchy is None
    changed = {"name", "output_dir", "data.parts", "judge.hierarchy"}
    assert set(_differences("mixed_speciarl")) == changed


def test_synthetic_tiny_is_a_cpu_run_of_the_tiny_model():
    config = recipe("synthetic_tiny")
    assert config.model == "runs/tiny-model"
    assert (config.data.dataset, config.data.subset) == ("synthetic", 64)
    assert config.judge.endpoint is None and config.judge.model is None
    assert config.judge.hierarchy == "synthetic"
    optimizer = config.optimizer
    assert (optimizer.images_per_step, optimizer.num_generations) == (4, 4)
    assert optimizer.per_device_batch_size == 16
    assert (optimizer.max_completion_length, optimizer.overlong_buffer) == (48, 16)
    assert optimizer.max_steps == 4
    assert (config.lora.r, config.lora.alpha) == (8, 16)
    assert config.report_to == []
    assert config.save_steps == 4
    assert config.reward.scheme == "speciarl" and config.optimizer.preset == "grpo"


# --- accelerate launch configs -------------------------------------------------------------------


def test_the_accelerate_configs_are_the_expected_set():
    assert {path.stem for path in ACCELERATE.iterdir()} == ACCELERATE_CONFIGS


def _load_accelerate(name: str) -> Any:
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file

    config = load_config_from_file(str(ACCELERATE / f"{name}.yaml"))
    assert isinstance(config, ClusterConfig)
    return config


@pytest.mark.parametrize(
    ("name", "kind", "processes", "machines"),
    [
        ("single_gpu", "NO", 1, 1),
        ("multi_gpu_ddp", "MULTI_GPU", 4, 1),
        ("deepspeed_zero3", "DEEPSPEED", 4, 1),
        ("fsdp", "FSDP", 4, 1),
        ("multi_node_zero3", "DEEPSPEED", 8, 2),
    ],
)
def test_accelerate_config_loads(name, kind, processes, machines):
    from accelerate.utils import DistributedType

    config = _load_accelerate(name)
    assert config.distributed_type == DistributedType(kind)
    assert (config.num_processes, config.num_machines) == (processes, machines)
    assert config.mixed_precision == "bf16"
    assert config.use_cpu is False


@pytest.mark.parametrize("name", ["deepspeed_zero3", "multi_node_zero3"])
def test_zero3_settings(name):
    settings = _load_accelerate(name).deepspeed_config
    assert settings["zero_stage"] == 3
    assert settings["zero3_init_flag"] is True
    assert settings["zero3_save_16bit_model"] is True
    assert settings["deepspeed_multinode_launcher"] == "standard"
    # The trainer sets these from the recipe; a fixed value here would conflict with it.
    assert "gradient_accumulation_steps" not in settings
    assert "gradient_clipping" not in settings


def test_fsdp2_settings():
    settings = _load_accelerate("fsdp").fsdp_config
    assert settings["fsdp_version"] == 2
    assert settings["fsdp_reshard_after_forward"] is True  # FULL_SHARD in FSDP2 terms
    assert settings["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert "Qwen2_5_VLDecoderLayer" in settings["fsdp_transformer_layer_cls_to_wrap"].split(",")


def test_fsdp_wraps_classes_that_exist_in_qwen2_5_vl():
    modeling = pytest.importorskip("transformers.models.qwen2_5_vl.modeling_qwen2_5_vl")
    names = _load_accelerate("fsdp").fsdp_config["fsdp_transformer_layer_cls_to_wrap"]
    for name in names.split(","):
        assert hasattr(modeling, name)


def test_multi_node_template_has_placeholders():
    config = _load_accelerate("multi_node_zero3")
    assert config.machine_rank == 0
    assert config.main_process_ip == "NODE0_PRIVATE_IP"
    assert config.main_process_port == 29500


@pytest.fixture
def clean_environ():
    """Restore os.environ afterwards: the launch helpers and plugins read and write it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _launch_args(name: str, *extra: str) -> tuple[Any, Any]:
    """``accelerate launch`` argument handling of a config, as the launcher itself does it."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    script = ["-m", "speciarl.cli", "train", "--config", "configs/cub_speciarl.yaml"]
    argv = ["--config_file", str(ACCELERATE / f"{name}.yaml"), *extra, *script]
    args, defaults, _ = _validate_launch_command(launch_command_parser().parse_args(argv))
    assert args.module and args.training_script == "speciarl.cli"
    return args, defaults


def _apply_launcher_env(env: dict[str, str]) -> None:
    for key, value in env.items():
        if key.startswith(("ACCELERATE_", "FSDP_")):
            os.environ[key] = value


@pytest.mark.parametrize("name", sorted(ACCELERATE_CONFIGS))
def test_every_nested_setting_reaches_the_launcher(name):
    """Unknown keys inside deepspeed_config / fsdp_config would be dropped without a word."""
    args, defaults = _launch_args(name)
    for key in defaults.deepspeed_config:
        assert hasattr(args, key), key
    for key in defaults.fsdp_config:
        assert hasattr(args, key if key.startswith("fsdp_") else f"fsdp_{key}"), key


def test_ddp_launch_environment(clean_environ):
    from accelerate.utils.launch import prepare_multi_gpu_env

    args, _ = _launch_args("multi_gpu_ddp")
    assert args.multi_gpu and not args.use_deepspeed and not args.use_fsdp
    env = prepare_multi_gpu_env(args)
    assert args.nproc_per_node == "4"
    assert env["ACCELERATE_MIXED_PRECISION"] == "bf16"


def test_single_gpu_launch_is_one_plain_process():
    args, _ = _launch_args("single_gpu")
    assert not (args.multi_gpu or args.use_deepspeed or args.use_fsdp)
    assert args.num_processes == 1


def test_fsdp_launch_builds_the_fsdp2_plugin(clean_environ):
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env

    args, _ = _launch_args("fsdp")
    assert args.use_fsdp
    _apply_launcher_env(prepare_multi_gpu_env(args))
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2
    assert plugin.reshard_after_forward is True
    wrapped = ["Qwen2_5_VLDecoderLayer", "Qwen2_5_VLVisionBlock"]
    assert plugin.transformer_cls_names_to_wrap == wrapped


@pytest.mark.parametrize(
    ("name", "extra"),
    [("deepspeed_zero3", ()), ("multi_node_zero3", ("--machine_rank", "1"))],
)
def test_deepspeed_launch_builds_a_zero3_plugin(clean_environ, name, extra):
    from accelerate.utils import DeepSpeedPlugin
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    args, defaults = _launch_args(name, *extra)
    assert args.use_deepspeed
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    command, env = prepare_deepspeed_cmd_env(args)
    assert command is None  # the standard launcher: torchrun on each node, no pdsh
    assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "3"
    assert "ACCELERATE_GRADIENT_ACCUMULATION_STEPS" not in env
    assert args.nproc_per_node == "4"
    if name == "multi_node_zero3":
        assert (args.nnodes, args.node_rank) == ("2", 1)
        assert args.rdzv_endpoint == "NODE0_PRIVATE_IP:29500"
    _apply_launcher_env(env)
    plugin = DeepSpeedPlugin()
    assert plugin.zero_stage == 3
    assert plugin.zero3_init_flag is True
    assert plugin.gradient_accumulation_steps == "auto"
    assert plugin.deepspeed_config["zero_optimization"]["stage"] == 3


def test_lora_null_means_full_fine_tuning(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("lora: null\n")
    assert load_config(path).lora is None
    path.write_text("lora: {r: 4}\n")
    assert load_config(path).lora.r == 4
    path.write_text("lora: 3\n")
    with pytest.raises(ConfigError, match="lora must be a section"):
        load_config(path)


# --- numbers in any YAML spelling ----------------------------------------------------------------

SPELLINGS = {"3e-5": 3e-5, "1E-4": 1e-4, "3.0e-5": 3e-5, ".5": 0.5, "1e3": 1000.0, "3.0e5": 3e5}


@pytest.mark.parametrize(("spelling", "value"), SPELLINGS.items())
def test_a_float_setting_reads_every_spelling_of_a_number(tmp_path, spelling, value):
    path = tmp_path / "r.yaml"
    path.write_text(f"optimizer:\n  learning_rate: {spelling}\n  epochs: {spelling}\n")
    config = load_config(path)
    assert config.optimizer.learning_rate == value and config.optimizer.epochs == value
    assert type(config.optimizer.learning_rate) is float
    plain = tmp_path / "plain.yaml"
    plain.write_text("{}\n")
    overridden = load_config(plain, [f"optimizer.learning_rate={spelling}"])
    assert overridden.optimizer.learning_rate == value


@pytest.mark.parametrize("where", ["file", "override"])
def test_a_word_where_a_number_goes_is_a_one_line_error_naming_the_key(tmp_path, where):
    path = tmp_path / "r.yaml"
    path.write_text("optimizer:\n  learning_rate: fast\n" if where == "file" else "{}\n")
    overrides = ["optimizer.learning_rate=fast"] if where == "override" else []
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    assert str(caught.value) == f"{path}: optimizer.learning_rate must be float, got 'fast'"


def test_a_number_where_a_string_goes_stays_as_written(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: 1e3\nmodel: 2.10\ndata:\n  prompt: 007\n")
    config = load_config(path, ["data.split=3.0e5"])
    assert (config.name, config.model, config.data.prompt) == ("1e3", "2.10", "007")
    assert config.data.split == "3.0e5"


def test_an_int_setting_still_refuses_a_float(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("optimizer:\n  max_steps: 1e3\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).endswith("optimizer.max_steps must be int, got 1000.0")


def test_a_written_out_recipe_reads_back_equal(tmp_path):
    from speciarl.train.config import read_recipe, recipe_text

    config = dataclasses.replace(
        recipe("cub_speciarl"), name="1e3", model="2.10", report_to=["tensorboard"]
    )
    path = tmp_path / "r.yaml"
    path.write_text(recipe_text(config))
    assert read_recipe(path) == config  # read_recipe does not need tensorboard installed


# --- accelerate configs and the backends they need -----------------------------------------------

# What each distributed type needs beyond the training install (torch covers DDP and FSDP).
BACKEND_PACKAGES = {"DEEPSPEED": "deepspeed"}


def _extras() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["optional-dependencies"]


def _provides(requirements: list[str], package: str) -> bool:
    return any(re.split(r"[<>=!~\[; ]", line, maxsplit=1)[0] == package for line in requirements)


@pytest.mark.parametrize("name", sorted(ACCELERATE_CONFIGS))
def test_every_backend_a_launch_config_needs_comes_from_an_extra_it_names(name):
    """Installed here or not, the config's header must say how to install what it needs."""
    config = _load_accelerate(name)  # accelerate's own loader: parses, fields valid
    package = BACKEND_PACKAGES.get(config.distributed_type.value)
    if package is None:
        return
    header = "".join(
        line for line in (ACCELERATE / f"{name}.yaml").read_text().splitlines() if line[:1] == "#"
    )
    named = re.findall(r"pip install -e '\.\[([\w,-]+)\]'", header)
    extras = _extras()
    provided = [
        extra
        for group in named
        for extra in group.split(",")
        if _provides(extras.get(extra, []), package)
    ]
    assert provided, f"{name} needs {package}: its header must name an extra that installs it"


def test_every_logger_with_an_extra_has_one_in_pyproject():
    from speciarl.train.config import LOGGER_EXTRAS

    extras = _extras()
    for logger in LOGGER_EXTRAS:
        assert _provides(extras[logger], logger)


def test_an_override_that_is_not_yaml_is_a_one_line_error(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("{}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, ["data.parts=[cub200:train:5"])
    assert str(caught.value) == (
        "override 'data.parts=[cub200:train:5': '[cub200:train:5' is not a YAML value"
    )
