"""The rollouts page of a training run: per step the verdict shares, c* distribution, format
failures, mean reward and answer length (charts and a table), and a browser of each step's
groups — the image, its N answers with verdicts, c* and rewards, the reasoning folded.

A group is one image's rollouts in one generation round of a step (see
`speciarl.evaluate.html.rollout_steps`): under dynamic sampling a step has several rounds, its
figures cover every rollout generated, kept or dropped, and each group shows its round. Per step
at most `GROUPS_PER_STEP` groups are embedded, spread evenly over the step's groups ordered by
c*, then sample id and round (so every c* the step had is likely shown), each rollout's
reasoning cut to `ROLLOUT_REASONING_CHARS`. Images and labels come from the run's built
training set (``RUN/data/train``), else from the shipped dataset the sample ids name, with the
root and source of the run's saved recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from speciarl.evaluate.html.examples import spread
from speciarl.evaluate.html.images import ImageFinder
from speciarl.evaluate.html.rollout_steps import (
    C_STAR_LABELS,
    GROUPS_PER_STEP,
    NO_C_STAR,
    GroupKey,
    RolloutLogSummary,
    group_rows,
    summarize_rollouts,
)
from speciarl.evaluate.html.shared import (
    PAGE_SIZE,
    clipped,
    figure_png,
    png_uri,
    reasoning_of,
    render_page,
    verdict_rank,
    write_page,
)
from speciarl.evaluate.plots import VERDICT_COLOURS
from speciarl.evaluate.report import LABELS
from speciarl.metrics import UNJUDGED

ROLLOUT_REASONING_CHARS = 1500
"""Each rollout's reasoning is cut to this many characters in the page (the log has it all)."""


def write_rollouts_html(run: Path, out: Path, *, groups_per_step: int = GROUPS_PER_STEP) -> Path:
    """Write the rollouts page of run folder ``run`` to ``out``; returns ``out``."""
    if groups_per_step < 1:
        raise ValueError(f"groups per step must be positive, got {groups_per_step}")
    summary = summarize_rollouts(run)
    chosen: set[GroupKey] = {
        (step.step, round_, sample_id)
        for step in summary.steps
        for round_, sample_id in spread(
            sorted(
                step.c_stars,
                key=lambda group: (_c_star_rank(step.c_stars[group]), group[1], group[0]),
            ),
            groups_per_step,
        )
    }
    rows = group_rows(summary.files, chosen)
    finder = _run_images(run)
    thumbnails = finder.thumbnails(sorted({sample_id for _, _, sample_id in chosen}))
    groups = [
        _group_view(key, rows[key], finder.labels.get(key[2]))
        for key in sorted(chosen, key=lambda key: (key[0], key[2], key[1]))
    ]
    html = render_page(
        "rollouts.html.j2",
        title=f"Rollouts of {run}",
        summary=summary,
        table=_step_rows(summary),
        charts=png_uri(figure_png(step_charts(summary))),
        options=[(str(step.step), f"step {step.step}") for step in summary.steps],
        c_star_labels=C_STAR_LABELS,
        groups_per_step=groups_per_step,
        reasoning_chars=ROLLOUT_REASONING_CHARS,
        images=finder.note(),
        page_data={
            "labels": list(LABELS),
            "unjudged": UNJUDGED,
            "no_c_star": NO_C_STAR,
            "groups": groups,
            "thumbnails": thumbnails,
            "page_size": PAGE_SIZE,
        },
    )
    return write_page(out, html)


def _c_star_rank(c_star: str | None) -> int:
    return verdict_rank(c_star or UNJUDGED)


def _run_images(run: Path) -> ImageFinder:
    """Images of the run's built training set, else of the dataset its recipe names."""
    from speciarl.train.config import ConfigError, read_recipe
    from speciarl.train.run_folder import COMMANDS, recipe_file
    from speciarl.train.setup import DATA_FOLDER

    root, source = None, "local"
    for command in COMMANDS:
        if recipe_file(run, command).is_file():
            try:
                data = read_recipe(recipe_file(run, command)).data
            except ConfigError:
                break  # the built set may still hold the images; a page never fails for them
            root, source = (Path(data.root) if data.root else None), data.source
            break
    return ImageFinder(built=run / DATA_FOLDER, root=root, source=source)


def _group_view(key: GroupKey, rows: list[dict[str, Any]], label: str | None) -> dict[str, Any]:
    """One group as the page shows it; ``round`` only when the log records rounds (dynamic
    sampling), ``None`` otherwise."""
    step, _, sample_id = key
    rewards = [row["reward"] for row in rows if row.get("reward") is not None]
    return {
        "step": step,
        "round": rows[0].get("round"),
        "id": sample_id,
        "label": label or "(label not found)",
        "c_star": rows[0].get("c_star") or NO_C_STAR,
        "mean_reward": sum(rewards) / len(rewards) if rewards else None,
        "rollouts": [
            {
                "answer": row.get("answer"),
                "verdict": row.get("verdict") or UNJUDGED,
                "reward": row.get("reward"),
                "status": _status(row),
                "reasoning": clipped(reasoning_of(row.get("completion")), ROLLOUT_REASONING_CHARS),
            }
            for row in rows
        ],
    }


def _status(row: dict[str, Any]) -> str:
    if row.get("answer_status") != "ok":
        return f"format failure: {row.get('answer_status')}"
    if row.get("verdict") is None:
        return "undecided (masked, no reward)"
    cached = ", from the cache" if row.get("cached") else ""
    return f"judged by {row.get('judge')}{cached}"


def _step_rows(summary: RolloutLogSummary) -> list[dict[str, Any]]:
    rows = []
    for step in summary.steps:
        shares, c_stars = step.verdict_shares(), step.c_star_shares()
        rows.append(
            {
                "step": step.step,
                "rollouts": step.rollouts,
                "groups": step.groups,
                "shares": [f"{100 * shares[label]:.0f} %" for label in LABELS],
                "c_stars": [f"{100 * c_stars[label]:.0f} %" for label in C_STAR_LABELS],
                "format_failures": f"{100 * step.format_failures / step.rollouts:.1f} %",
                "undecided": step.undecided,
                "reward": "—" if step.mean_reward is None else f"{step.mean_reward:.3f}",
                "words": "—" if step.mean_answer_words is None else f"{step.mean_answer_words:.1f}",
            }
        )
    return rows


def step_charts(summary: RolloutLogSummary) -> Any:
    """Four panels over steps: verdict shares and c* shares (stacked areas, the plots'
    colours), format-failure rate, and mean reward with mean answer length."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    steps = [step.step for step in summary.steps]
    figure, ((verdicts, c_stars), (failures, rewards)) = plt.subplots(
        2, 2, figsize=(12, 7), sharex=True, layout="constrained"
    )
    shares = [step.verdict_shares() for step in summary.steps]
    verdicts.stackplot(
        steps,
        [[share[label] for share in shares] for label in LABELS],
        labels=LABELS,
        colors=[VERDICT_COLOURS[label] for label in LABELS],
    )
    verdicts.set_title("verdict shares (rollouts)")
    verdicts.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    group_shares = [step.c_star_shares() for step in summary.steps]
    c_stars.stackplot(
        steps,
        [[share[label] for share in group_shares] for label in C_STAR_LABELS],
        labels=C_STAR_LABELS,
        colors=[VERDICT_COLOURS.get(label, VERDICT_COLOURS[UNJUDGED]) for label in C_STAR_LABELS],
    )
    c_stars.set_title("c* of the groups")
    c_stars.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    for axes in (verdicts, c_stars):
        axes.set_ylim(0, 1)
        axes.margins(x=0)
    failures.plot(steps, [s.format_failures / s.rollouts for s in summary.steps], marker=".")
    failures.set_title("format-failure rate")
    failures.set_ylim(bottom=0)
    failures.set_xlabel("step")
    rewards.plot(steps, [s.mean_reward for s in summary.steps], marker=".", label="mean reward")
    rewards.set_title("mean reward (left) and answer words (right)")
    rewards.set_xlabel("step")
    words = rewards.twinx()
    words.plot(steps, [s.mean_answer_words for s in summary.steps], color="tab:orange", marker=".")
    words.set_ylim(bottom=0)
    for axes in (failures, rewards):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure
