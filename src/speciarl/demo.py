"""The paper in miniature, on a CPU: one command from a random tiny model to the results table.

1. A tiny Qwen2.5-VL is built locally; its vision tower is pre-trained on what the shapes look
   like (shape, colour, marking), then the model is pre-trained with SFT on the synthetic
   benchmark, tower frozen, with answers drawn at mixed levels of the hierarchy, so that, like
   real models, it often answers more generically than it could. Each training image is asked
   with one of several policy prompts, and the level mix follows what that prompt asks for
   ("be specific" leans to species), so that each prompt means what it says.
2. From that base, with the same budget: GRPO with the static binary reward (the paper's RFT
   baseline) and GRPO with the SpeciaRL reward; and SFT on species labels.
3. Every model is evaluated on the test split (the base also with the "be specific" prompt and
   as best-of-N), and the paper-style table and both plots are written to the run folder.

Each stage is skipped when its output exists, so an interrupted demo resumes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from speciarl.atomic import atomic_write
from speciarl.echo import Echo
from speciarl.verdict import Verdict

SETTINGS_FILE = "settings.json"
STAGE_DONE = "stage-done.json"


class DemoError(Exception):
    """The run folder cannot be used for this demo."""


LEVELS = ("species", "family", "order")


@dataclass(frozen=True)
class PromptLevels:
    """One policy prompt of the base's SFT: the share of training images asked with it and the
    share of their answers at species, family and order level."""

    prompt: str
    share: float
    levels: tuple[float, float, float]


BASE_PROMPTS = (
    PromptLevels("general", 0.5, (0.5, 0.35, 0.15)),
    PromptLevels("be_specific", 0.25, (0.85, 0.12, 0.03)),
    PromptLevels("high_precision", 0.25, (0.15, 0.5, 0.35)),
)
"""The general prompt's mix makes a base that often answers more generically than it could;
"be specific" leans to species and "high precision" to family, so the base learns that the
instruction matters in both directions."""


@dataclass(frozen=True)
class DemoSettings:
    """Sizes and budgets of the demo; ``QUICK`` is the few-minute version CI runs."""

    train_images: int = 1920
    test_images: int = 960
    model_size: str = "small"
    vision_steps: int = 80
    base_steps: int = 150
    base_learning_rate: float = 1e-3
    base_prompts: tuple[PromptLevels, ...] = BASE_PROMPTS
    species_steps: int = 40
    rl_steps: int = 60
    rl_learning_rate: float = 1e-4
    images_per_step: int = 8
    rollouts: int = 8
    best_of: int = 8
    max_new_tokens: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        from speciarl.prompts import load_prompt

        for taught in self.base_prompts:
            load_prompt(taught.prompt)  # an unknown name fails here, not after an hour
            if abs(sum(taught.levels) - 1) > 1e-9 or len(taught.levels) != len(LEVELS):
                raise DemoError(
                    f"base prompt {taught.prompt}: levels must be 3 shares summing to 1"
                )
        if abs(sum(taught.share for taught in self.base_prompts) - 1) > 1e-9:
            raise DemoError("the shares of the base prompts must sum to 1")


QUICK = DemoSettings(
    train_images=160,
    test_images=48,
    vision_steps=20,
    base_steps=30,
    species_steps=4,
    rl_steps=3,
    images_per_step=4,
    rollouts=4,
    best_of=4,
)


@dataclass(frozen=True)
class Entry:
    """One row of the results table: which model, which prompt, how many predictions."""

    name: str
    model: str
    prompt: str = "general"
    n: int = 1

    @property
    def slug(self) -> str:
        """Its folder name under ``eval/``."""
        kept = "".join(ch if ch.isalnum() else "-" for ch in self.name.lower())
        return "-".join(part for part in kept.split("-") if part)


def run_demo(out: Path, settings: DemoSettings = DemoSettings(), echo: Echo = print) -> str:
    """Run every stage (skipping finished ones); returns the Markdown results table."""
    out.mkdir(parents=True, exist_ok=True)
    _claim_folder(out, settings)
    base = build_base(out, settings, echo)
    species = _stage(
        out / "sft-species",
        echo,
        "SFT on species labels",
        lambda d: _sft(d, base, settings, settings.species_steps, None),
    )
    binary = _stage(
        out / "rft-binary",
        echo,
        "GRPO with the static binary reward",
        lambda d: _grpo(d, base, settings, "binary"),
    )
    speciarl = _stage(
        out / "speciarl",
        echo,
        "GRPO with the SpeciaRL reward",
        lambda d: _grpo(d, base, settings, "speciarl"),
    )
    entries = [
        Entry("base", str(base)),
        Entry("base + be specific", str(base), prompt="be_specific"),
        Entry(f"base best-of-{settings.best_of}", str(base), n=settings.best_of),
        Entry("SFT on species", str(species)),
        Entry("RFT (binary reward)", str(binary)),
        Entry("SpeciaRL", str(speciarl)),
    ]
    reports = [_evaluate(out / "eval", entry, settings, echo) for entry in entries]
    table = _write_results(out, entries, reports, settings)
    _write_pages(out, echo)
    return table


def build_base(out: Path, settings: DemoSettings, echo: Echo = print) -> Path:
    """The demo's first three stages in ``out`` (each skipped when done): the tiny model, its
    vision tower pre-trained, and the base SFT'd at mixed levels under mixed prompts. Benchmarks
    that need a policy which answers in format start from it."""
    tiny = _stage(
        out / "tiny-model",
        echo,
        f"building the {settings.model_size} tiny model",
        lambda d: _tiny_model(d, settings),
    )
    seeing = _stage(
        out / "vision",
        echo,
        "pre-training the vision tower on shape, colour and marking",
        lambda d: _pretrain_vision(d, tiny, settings, echo),
    )
    return _stage(
        out / "base",
        echo,
        "pre-training the base (SFT, mixed levels)",
        lambda d: _sft(
            d,
            seeing,
            settings,
            settings.base_steps,
            mixed_level_target(settings),
            base_prompt(settings),
        ),
    )


def _claim_folder(out: Path, settings: DemoSettings) -> None:
    """Record the settings of the run in ``out``, or refuse one with other settings: its
    finished stages would otherwise be reused for a different demo."""
    record = out / SETTINGS_FILE
    wanted = json.loads(json.dumps(asdict(settings)))
    if record.is_file():
        found = json.loads(record.read_text(encoding="utf-8"))
        if found != wanted:
            changed = sorted(
                key for key in wanted.keys() | found.keys() if found.get(key) != wanted.get(key)
            )
            raise DemoError(
                f"{out} holds a demo run with other settings ({', '.join(changed)} differ); "
                "choose another --out or delete that folder"
            )
        return
    with atomic_write(record) as stream:
        json.dump(wanted, stream, indent=2)


def base_prompt(settings: DemoSettings) -> Callable[[dict[str, Any]], str]:
    """The policy prompt a base-SFT row is asked with, fixed per image by its id."""
    names = tuple(taught.prompt for taught in settings.base_prompts)
    shares = tuple(taught.share for taught in settings.base_prompts)

    def prompt_of(row: dict[str, Any]) -> str:
        return _draw(f"{settings.seed}:prompt:{row['sample_id']}", shares, names)

    return prompt_of


def mixed_level_target(settings: DemoSettings) -> Callable[[dict[str, Any]], str]:
    """Answers at species, family or order level, the level fixed per image by its id and
    drawn from the mix of the prompt :func:`base_prompt` gives the image."""
    from speciarl.data.synthetic import species
    from speciarl.train.sft import target_text

    by_name = {info.name: info for info in species()}
    prompt_of = base_prompt(settings)
    levels = {taught.prompt: taught.levels for taught in settings.base_prompts}

    def target(row: dict[str, Any]) -> str:
        info = by_name[row["label"]]
        level = _draw(f"{settings.seed}:{row['sample_id']}", levels[prompt_of(row)])
        return target_text(
            {"species": info.name, "family": info.family, "order": info.order}[level]
        )

    return target


def _draw(key: str, weights: tuple[float, ...], choices: tuple[str, ...] = LEVELS) -> str:
    """One of ``choices`` with the given probabilities, fixed by ``key``."""
    fraction = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    for choice, weight in zip(choices, weights, strict=True):
        if fraction < weight:
            return choice
        fraction -= weight
    return choices[-1]


def _tiny_model(folder: Path, settings: DemoSettings) -> Path:
    from speciarl.policy.tiny import SPECS, build_tiny_model

    spec = replace(SPECS[settings.model_size], seed=settings.seed)
    return build_tiny_model(folder / "model", spec)


def _pretrain_vision(folder: Path, model: Path, settings: DemoSettings, echo: Echo) -> Path:
    from speciarl.data import synthetic
    from speciarl.data.prepare import select_samples
    from speciarl.policy.vision_pretrain import VisionPretraining, pretrain_vision

    samples = select_samples("synthetic", "train", subset=settings.train_images, seed=settings.seed)
    info = {entry.name: entry for entry in synthetic.species()}
    colours = list(synthetic.COLOURS)
    drawn = [info[sample.label] for sample in samples]
    attributes = [
        (
            synthetic.ORDERS.index(looks.order),
            colours.index(looks.colour),
            synthetic.MARKINGS.index(looks.marking),
        )
        for looks in drawn
    ]
    accuracy = pretrain_vision(
        model,
        folder / "model",
        [sample.read_bytes() for sample in samples],
        attributes,
        (len(synthetic.ORDERS), len(colours), len(synthetic.MARKINGS)),
        VisionPretraining(steps=settings.vision_steps, seed=settings.seed),
        echo,
    )
    names = ("shape", "colour", "marking")
    echo(
        "vision pre-training accuracy: "
        + ", ".join(f"{n} {a:.2f}" for n, a in zip(names, accuracy, strict=True))
    )
    return folder / "model"


def _stage(folder: Path, echo: Echo, title: str, train: Callable[[Path], Path]) -> Path:
    """Run ``train`` into ``folder`` unless a finished run left its marker there.

    The marker is written last, atomically: a model folder alone may be half saved, so a stage
    without it trains again from the start (overwriting what its interrupted run left).
    """
    marker = folder / STAGE_DONE
    if marker.is_file():
        echo(f"{title}: done before")
        return folder / json.loads(marker.read_text(encoding="utf-8"))["model"]
    echo(title)
    model = train(folder)
    with atomic_write(marker) as stream:
        json.dump({"model": str(model.relative_to(folder))}, stream)
    return model


def _recipe(folder: Path, model: Path, settings: DemoSettings, **changes: Any) -> Any:
    from speciarl.train.config import DataSettings, JudgeSettings, TrainConfig

    config = TrainConfig(
        name=folder.name,
        model=str(model),
        output_dir=str(folder),
        seed=settings.seed,
        data=DataSettings(
            dataset="synthetic", split="train", subset=settings.train_images, seed=settings.seed
        ),
        judge=JudgeSettings(hierarchy="synthetic"),
        lora=None,
        report_to=[],
        logging_steps=5,
    )
    return replace(config, **changes).validate()


def _sft(
    folder: Path,
    model: Path,
    settings: DemoSettings,
    steps: int,
    target: Callable[[dict[str, Any]], str] | None,
    prompt_of: Callable[[dict[str, Any]], str] | None = None,
) -> Path:
    from speciarl.train.config import OptimizerSettings
    from speciarl.train.sft import label_target, train_sft

    optimizer = OptimizerSettings(
        learning_rate=settings.base_learning_rate,
        per_device_batch_size=32,
        max_steps=steps,
        epochs=1000.0,
    )
    config = _recipe(folder, model, settings, optimizer=optimizer, save_steps=steps)
    return train_sft(config, overwrite=True, target=target or label_target, prompt_of=prompt_of)


def _grpo(folder: Path, model: Path, settings: DemoSettings, scheme: str) -> Path:
    from speciarl.train.config import OptimizerSettings, RewardSettings
    from speciarl.train.grpo import train_grpo

    optimizer = OptimizerSettings(
        learning_rate=settings.rl_learning_rate,
        num_generations=settings.rollouts,
        images_per_step=settings.images_per_step,
        per_device_batch_size=settings.images_per_step * settings.rollouts,
        max_completion_length=settings.max_new_tokens,
        overlong_buffer=settings.max_new_tokens // 4,
        max_steps=settings.rl_steps,
        epochs=1000.0,
    )
    config = _recipe(
        folder,
        model,
        settings,
        optimizer=optimizer,
        reward=RewardSettings(scheme=scheme),
        save_steps=settings.rl_steps,
    )
    return train_grpo(config, overwrite=True)


def _evaluate(root: Path, entry: Entry, settings: DemoSettings, echo: Echo) -> dict[str, Any]:
    from speciarl.evaluate.pipeline import EvalPlan, run_predictions, run_verification
    from speciarl.evaluate.run import write_report

    folder = root / entry.slug
    report_file = folder / "report.json"
    if report_file.is_file():
        return json.loads(report_file.read_text(encoding="utf-8"))
    echo(f"evaluating {entry.name}")
    plan = EvalPlan.create(
        model=entry.model,
        adapter=None,
        datasets="synthetic",
        split="test",
        subset=settings.test_images,
        source="local",
        backend="transformers",
        n=entry.n,
        temperature=1.0 if entry.n > 1 else 0.0,
        top_p=1.0,
        max_new_tokens=settings.max_new_tokens,
        batch_size=32,
        seed=settings.seed,
        prompt=entry.prompt,
    )
    run_predictions(plan, folder, echo=echo)
    run_verification(folder, echo=echo)
    return write_report(folder, entry.name)


def lookalike_behaviour(folder: Path) -> dict[str, float]:
    """On the indistinguishable species: how often a model hedges (family level or broader,
    or abstains) and how often it is wrong, over its predictions."""
    from speciarl.data.synthetic import lookalike_names
    from speciarl.evaluate.run import load_datasets, reported_judges

    lookalikes = lookalike_names()
    [dataset] = load_datasets(folder, reported_judges(folder, ["synthetic"]))
    predictions, verdicts = dataset.predictions, dataset.verdicts
    hedged = wrong = total = 0
    for key, record in predictions.items():
        if record["label"] not in lookalikes:
            continue
        total += 1
        verdict = (verdicts.get(key) or {}).get("verdict")
        hedged += verdict in (
            Verdict.LESS_SPECIFIC.value,
            Verdict.GENERIC.value,
            Verdict.ABSTAIN.value,
        )
        wrong += verdict == Verdict.WRONG.value
    return {
        "hedged": hedged / total if total else 0.0,
        "wrong": wrong / total if total else 0.0,
        "predictions": total,
    }


def _write_results(
    out: Path, entries: list[Entry], reports: list[dict[str, Any]], settings: DemoSettings
) -> str:
    from speciarl.evaluate.plots import tradeoff_scatter, verdict_bars

    rows = []
    for entry, report in zip(entries, reports, strict=True):
        data = report["datasets"]["synthetic"]
        scores = data["best_of_n"] if entry.n > 1 else data
        folder = out / "eval" / entry.slug
        rows.append(
            {
                "model": entry.name,
                **{m: scores[m] for m in ("specificity", "correctness", "hm")},
                "lookalikes": lookalike_behaviour(folder),
            }
        )
    table = _markdown(rows)
    with atomic_write(out / "results.md") as stream:
        stream.write(table)
    with atomic_write(out / "results.json") as stream:
        json.dump({"settings": asdict(settings), "rows": rows}, stream, indent=2)
    plotted = [
        _oracle_view(report) if entry.n > 1 else report
        for entry, report in zip(entries, reports, strict=True)
    ]
    verdict_bars(plotted, out / "verdict_bars.png")
    tradeoff_scatter(plotted, out / "tradeoff.png")
    return table


PAGES = "pages"
"""Where the demo writes its comparison and rollouts pages (each evaluation folder holds its own
``report.html``)."""


def _write_pages(out: Path, echo: Echo) -> None:
    """The answers side by side, base and RFT each against SpeciaRL, and both RL runs' rollouts:
    pages to read, not figures, so they are written again on every run."""
    from speciarl.evaluate.html.compare_page import write_compare_html
    from speciarl.evaluate.html.rollouts_page import write_rollouts_html

    evaluations, pages = out / "eval", out / PAGES
    speciarl = evaluations / Entry("SpeciaRL", "").slug
    for slug in ("base", Entry("RFT (binary reward)", "").slug):
        write_compare_html(evaluations / slug, speciarl, pages / f"compare-{slug}-vs-speciarl.html")
    for run in ("rft-binary", "speciarl"):
        write_rollouts_html(out / run, pages / f"rollouts-{run}.html")
    echo(f"pages to read the answers in {pages}")


def _oracle_view(report: dict[str, Any]) -> dict[str, Any]:
    """A best-of-N report whose sections are the oracle's, so plots show what the table shows."""
    from speciarl.evaluate.report import OVERALL

    view = {
        **report,
        "datasets": {name: data["best_of_n"] for name, data in report["datasets"].items()},
        "groups": {},
    }
    view.pop(OVERALL, None)
    if "best_of_n" in report.get(OVERALL, {}):
        view[OVERALL] = report[OVERALL]["best_of_n"]
    return view


def _markdown(rows: list[dict[str, Any]]) -> str:
    def cell(metric: dict[str, Any]) -> str:
        low, high = metric["ci"]
        return f"{metric['value']:.3f} [{low:.3f}, {high:.3f}]"

    lines = [
        "| model | specificity | correctness | HM | look-alikes: hedged | look-alikes: wrong |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lookalikes = row["lookalikes"]
        lines.append(
            f"| {row['model']} | {cell(row['specificity'])} | {cell(row['correctness'])} | "
            f"{cell(row['hm'])} | {lookalikes['hedged']:.2f} | {lookalikes['wrong']:.2f} |"
        )
    return "\n".join(lines) + "\n"
