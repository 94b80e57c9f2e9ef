"""``--resume`` trims the rollout log to the checkpoint's steps; the rest is kept apart."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from speciarl.train import rollout_log
from speciarl.train.rollout_log import checkpoint_step, trim_rollouts, trim_to_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def record(step: int, sid: str = "s0", **extra) -> dict:
    return {"step": step, "sample_id": sid, "completion": f"c{step}{sid}", "reward": 0.0, **extra}


def write_log(run: Path, rank: int, steps: list[int], per_step: int = 2, tail: str = "") -> Path:
    path = run / "rollouts" / f"rank{rank}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [record(s, f"r{rank}i{i}") for s in steps for i in range(per_step)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + tail)
    return path


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def checkpoint(run: Path, step: int) -> Path:
    folder = run / "checkpoints" / f"checkpoint-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    return folder


def test_every_rank_keeps_the_steps_before_the_checkpoint(tmp_path):
    run = tmp_path / "run"
    for rank in (0, 1, 2):
        write_log(run, rank, [0, 1, 2, 3, 4, 5, 6])
    (run / "rollouts" / "notes.jsonl").write_text("not a log\n")
    done = trim_to_checkpoint(run, checkpoint(run, 4))
    assert [(t.log.name, t.kept, t.discarded, t.torn) for t in done] == [
        (f"rank{rank}.jsonl", 8, 6, False) for rank in (0, 1, 2)
    ]
    assert all(t.discarded_steps == (4, 5, 6) for t in done)
    for rank in (0, 1, 2):
        assert [row["step"] for row in read(run / "rollouts" / f"rank{rank}.jsonl")] == [
            0, 0, 1, 1, 2, 2, 3, 3
        ]  # fmt: skip
        moved = read(run / "rollouts" / "discarded" / f"rank{rank}.jsonl")
        assert [row["step"] for row in moved] == [4, 4, 5, 5, 6, 6]
        assert all(row["sample_id"].startswith(f"r{rank}") for row in moved)
        assert {row["discarded"]["resumed_from"] for row in moved} == {"checkpoint-4"}
        assert {row["discarded"]["resume_step"] for row in moved} == {4}
    assert (run / "rollouts" / "notes.jsonl").read_text() == "not a log\n"  # not a rank log
    assert not list((run / "rollouts").glob(".*.tmp")) and not list(run.rglob("*.tmp"))


def test_a_torn_last_line_moves_as_raw_text(tmp_path):
    run = tmp_path / "run"
    path = write_log(run, 0, [0, 1, 2], tail='{"step": 2, "sample_id": "r0i2", "compl')
    [done] = trim_rollouts(run, 2, resumed_from="checkpoint-2")
    assert (done.kept, done.discarded, done.torn, done.discarded_steps) == (4, 3, True, (2,))
    assert [row["step"] for row in read(path)] == [0, 0, 1, 1]
    moved = read(run / "rollouts" / "discarded" / "rank0.jsonl")
    assert moved[-1]["torn_line"] == '{"step": 2, "sample_id": "r0i2", "compl'
    assert moved[-1]["discarded"]["resumed_from"] == "checkpoint-2"
    assert path.read_text().endswith("\n")  # the next run's appends start on their own line


def test_a_torn_line_is_moved_even_when_nothing_else_is(tmp_path):
    run = tmp_path / "run"
    path = write_log(run, 0, [0, 1], tail='{"st')
    [done] = trim_rollouts(run, 2, resumed_from="checkpoint-2")
    assert (done.kept, done.discarded, done.torn) == (4, 1, True)
    assert len(read(path)) == 4
    assert read(run / "rollouts" / "discarded" / "rank0.jsonl")[0]["torn_line"] == '{"st'


def test_nothing_to_trim_leaves_the_log_untouched(tmp_path):
    run = tmp_path / "run"
    path = write_log(run, 0, [0, 1, 2, 3])
    before = (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino)
    [done] = trim_to_checkpoint(run, checkpoint(run, 4))
    assert (done.kept, done.discarded) == (8, 0)
    assert (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_ino) == before
    assert not (run / "rollouts" / "discarded").exists()
    assert trim_rollouts(tmp_path / "no-run", 4, resumed_from="checkpoint-4") == []


def test_a_second_resume_appends_to_the_discarded_file(tmp_path):
    run = tmp_path / "run"
    path = write_log(run, 0, [0, 1, 2, 3, 4, 5])
    trim_to_checkpoint(run, checkpoint(run, 4))
    with path.open("a") as stream:  # the resumed run logs steps 4..9, then dies again
        stream.write("".join(json.dumps(record(s, "again")) + "\n" for s in range(4, 10)))
    trim_to_checkpoint(run, checkpoint(run, 8))
    assert [row["step"] for row in read(path)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 5, 6, 7]
    moved = read(run / "rollouts" / "discarded" / "rank0.jsonl")
    assert [(row["step"], row["discarded"]["resumed_from"]) for row in moved] == [
        (4, "checkpoint-4"), (4, "checkpoint-4"), (5, "checkpoint-4"), (5, "checkpoint-4"),
        (8, "checkpoint-8"), (9, "checkpoint-8"),
    ]  # fmt: skip


def test_a_crash_between_the_two_replacements_loses_nothing_and_duplicates_nothing(
    tmp_path, monkeypatch
):
    run = tmp_path / "run"
    path = write_log(run, 0, [0, 1, 2, 3])
    original = path.read_text()
    real = rollout_log.atomic_write

    def dies_on_the_log(target, **kwargs):
        if Path(target) == path:
            raise KeyboardInterrupt("killed")
        return real(target, **kwargs)

    monkeypatch.setattr(rollout_log, "atomic_write", dies_on_the_log)
    with pytest.raises(KeyboardInterrupt):
        trim_rollouts(run, 2, resumed_from="checkpoint-2")
    assert path.read_text() == original  # the log untouched, its records already moved
    assert len(read(run / "rollouts" / "discarded" / "rank0.jsonl")) == 4
    monkeypatch.setattr(rollout_log, "atomic_write", real)
    trim_rollouts(run, 2, resumed_from="checkpoint-2")  # the next --resume
    assert [row["step"] for row in read(path)] == [0, 0, 1, 1]
    moved = read(run / "rollouts" / "discarded" / "rank0.jsonl")
    assert [row["step"] for row in moved] == [2, 2, 3, 3]  # once, not twice


def test_lines_that_are_no_record_are_moved_not_kept_or_lost(tmp_path):
    run = tmp_path / "run"
    path = write_log(run, 0, [0, 1])
    with path.open("a") as stream:
        stream.write("garbage\n{}\n")
    [done] = trim_rollouts(run, 2, resumed_from="checkpoint-2")
    assert (done.kept, done.discarded, done.torn) == (4, 2, False)
    moved = read(run / "rollouts" / "discarded" / "rank0.jsonl")
    assert [row["unreadable_line"] for row in moved] == ["garbage", "{}"]


def test_the_checkpoint_step_comes_from_its_trainer_state_or_its_name(tmp_path):
    assert checkpoint_step(checkpoint(tmp_path, 12)) == 12
    bare = tmp_path / "checkpoint-7"
    bare.mkdir()
    assert checkpoint_step(bare) == 7


# The reported fault, end to end: the synthetic_tiny recipe, 12 steps, a checkpoint every 4,
# killed with SIGKILL during step 6 and resumed.

SETTINGS = ["optimizer.max_steps=12", "save_steps=4"]


def train(model: Path, run: Path, *extra: str) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "speciarl.cli", "train", "--config", "configs/synthetic_tiny.yaml",
        f"model={model}", f"output_dir={run}", *SETTINGS, *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def logged_steps(run: Path) -> Counter[int]:
    path = run / "rollouts" / "rank0.jsonl"
    if not path.is_file():
        return Counter()
    whole = path.read_text().split("\n")[:-1]  # not a line still being written
    return Counter(json.loads(line)["step"] for line in whole)


def kill_at_step(process: subprocess.Popen, run: Path, step: int, timeout: float = 600) -> float:
    """SIGKILL the run as soon as its rollout log holds a record of ``step``; returns when."""
    deadline = time.monotonic() + timeout
    while step not in logged_steps(run):
        if process.poll() is not None:
            pytest.fail(f"training ended before step {step}:\n{process.stdout.read()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no step {step} within {timeout} s")
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return time.monotonic()


def finish(process: subprocess.Popen, timeout: float = 600) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def test_a_run_killed_during_step_6_and_resumed_logs_each_step_once(tmp_path, tiny_model):
    run = tmp_path / "run"
    # Killed before the first checkpoint: --resume has nothing to continue and says so.
    early = train(tiny_model, run)
    kill_at_step(early, run, 1)
    assert not (run / "checkpoints").exists() or not any((run / "checkpoints").iterdir())
    before = (run / "rollouts" / "rank0.jsonl").read_bytes()
    refused = finish_refused(train(tiny_model, run, "--resume"))
    assert "--resume found no checkpoint" in refused and "--overwrite" in refused
    assert (run / "rollouts" / "rank0.jsonl").read_bytes() == before  # nothing moved or lost

    # The reported fault: a fresh run (--overwrite) killed during step 6, then resumed.
    started = time.monotonic()
    first = train(tiny_model, run, "--overwrite")
    killed = kill_at_step(first, run, 6)
    saved = (run / "checkpoints" / "checkpoint-4").stat().st_mtime
    lost_s = time.time() - (time.monotonic() - killed) - saved
    crashed = logged_steps(run)
    assert {0, 1, 2, 3, 4, 5, 6} <= set(crashed) and max(crashed) == 6
    assert not (run / "checkpoints" / "checkpoint-8").exists()
    resumed_at = time.monotonic()
    finish(train(tiny_model, run, "--resume"))
    done = time.monotonic()

    rows = [json.loads(line) for line in (run / "rollouts" / "rank0.jsonl").open()]
    assert Counter(row["step"] for row in rows) == {step: 16 for step in range(12)}
    moved = [json.loads(line) for line in (run / "rollouts" / "discarded" / "rank0.jsonl").open()]
    assert {row.get("step") for row in moved} <= {4, 5, 6, None}
    assert sum(row.get("step") in (4, 5) for row in moved) == 32  # steps 4 and 5 whole
    assert 1 <= sum(row.get("step") == 6 for row in moved) <= 16
    assert {row["discarded"]["resumed_from"] for row in moved} == {"checkpoint-4"}
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
    assert (run / "checkpoints" / "checkpoint-12").is_dir()
    judged = sum(row.get("judge") is not None for row in moved)
    print(
        f"\ncrash cost: {lost_s:.1f} s of steps after checkpoint-4 redone, "
        f"{len(moved)} rollouts re-generated and re-scored ({judged} pairs re-judged); "
        f"first run {killed - started:.1f} s until the kill, resumed run {done - resumed_at:.1f} s"
    )


def finish_refused(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0, output[-3000:]
    return output
