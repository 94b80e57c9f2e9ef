"""The paper's recipes start on a fresh install: no logger needed, and a launch that needs what
is not installed (a logger, DeepSpeed) stops in one line, before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from speciarl.cli import app
from speciarl.train.config import TrainConfig, check_loggers, load_config
from test_train_e2e import recipe

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture
def installed_loggers(monkeypatch):
    """Pretend exactly these loggers are installed, whatever this machine has."""
    from transformers.integrations import integration_utils

    def pretend(*names: str) -> None:
        monkeypatch.setattr(
            integration_utils, "get_available_reporting_integrations", lambda: names
        )

    return pretend


def test_no_logger_by_default_and_in_no_shipped_recipe():
    assert TrainConfig().report_to == []
    for path in CONFIGS.glob("*.yaml"):
        assert load_config(path).report_to == [], path.name


@pytest.mark.parametrize(
    ("logger", "install"),
    [
        ("tensorboard", "pip install -e '.[tensorboard]'"),
        ("wandb", "pip install -e '.[wandb]'"),
        ("comet_ml", "pip install comet-ml"),
    ],
)
def test_a_logger_that_is_not_installed_fails_at_load_time(
    tmp_path, installed_loggers, logger, install
):
    installed_loggers()
    path = tmp_path / "r.yaml"
    path.write_text(f"report_to: [{logger}]\n")
    result = runner.invoke(app, ["train", "--config", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}: report_to names {logger}, which is not installed: {install} "
        "(or drop it from report_to)\n"
    )


def test_an_installed_logger_and_an_unknown_one(tmp_path, installed_loggers):
    installed_loggers("tensorboard")
    check_loggers(["tensorboard"])
    path = tmp_path / "r.yaml"
    path.write_text("report_to: [tensorboard]\n")
    assert load_config(path).report_to == ["tensorboard"]
    path.write_text("report_to: [tensorbord]\n")
    result = runner.invoke(app, ["train", "--config", str(path), "--dry-run"])
    assert result.exit_code == 2
    assert "report_to: unknown logger 'tensorbord'; known: " in result.stderr
    assert "tensorboard" in result.stderr and len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize("command", ["train", "sft"])
def test_a_deepspeed_launch_without_deepspeed_stops_before_anything_loads(
    tmp_path, tiny_model, monkeypatch, command
):
    import accelerate.utils

    monkeypatch.setattr(accelerate.utils, "is_deepspeed_available", lambda: False)
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # what accelerate launch sets
    path = recipe(tmp_path, tiny_model)
    result = runner.invoke(app, [command, "--config", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: this is a DeepSpeed launch (ACCELERATE_USE_DEEPSPEED=true, from the accelerate "
        "config) but deepspeed is not installed: pip install -e '.[deepspeed]'\n"
    )
    assert not (tmp_path / "run").exists()  # no data built, no recipe saved, no model loaded
