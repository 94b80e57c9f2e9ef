"""Attribute pre-training of the tiny model's vision tower, on real synthetic images."""

import pytest

from checkpoints import changed_weights
from speciarl.data import synthetic
from speciarl.policy.vision_pretrain import VisionPretraining, pretrain_vision


@pytest.fixture(scope="module")
def colour_set():
    samples = synthetic.load_split("train")[:96]
    info = {entry.name: entry for entry in synthetic.species()}
    colours = list(synthetic.COLOURS)
    return (
        [sample.read_bytes() for sample in samples],
        [(colours.index(info[sample.label].colour),) for sample in samples],
    )


def test_the_tower_learns_an_attribute_and_the_checkpoint_reloads(tmp_path, tiny_model, colour_set):
    from transformers import AutoModelForImageTextToText

    images, colours = colour_set
    accuracy = pretrain_vision(
        tiny_model,
        tmp_path / "seeing",
        images,
        colours,
        (3,),
        VisionPretraining(steps=40, batch_size=32),
        echo=lambda _: None,
    )
    assert accuracy[0] > 0.9  # chance is 1/3
    changed, vision = changed_weights(tiny_model, tmp_path / "seeing")  # the heads are not saved
    assert changed and changed <= vision
    assert AutoModelForImageTextToText.from_pretrained(tmp_path / "seeing") is not None


@pytest.mark.parametrize(
    ("attributes", "classes", "message"),
    [
        ([(0,)] * 3, (3,), "4 images but 3 attribute rows"),
        ([(0,), (1,), (2,), (0, 1)], (3,), "image 3 has 2 attributes, expected 1"),
        ([(0,), (1,), (3,), (0,)], (3,), r"image 2: attribute 0 is 3, outside range\(3\)"),
    ],
)
def test_bad_labels_are_named(tmp_path, tiny_model, colour_set, attributes, classes, message):
    with pytest.raises(ValueError, match=message):
        pretrain_vision(tiny_model, tmp_path, colour_set[0][:4], attributes, classes)


def test_images_of_different_sizes_are_refused(tmp_path, tiny_model):
    small = synthetic.SyntheticConfig(image_size=64)
    images = [synthetic.render("train", 0), synthetic.render("train", 0, small)]
    with pytest.raises(ValueError, match="same image grid"):
        pretrain_vision(tiny_model, tmp_path, images, [(0,), (1,)], (2,))


@pytest.mark.parametrize("field", ["steps", "batch_size"])
def test_settings_reject_empty_budgets(field):
    with pytest.raises(ValueError, match=field):
        VisionPretraining(**{field: 0})
