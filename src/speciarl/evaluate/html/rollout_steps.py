"""A training run's rollout log (``RUN/rollouts/rank<R>.jsonl``, every rank), step by step.

A group is the rollouts of one image in one generation round of one step (all ranks together:
a group may be split across processes). Without dynamic sampling a step has one round and
records carry no ``round``; under dynamic sampling (`speciarl.train.dynamic_sampling`) a step
generates in several rounds, records carry their 1-based ``round``, and one image may have a
group in several rounds. Per step: verdict counts over rollouts, the c* of each group (its best
verdict as the reward uses it; ``none`` when no rollout of the group was judged), format
failures, undecided rollouts, mean reward (rewarded rollouts only: an undecided one was masked,
logged with reward null) and mean answer length in words (well-formed answers). Under dynamic
sampling these per-step figures cover every rollout generated in the step, kept for the update
or dropped, as TRL's own metrics do.

The log of a long run holds hundreds of thousands of rollouts with long completions, so it is
read twice, line by line: once for the figures, once for the rows of the groups a page shows.
A line that is not a rollout record (a torn last line after a crash) is skipped and reported;
a record whose verdict, c* or round is not one the trainer writes is an error naming the line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speciarl.evaluate.html.shared import VERDICT_NAMES, unknown_verdict
from speciarl.evaluate.report import LABELS
from speciarl.metrics import UNJUDGED
from speciarl.reward import reference_level
from speciarl.train.rollout_log import ROLLOUT_FOLDER, rank_logs
from speciarl.verdict import VERDICTS

GROUPS_PER_STEP = 8
"""Groups per step the rollouts page embeds by default."""

NO_C_STAR = "none"
"""The c* of a group none of whose rollouts was judged."""

C_STAR_LEVELS: tuple[str, ...] = tuple(
    verdict.value for verdict in VERDICTS if reference_level([verdict]) is verdict
)
"""The values c* takes, worst first: the verdicts `speciarl.reward.reference_level` keeps as
they are (it lifts wrong to abstain and caps more specific at specific)."""

C_STAR_LABELS = (*C_STAR_LEVELS, NO_C_STAR)
"""The c* levels, then groups without one."""

FIRST_ROUND = 1
"""The round of a record that names none: without dynamic sampling a step generates once."""

GroupKey = tuple[int, int, str]
"""A group: (step, generation round, sample id)."""


@dataclass
class StepSummary:
    """The figures of one step."""

    step: int
    rollouts: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    c_stars: dict[tuple[int, str], str | None] = field(default_factory=dict)
    """Each group's c*, by (generation round, sample id)."""
    format_failures: int = 0
    undecided: int = 0
    reward_total: float = 0.0
    rewarded: int = 0
    answer_words: int = 0
    answers: int = 0

    @property
    def groups(self) -> int:
        return len(self.c_stars)

    @property
    def mean_reward(self) -> float | None:
        return self.reward_total / self.rewarded if self.rewarded else None

    @property
    def mean_answer_words(self) -> float | None:
        return self.answer_words / self.answers if self.answers else None

    def verdict_shares(self) -> dict[str, float]:
        return {label: self.verdicts[label] / self.rollouts for label in LABELS}

    def c_star_shares(self) -> dict[str, float]:
        counts = Counter(c or NO_C_STAR for c in self.c_stars.values())
        return {label: counts[label] / self.groups for label in C_STAR_LABELS}

    def add(self, record: dict[str, Any]) -> None:
        self.rollouts += 1
        self.verdicts[record.get("verdict") or UNJUDGED] += 1
        self.c_stars.setdefault(group_key(record)[1:], record.get("c_star"))
        if record.get("answer_status") != "ok":
            self.format_failures += 1
        elif record.get("verdict") is None:
            self.undecided += 1
        if record.get("reward") is not None:
            self.reward_total += float(record["reward"])
            self.rewarded += 1
        if record.get("answer_status") == "ok" and record.get("answer"):
            self.answer_words += len(str(record["answer"]).split())
            self.answers += 1


@dataclass
class RolloutLogSummary:
    """Every step's figures, the files read and the lines that were not rollout records."""

    steps: list[StepSummary]
    files: list[Path]
    skipped: list[str]
    """``file:line: why`` for each line that was not a rollout record."""


def existing_rank_logs(run_dir: Path) -> list[Path]:
    """``RUN/rollouts/rank<R>.jsonl`` in rank order; a clear error when the run has none."""
    folder = run_dir / ROLLOUT_FOLDER
    logs = rank_logs(run_dir)
    if not logs:
        raise ValueError(
            f"{run_dir}: no rollout log ({folder}/rank<R>.jsonl); is it a run folder of "
            "`speciarl train`?"
        )
    return logs


def group_key(record: dict[str, Any]) -> GroupKey:
    """The group a rollout record belongs to."""
    return record["step"], record.get("round", FIRST_ROUND), record["sample_id"]


def _records(logs: list[Path], skipped: list[str] | None = None) -> Iterator[dict[str, Any]]:
    for path in logs:
        with path.open(encoding="utf-8", errors="replace") as stream:
            for number, line in enumerate(stream, start=1):
                problem = None
                try:
                    record = json.loads(line)
                except ValueError:
                    problem = "not JSON (a torn line?)"
                else:
                    if not isinstance(record, dict) or type(record.get("step")) is not int:
                        problem = "not a rollout record (no integer step)"
                    elif not isinstance(record.get("sample_id"), str):
                        problem = "not a rollout record (no sample_id)"
                if problem is None:
                    _check_record(record, f"{path}:{number}")
                    yield record
                elif skipped is not None and line.strip():
                    skipped.append(f"{path}:{number}: {problem}")


def _check_record(record: dict[str, Any], where: str) -> None:
    """A record's verdict, c* and round are ones the trainer writes; anything else would be
    miscounted, so it is named rather than skipped."""
    verdict, c_star = record.get("verdict"), record.get("c_star")
    if verdict is not None and verdict not in VERDICT_NAMES:
        raise unknown_verdict(verdict, where)
    if c_star is not None and c_star not in C_STAR_LEVELS:
        raise ValueError(
            f"{where}: unknown c* {c_star!r}; expected one of {', '.join(C_STAR_LEVELS)} (or none)"
        )
    if "round" in record and (type(record["round"]) is not int or record["round"] < FIRST_ROUND):
        raise ValueError(
            f"{where}: round {record['round']!r} is not a generation round (an integer from "
            f"{FIRST_ROUND})"
        )


def summarize_rollouts(run_dir: Path) -> RolloutLogSummary:
    """Every step's figures, from all ranks' logs."""
    logs = existing_rank_logs(run_dir)
    skipped: list[str] = []
    steps: dict[int, StepSummary] = {}
    for record in _records(logs, skipped):
        step = record["step"]
        steps.setdefault(step, StepSummary(step)).add(record)
    if not steps:
        raise ValueError(f"{run_dir}: the rollout log holds no rollout yet")
    return RolloutLogSummary([steps[step] for step in sorted(steps)], logs, skipped)


def group_rows(logs: list[Path], wanted: set[GroupKey]) -> dict[GroupKey, list[dict[str, Any]]]:
    """The rollout records of the groups ``wanted``, each group in log order (rank by rank)."""
    rows: dict[GroupKey, list[dict[str, Any]]] = {key: [] for key in wanted}
    for record in _records(logs):
        key = group_key(record)
        if key in rows:
            rows[key].append(record)
    return rows


def text_summary(summary: RolloutLogSummary) -> str:
    """One line per step: rollouts, groups, verdict shares, format failures, mean reward and
    answer length, then the lines skipped."""
    short = {"less specific": "less", "more specific": "more"}
    header = ["step", "rollouts", "groups", *(short.get(label, label) for label in LABELS)]
    header += ["format fail", "reward", "answer words"]
    rows = [header]
    for step in summary.steps:
        shares = step.verdict_shares()
        rows.append(
            [
                str(step.step),
                str(step.rollouts),
                str(step.groups),
                *(f"{100 * shares[label]:.0f}%" for label in LABELS),
                f"{100 * step.format_failures / step.rollouts:.1f}%",
                "—" if step.mean_reward is None else f"{step.mean_reward:.3f}",
                "—" if step.mean_answer_words is None else f"{step.mean_answer_words:.1f}",
            ]
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines += [f"skipped {line}" for line in summary.skipped]
    return "\n".join(lines) + "\n"
