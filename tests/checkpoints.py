"""Reading saved checkpoints in tests: which weights a training step changed."""

from pathlib import Path


def changed_weights(before: Path, after: Path) -> tuple[set[str], set[str]]:
    """The names of the weights that differ between two checkpoint folders, and of the vision
    tower's weights (of ``before``)."""
    from safetensors.torch import load_file

    old = load_file(str(before / "model.safetensors"))
    new = load_file(str(after / "model.safetensors"))
    assert old.keys() == new.keys(), "both checkpoints must hold the same weights"
    changed = {name for name in old if not old[name].equal(new[name])}
    return changed, {name for name in old if ".visual." in f".{name}"}
