"""The image budget inside real TRL runs and real prediction: a 3000 x 2000 photo, as large as an
FGVC-Aircraft one, reaches the tiny Qwen2.5-VL at the budget's size (84 x 56 pixels, 6 tokens)."""

import io

import pytest
import yaml
from PIL import Image

from data_fixtures import make_cub
from speciarl.evaluate.predict import GenerationSettings, TransformersBackend
from speciarl.policy.image_budget import ImageBudget
from speciarl.train.config import ConfigError, load_config
from speciarl.train.setup import load_policy

BUDGET = {"min_pixels": 784, "max_pixels": 6272}
GRID = [1, 4, 6]  # one frame of 4 x 6 patches of 14 px: 56 x 84 pixels
TOKENS = 6  # 2 x 2 patches merge into one token


def large_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (3000, 2000), (40, 90, 160)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def large_cub(tmp_path):
    """A CUB-200 root whose images are all 3000 x 2000."""
    folder = make_cub(tmp_path / "data")
    for image in (folder / "images").rglob("*.jpg"):
        image.write_bytes(large_jpeg())
    return tmp_path / "data"


def recipe(folder, model, root, **data):
    content = {
        "name": "budget",
        "model": str(model),
        "output_dir": str(folder / "run"),
        "data": {"dataset": "cub200", "root": str(root), "subset": 2, **BUDGET, **data},
        "optimizer": {
            "images_per_step": 2,
            "num_generations": 2,
            "per_device_batch_size": 4,
            "max_completion_length": 4,
            "overlong_buffer": 1,
            "max_steps": 1,
        },
        "lora": {"r": 4, "alpha": 8},
        "save_steps": 1,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(content))
    return load_config(path)


def image_token_id(model) -> int:
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(str(model)).image_token_id


def test_grpo_rollouts_and_loss_see_the_image_at_the_budget(
    tmp_path, tiny_model, large_cub, monkeypatch
):
    from trl import GRPOTrainer

    from speciarl.train.grpo import train_grpo

    seen = []
    original = GRPOTrainer._generate_and_score_completions

    def recording(self, inputs):
        output = original(self, inputs)
        seen.append(output)
        return output

    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", recording)
    train_grpo(recipe(tmp_path, tiny_model, large_cub))
    [batch] = seen  # one step, one generation batch: 2 images x 2 rollouts
    assert batch["image_grid_thw"].tolist() == [GRID] * 4
    per_prompt = (batch["prompt_ids"] == image_token_id(tiny_model)).sum(dim=1)
    assert per_prompt.tolist() == [TOKENS] * 4


def test_sft_batches_hold_the_image_at_the_budget(tmp_path, tiny_model, large_cub, monkeypatch):
    from trl import SFTTrainer

    from speciarl.train.sft import train_sft

    seen = []
    original = SFTTrainer.compute_loss

    def recording(self, model, inputs, *args, **kwargs):
        seen.append(inputs["image_grid_thw"].tolist())
        return original(self, model, inputs, *args, **kwargs)

    monkeypatch.setattr(SFTTrainer, "compute_loss", recording)
    train_sft(recipe(tmp_path, tiny_model, large_cub))
    assert seen and all(grid == GRID for batch in seen for grid in batch)


def test_vllm_rollouts_refuse_a_budget_their_engine_would_not_keep(tmp_path, tiny_model, large_cub):
    """vLLM resizes within the checkpoint's own range (3,136..12,544 pixels for the tiny model):
    a budget reaching past it is refused when the policy loads, before the weights."""
    wide = recipe(tmp_path, tiny_model, large_cub, max_pixels=50176)
    path = tmp_path / "recipe.yaml"
    with pytest.raises(ConfigError) as error:
        load_policy(load_config(path, ["rollouts.use_vllm=true"]), vllm_rollouts=True)
    assert str(error.value) == (
        "data.min_pixels/data.max_pixels: with rollouts.use_vllm, vLLM resizes images into "
        f"{tiny_model}'s own range [3136, 12544] pixels, so the budget [784, 50176] must lie "
        "inside it (or set rollouts.use_vllm: false)"
    )
    assert load_policy(wide)[1].image_processor.size.longest_edge == 50176  # no vLLM (or SFT)
    inside = load_config(path, ["data.min_pixels=3136", "data.max_pixels=6272"])
    assert load_policy(inside, vllm_rollouts=True)[1].image_processor.size.longest_edge == 6272


def test_prediction_generates_from_the_image_at_the_budget(tiny_model, large_cub):
    backend = TransformersBackend(str(tiny_model), image_budget=ImageBudget(**BUDGET))
    grids = []
    generate = backend.model.generate

    def recording(**inputs):
        grids.append(inputs["image_grid_thw"].tolist())
        return generate(**inputs)

    backend.model.generate = recording
    image = Image.open(io.BytesIO(large_jpeg()))
    settings = GenerationSettings(max_new_tokens=2)
    [[completion]] = backend.generate([image], "name it", settings, [0])
    assert grids == [[GRID]]
    assert completion.truncated  # 2 tokens are too few for the random tiny model to stop


def test_the_dry_run_refuses_a_budget_vllm_rollouts_would_not_keep(tmp_path, tiny_model, large_cub):
    from typer.testing import CliRunner

    from speciarl.cli import app

    recipe(tmp_path, tiny_model, large_cub, max_pixels=50176)
    arguments = ["train", "--config", str(tmp_path / "recipe.yaml"), "--dry-run"]
    refused = CliRunner().invoke(app, [*arguments, "rollouts.use_vllm=true"])
    assert refused.exit_code == 2
    assert "data.min_pixels/data.max_pixels: with rollouts.use_vllm" in refused.stderr
    inside = CliRunner().invoke(
        app, [*arguments, "rollouts.use_vllm=true", "data.min_pixels=3136", "data.max_pixels=6272"]
    )
    assert "checked image budget: inside the pixel range" in inside.stdout, inside.output


def test_a_real_run_with_vllm_rollouts_stops_before_loading_where_vllm_is_missing(
    tmp_path, tiny_model, large_cub
):
    import importlib.util

    from speciarl.train.grpo import train_grpo

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    recipe(tmp_path, tiny_model, large_cub)
    config = load_config(tmp_path / "recipe.yaml", ["rollouts.use_vllm=true"])
    with pytest.raises(ConfigError, match=r"^rollouts.use_vllm: vLLM is not installed here"):
        train_grpo(config)
    assert not (tmp_path / "run" / "checkpoints").exists()
