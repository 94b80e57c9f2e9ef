"""The rollout log of a training run: ``RUN/rollouts/rank<R>.jsonl``, one JSON line per rollout.

The reward function writes it (:class:`RolloutLog`); ``--resume`` trims it
(:func:`trim_to_checkpoint`) so that it holds exactly the rollouts of the steps that produced the
checkpoint's weights.

Under dynamic sampling a step scores several generation rounds, all logged under its ``step``; each
record then says which in ``round`` (1-based), as one image may appear in two rounds.

Which steps those are: a record's ``step`` is ``trainer_state.global_step`` when the reward was
computed. TRL generates and scores a step's completions at the start of the optimiser step, before
``global_step`` counts it, so the rollouts that the update from ``s`` to ``s + 1`` learns from
carry ``step = s``. ``checkpoint-<k>`` is saved once ``global_step`` is ``k``, so its weights come
from the records with ``step < k``; those with ``step >= k`` came from steps the crash discarded
and the resumed run does again. Under gradient accumulation TRL generates once per optimiser step
(its ``steps_per_generation`` defaults to the accumulation, and the recipes never change it), so
each step's records carry that step. Were ``steps_per_generation`` larger, one generation would
serve several steps and be logged at the first; a checkpoint inside it keeps it whole, as TRL
shuffles the rollouts before splitting them and the log cannot tell which fed the later steps
(the resumed run then generates afresh at the checkpoint's step).

A trimmed record is never deleted: it moves to ``RUN/rollouts/discarded/rank<R>.jsonl``, the
record as it was plus a ``discarded`` field saying from which checkpoint the run resumed. A torn
last line (the process was killed while writing it) moves there too, as its raw text under
``torn_line``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from speciarl.atomic import atomic_write
from speciarl.reward import RolloutReward
from speciarl.train.distributed import rank_and_world

log = logging.getLogger(__name__)

ROLLOUT_FOLDER = "rollouts"
DISCARDED_FOLDER = "discarded"
_RANK_FILE = re.compile(r"rank(\d+)\.jsonl")


class RolloutLog:
    """Appends one JSON line per rollout to ``rollouts/rank<R>.jsonl`` in the run folder.

    Each process writes its own file, so no two writers share one; each call ends with a flush
    and fsync, so a crash loses at most the step being written. Rows carry the step; on
    ``--resume`` the steps after the checkpoint leave the log (:func:`trim_to_checkpoint`).
    """

    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / ROLLOUT_FOLDER

    @property
    def path(self) -> Path:
        """This process's file; the rank is read when writing, once the process group exists."""
        rank, _ = rank_and_world()
        return self.folder / f"rank{rank}.jsonl"

    def write(
        self,
        step: int,
        prompt_name: str,
        sample_ids: Sequence[str],
        completions: Sequence[str],
        judged: Sequence[Any],
        rewards: Sequence[RolloutReward],
        *,
        generation_round: int | None = None,
    ) -> None:
        """One record per rollout; ``generation_round`` (dynamic sampling's 1-based round
        within the step) is recorded as ``round`` when given."""
        extra = {} if generation_round is None else {"round": generation_round}
        rows = []
        for sid, text, (answer, judgement), reward in zip(
            sample_ids, completions, judged, rewards, strict=True
        ):
            rows.append(
                {
                    "step": step,
                    "sample_id": sid,
                    "prompt": prompt_name,
                    "completion": text,
                    "answer": answer.text,
                    "answer_status": answer.status.value,
                    "verdict": judgement.verdict.value if judgement.verdict else None,
                    "rewarded_as": reward.verdict.value if reward.verdict else None,
                    "judge": judgement.judge,
                    "cached": judgement.cached,
                    "c_star": reward.reference.value if reward.reference else None,
                    "reward": reward.reward,
                    **extra,
                }
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
            stream.flush()
            os.fsync(stream.fileno())


@dataclass(frozen=True, slots=True)
class Trimmed:
    """What trimming did to one process's log."""

    log: Path
    kept: int
    discarded: int
    torn: bool
    """Whether the log ended in a torn line (moved to the discarded file as raw text)."""
    discarded_steps: tuple[int, ...]


def checkpoint_step(checkpoint: Path) -> int:
    """The ``global_step`` a checkpoint was saved at: its ``trainer_state.json``, else the
    ``<step>`` of its ``checkpoint-<step>`` name."""
    state = checkpoint / "trainer_state.json"
    if state.is_file():
        return int(json.loads(state.read_text(encoding="utf-8"))["global_step"])
    name = re.fullmatch(r"checkpoint-(\d+)", checkpoint.name)
    if name is None:
        raise ValueError(f"{checkpoint}: no trainer_state.json and not a checkpoint-<step> name")
    return int(name.group(1))


def trim_to_checkpoint(run_dir: Path, checkpoint: Path) -> list[Trimmed]:
    """Before resuming from ``checkpoint``: every ``rank*.jsonl`` of the run's rollout log keeps
    the records of the steps before the checkpoint's step; the rest move to the discarded file.
    Call it on one process only, before training starts."""
    return trim_rollouts(run_dir, checkpoint_step(checkpoint), resumed_from=checkpoint.name)


def trim_rollouts(run_dir: Path, step: int, *, resumed_from: str) -> list[Trimmed]:
    """Keep the records with ``step < step`` in each ``RUN/rollouts/rank<R>.jsonl``; move the
    others, and a torn last line, to ``RUN/rollouts/discarded/rank<R>.jsonl``.

    Both files are replaced atomically, the discarded one first, so a crash at any moment loses
    no record. A crash between the two replacements leaves the batch in both; the batch is
    stamped with the log's size and modification time, so trimming again recognises it and does
    not append it twice.
    """
    return [_trim_one(path, step, resumed_from) for path in rank_logs(run_dir)]


def rank_logs(run_dir: Path) -> list[Path]:
    """Every ``RUN/rollouts/rank<R>.jsonl`` of a run, in rank order (none if it has no log)."""
    folder = run_dir / ROLLOUT_FOLDER
    if not folder.is_dir():
        return []
    return sorted(
        (path for path in folder.iterdir() if _RANK_FILE.fullmatch(path.name) and path.is_file()),
        key=lambda path: int(_RANK_FILE.fullmatch(path.name).group(1)),  # type: ignore[union-attr]
    )


def _trim_one(path: Path, step: int, resumed_from: str) -> Trimmed:
    raw = path.read_bytes()
    version = _version(path)
    kept: list[str] = []
    moved: list[dict[str, Any]] = []
    steps: set[int] = set()
    torn = False
    lines = raw.decode("utf-8", errors="replace").splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        whole = line.endswith("\n")
        record = _parse(line)
        if record is not None and record["step"] < step:
            kept.append(line if whole else line + "\n")
            continue
        if record is not None:
            steps.add(record["step"])
            moved.append(record)
        elif line.strip():
            torn = torn or not whole
            moved.append({"torn_line" if not whole else "unreadable_line": line.rstrip("\n")})
            log.warning(
                "%s line %d: %s, moved to the discarded rollouts",
                path,
                number,
                "torn (cut off mid-write)" if not whole else "not a rollout record",
            )
    trimmed = Trimmed(path, len(kept), len(moved), torn, tuple(sorted(steps)))
    if not moved:
        return trimmed
    stamp = {
        "resumed_from": resumed_from,
        "resume_step": step,
        "log_version": version,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    discarded = path.parent / DISCARDED_FOLDER / path.name
    if not _already_moved(discarded, version):
        previous = discarded.read_text(encoding="utf-8") if discarded.is_file() else ""
        if previous and not previous.endswith("\n"):
            previous += "\n"
        with atomic_write(discarded) as stream:
            stream.write(previous)
            for record in moved:
                stream.write(json.dumps({**record, "discarded": stamp}, ensure_ascii=False) + "\n")
    with atomic_write(path) as stream:
        stream.write("".join(kept))
    log.info(
        "resuming from %s (step %d): %d rollout record(s) of steps %s moved from %s to %s",
        resumed_from,
        step,
        len(moved),
        ", ".join(map(str, sorted(steps))) or "none",
        path,
        discarded,
    )
    return trimmed


def _parse(line: str) -> dict[str, Any] | None:
    """A rollout record, or ``None`` for a line that is not one (no integer ``step``)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or type(record.get("step")) is not int:
        return None
    return record


def _version(path: Path) -> str:
    """Which state of the log a discarded batch came from: its size and modification time."""
    info = path.stat()
    return f"{info.st_size}:{info.st_mtime_ns}"


def _already_moved(discarded: Path, version: str) -> bool:
    """Whether the last batch in ``discarded`` came from this very state of the log: a previous
    trim appended it and stopped before replacing the log."""
    if not discarded.is_file():
        return False
    lines = discarded.read_text(encoding="utf-8").splitlines()
    if not lines:
        return False
    try:
        last = json.loads(lines[-1])
    except ValueError:
        return False
    return isinstance(last, dict) and last.get("discarded", {}).get("log_version") == version
