"""Image budgets: checked settings, applied by real Qwen2.5-VL processors, recorded by predict."""

import json
import shutil

import pytest
from PIL import Image
from transformers import AutoProcessor

from eval_folders import cli, error_of
from speciarl.evaluate.predict import vllm_engine_arguments
from speciarl.policy.image_budget import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MIN_PIXELS,
    ImageBudget,
    fit_image,
    fit_images,
    image_tokens,
    load_processor,
)
from speciarl.train.config import ConfigError, TrainConfig, read_recipe

SMALL = ImageBudget(min_pixels=784, max_pixels=6272)
"""8 tokens at most: a 3000 x 2000 image becomes 84 x 56 pixels, a 6 x 4 patch grid."""


def image_token_count(processor, image) -> int:
    """Image tokens the processor puts in a prompt holding ``image``."""
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "name it"}]}],
        add_generation_prompt=True,
    )
    ids = processor(text=[text], images=[image], return_tensors="pt")["input_ids"]
    return int((ids == processor.image_token_id).sum())


@pytest.fixture(scope="module")
def qwen_layout(tiny_model, tmp_path_factory):
    """The tiny checkpoint with its processor saved as Qwen2.5-VL's Hub checkpoints save it:
    a ``preprocessor_config.json`` spelling the range as ``min_pixels``/``max_pixels``."""
    folder = tmp_path_factory.mktemp("qwen_layout") / "model"
    shutil.copytree(tiny_model, folder)
    (folder / "processor_config.json").unlink()
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "min_pixels": 3136,
                "max_pixels": 12845056,
                "patch_size": 14,
                "temporal_patch_size": 2,
                "merge_size": 2,
                "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711],
                "image_processor_type": "Qwen2VLImageProcessor",
                "processor_class": "Qwen2_5_VLProcessor",
            }
        )
    )
    return folder


def test_a_budget_is_checked_with_the_names_the_user_wrote():
    assert ImageBudget(9000, 5000).problem("data.min_pixels", "data.max_pixels") == (
        "data.max_pixels must be >= data.min_pixels (5000 < 9000)"
    )
    assert ImageBudget(None, 100).problem("--min-pixels", "--max-pixels") == (
        "--max-pixels must be at least 784 pixels (the smallest image token of any "
        "pixel-budget model), got 100"
    )
    assert ImageBudget(784, 784).problem("a", "b") is None
    assert ImageBudget().processor_kwargs() == {}
    assert ImageBudget(None, 5000).processor_kwargs() == {"max_pixels": 5000}


def test_recipes_default_to_the_budget_and_refuse_a_bad_one(tmp_path):
    assert TrainConfig().data.image_budget == ImageBudget(DEFAULT_MIN_PIXELS, DEFAULT_MAX_PIXELS)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: x\n")
    budget = read_recipe(recipe, ["data.min_pixels=null", "data.max_pixels=50176"])
    assert budget.data.image_budget == ImageBudget(None, 50176)
    with pytest.raises(ConfigError) as error:
        read_recipe(recipe, ["data.min_pixels=9000", "data.max_pixels=5000"])
    assert str(error.value) == (
        f"{recipe}: data.max_pixels must be >= data.min_pixels (5000 < 9000)"
    )


def test_the_cli_refuses_a_bad_budget_in_one_line(tmp_path, tiny_model):
    args = ["predict", "--model", tiny_model, "--datasets", "synthetic", "--out", tmp_path]
    result = cli(*args, "--min-pixels", "9000", "--max-pixels", "5000", code=2)
    assert error_of(result) == "--max-pixels must be >= --min-pixels (5000 < 9000)"


@pytest.mark.parametrize("layout", ["speciarl", "qwen"])
def test_the_processor_resizes_a_large_image_to_the_budget(layout, tiny_model, qwen_layout):
    source = tiny_model if layout == "speciarl" else qwen_layout
    large = Image.new("RGB", (3000, 2000), (90, 140, 30))
    processor = load_processor(str(source), SMALL, padding_side="left")
    output = processor(text=["<|vision_start|><|image_pad|><|vision_end|>"], images=[large])
    assert output["image_grid_thw"].tolist() == [[1, 4, 6]]
    assert image_token_count(processor, large) == 6 == image_tokens(3000, 2000, SMALL)
    # Without a budget the checkpoint's own range applies: 12,845,056 pixels for the Hub layout.
    own = AutoProcessor.from_pretrained(str(source))
    assert image_token_count(own, large) == {"speciarl": 12, "qwen": 7597}[layout]


@pytest.mark.parametrize(("width", "height"), [(500, 375), (375, 500), (1600, 1067), (90, 60)])
def test_token_counts_match_what_the_processor_makes(width, height, qwen_layout):
    budget = ImageBudget(DEFAULT_MIN_PIXELS, DEFAULT_MAX_PIXELS)
    processor = load_processor(str(qwen_layout), budget)
    image = Image.new("RGB", (width, height))
    assert image_token_count(processor, image) == image_tokens(width, height, budget)


def test_images_fitted_to_the_budget_pass_a_wider_processor_unchanged(tiny_model, tmp_path):
    """What vLLM rollouts rely on: vLLM processes the raw image with the checkpoint's own range
    (here 3,136..12,544 pixels), which leaves an image already at the budget's size as it is."""
    budgeted = load_processor(str(tiny_model), ImageBudget(3136, 6272))
    own = AutoProcessor.from_pretrained(str(tiny_model))
    large = Image.new("RGB", (3000, 2000), (200, 10, 10))
    fitted = fit_image(large, ImageBudget(3136, 6272))
    assert fitted.size == (84, 56)
    assert image_token_count(own, fitted) == image_token_count(budgeted, large) == 6
    assert image_token_count(own, large) == 12  # unfitted, vLLM would make other tokens

    import datasets

    rows = datasets.Dataset.from_dict(
        {"image": [large, large.resize((300, 200))], "label": ["a", "b"]},
        features=datasets.Features({"image": datasets.Image(), "label": datasets.Value("string")}),
    )
    served = fit_images(rows, budgeted)
    assert [row["image"].size for row in served] == [(84, 56), (84, 56)]
    assert served[1]["label"] == "b"


@pytest.mark.filterwarnings("ignore:Passing `min_pixels`:FutureWarning")  # transformers' own
@pytest.mark.parametrize("layout", ["speciarl", "qwen"])
def test_the_vllm_engine_gets_the_budget_as_processor_keywords(layout, tiny_model, qwen_layout):
    """vLLM is not installed here. Its Qwen2-VL processing builds the transformers processor
    with the engine's ``mm_processor_kwargs`` as ``from_pretrained`` keywords (and passes them
    to every call); the same keywords must give the budget on both checkpoint layouts."""
    source = str(tiny_model if layout == "speciarl" else qwen_layout)
    arguments = vllm_engine_arguments(source, "runs/x/adapter", SMALL, max_lora_rank=16)
    assert arguments == {
        "model": source,
        "enable_lora": True,
        "max_lora_rank": 16,
        "mm_processor_kwargs": {"min_pixels": 784, "max_pixels": 6272},
    }
    as_vllm_loads_it = AutoProcessor.from_pretrained(source, **arguments["mm_processor_kwargs"])
    large = Image.new("RGB", (3000, 2000))
    assert image_token_count(as_vllm_loads_it, large) == 6
    assert "mm_processor_kwargs" not in vllm_engine_arguments(source, None, ImageBudget())


def test_the_manifest_records_the_budget_and_a_restart_with_another_is_refused(
    tmp_path, tiny_model
):
    out = tmp_path / "out"
    args = ["predict", "--model", tiny_model, "--datasets", "synthetic", "--out", out]
    args += ["--subset", "1", "--max-new-tokens", "2"]
    cli(*args, "--max-pixels", "6272", "--min-pixels", "784")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["predictions"]["image_budget"] == {"min_pixels": 784, "max_pixels": 6272}
    result = cli(*args, code=2)
    assert error_of(result) == (
        f"{out} holds predictions made with other settings "
        f"(image_budget.max_pixels: 6272 here, {DEFAULT_MAX_PIXELS} asked; "
        f"image_budget.min_pixels: 784 here, {DEFAULT_MIN_PIXELS} asked); use another --out folder"
    )
