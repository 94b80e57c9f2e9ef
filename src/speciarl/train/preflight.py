"""Start-up checks: what a valid recipe still needs from the world, checked before any model loads.

A recipe can be well formed and still unable to run: the model folder is not there, the data root
does not hold the dataset, the hierarchy file is missing, the judge server is down. Found here,
each costs seconds and one line naming the recipe key; found by the trainer, it costs a
traceback after the data was built and the model loaded, or, for a judge that is down, a run
that trains for hours on undecided verdicts and a reward of zero.

``--dry-run`` prints what was checked; a real run calls :func:`require` first. Under a
multi-process launch only the main process looks (one request to the Hub and the judge, one
read of the data root), and every process stops when it found a problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from speciarl.train.config import ConfigError, DataSettings, TrainConfig

log = logging.getLogger(__name__)


class PreflightError(ConfigError):
    """A recipe that cannot start here; one line per problem, each naming its recipe key.
    ``report`` holds what a dry run planned and checked, which is worth printing even then: the
    plan says how far off the recipe is."""

    def __init__(self, problems: list[str], report: list[str] | None = None) -> None:
        self.problems = problems
        self.report = report or []
        if len(problems) == 1:
            message = problems[0]
        else:
            lines = "\n".join(f"  {problem}" for problem in problems)
            message = f"the recipe cannot start ({len(problems)} problems):\n{lines}"
        super().__init__(message)


@dataclass
class Findings:
    """What the checks found: problems stop the run; the rest says what was verified, what
    could not be from here (a Hub model with no network, a Hub dataset), and what runs but
    deserves a look first (``warnings``: training labels the judge's hierarchy lacks)."""

    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def report(self) -> list[str]:
        return [
            *(f"checked {line}" for line in self.checked),
            *(f"NOT VERIFIED {line}" for line in self.unverified),
            *(f"WARNING {line}" for line in self.warnings),
        ]


def inspect(config: TrainConfig, *, judged: bool = True, loading_here: bool = False) -> Findings:
    """Check the model, the data and, when the run is ``judged`` (GRPO, not SFT), the judge;
    ``loading_here``: this process loads the model next (a real run, not a dry run)."""
    findings = Findings()
    check_model(config.model, findings, loading_here=loading_here)
    if config.rollouts.use_vllm:
        check_vllm_installed(findings, loading_here=loading_here)
        if not findings.problems:
            check_vllm_image_budget(config, findings)
    check_data(config, findings)
    if judged:
        check_hierarchy(config, findings)
        check_llm_judge(config, findings)
    return findings


@dataclass
class Report:
    """What a dry run plans: lines to print, and problems that stop the run."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def dry_run(
    config: TrainConfig, planned: Callable[[], Report], *, judged: bool = True
) -> list[str]:
    """``--dry-run``: the trainer's plan (``planned`` builds the trainer's settings, which TRL
    validates, and describes them) followed by the report of every start-up check. One
    :class:`PreflightError` lists the problems of both, and carries the lines."""
    try:
        report = planned()
    except ValueError as error:
        report = Report(problems=[str(error)])
    findings = inspect(config, judged=judged)
    lines = [*report.lines, *findings.report()]
    problems = [*report.problems, *findings.problems]
    if problems:
        raise PreflightError(problems, lines)
    return lines


def require(config: TrainConfig, *, judged: bool = True) -> None:
    """Stop every process of this launch, before any model loads, if the recipe cannot start.

    Starting accelerate's state here also starts the process group of a distributed launch, so
    the main process's findings reach every process.
    """
    from accelerate import PartialState

    from speciarl.train.distributed import gather_payloads, rank_and_world

    PartialState()
    rank, _ = rank_and_world()  # PartialState's own index says 0 everywhere on a CPU launch
    findings = inspect(config, judged=judged, loading_here=True) if rank == 0 else Findings()
    for line in findings.checked:
        log.info("start-up check: %s", line)
    for line in findings.unverified:
        log.warning("start-up check could not verify %s", line)
    for line in findings.warnings:
        log.warning("start-up check: %s", line)
    problems = [problem for payload in gather_payloads(findings.problems) for problem in payload]
    if problems:
        raise PreflightError(problems)


def check_model(model: str, findings: Findings, *, loading_here: bool) -> None:
    """A checkpoint folder, or a Hub id that is cached or that the Hub confirms. A Hub id that
    cannot be confirmed (no network) is a problem where the model loads next, and a note in a
    dry run: the launch may well be on another machine, or later."""
    from speciarl.policy.checkpoint import CheckpointError, HubUnreachableError, check_checkpoint

    try:
        findings.checked.append(f"model: {check_checkpoint(model, 'model')}")
    except HubUnreachableError as error:
        if loading_here:
            findings.problems.append(str(error))
        else:
            findings.unverified.append(f"{error}; it must download when training starts")
    except CheckpointError as error:
        findings.problems.append(str(error))


def check_vllm_installed(findings: Findings, *, loading_here: bool) -> None:
    """``rollouts.use_vllm`` needs vLLM where training runs; TRL would only say so after the
    model has loaded. A dry run may plan a launch on another machine, so there it is a note."""
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        findings.checked.append("rollouts.use_vllm: vLLM is installed")
        return
    missing = "rollouts.use_vllm: vLLM is not installed here (`pip install vllm`, on a CUDA GPU)"
    if loading_here:
        findings.problems.append(missing)
    else:
        findings.unverified.append(missing)


def check_vllm_image_budget(config: TrainConfig, findings: Findings) -> None:
    """With vLLM rollouts, the image budget must lie inside the checkpoint's own pixel range
    (vLLM resizes into that range); read from its processor settings, which a Hub id without a
    local copy does not have here."""
    from speciarl.train.setup import check_vllm_budget

    if not Path(config.model).is_dir():  # a Hub id: checked when the policy loads
        findings.unverified.append(
            "data.min_pixels/data.max_pixels against the pixel range vLLM rollouts resize into: "
            f"{config.model} is not a local checkpoint folder"
        )
        return
    try:
        check_vllm_budget(config)
    except ConfigError as error:
        findings.problems.append(str(error))
    else:
        findings.checked.append("image budget: inside the pixel range vLLM rollouts resize into")


def check_data(config: TrainConfig, findings: Findings) -> None:
    """The policy prompt exists; the training split (each part of a mixed set) can be listed,
    its first image read, and it holds as many images as asked. Its annotation files are read,
    not its images: seconds, even for a full benchmark."""
    from speciarl.data.errors import DatasetError
    from speciarl.data.prepare import PartRequest
    from speciarl.data.registry import SOURCES
    from speciarl.prompts import PromptError, load_prompt

    data = config.data
    try:
        load_prompt(data.prompt)
    except PromptError as error:
        findings.problems.append(f"data.prompt: {error}")
    if data.source not in SOURCES:
        findings.problems.append(f"data.source {data.source!r}: choose one of {', '.join(SOURCES)}")
        return
    if not data.parts:
        keys = ("data.dataset", "data.split", "data.subset")
        _check_split(data, _Asked(data.dataset, data.split, data.subset, *keys), findings)
        return
    for text in data.parts:
        try:
            part = PartRequest.parse(text)
        except DatasetError as error:
            findings.problems.append(f"data.parts: {error}")
            continue
        keys = (f"data.parts {text}",) * 3
        _check_split(data, _Asked(part.dataset, part.split, part.count, *keys), findings)


@dataclass(frozen=True)
class _Asked:
    """A split the recipe asks for, with the keys that asked: ``data.dataset`` and
    ``data.split`` (count: ``data.subset``), or one ``data.parts`` entry for all three."""

    name: str
    split: str
    count: int | None
    dataset_key: str
    split_key: str
    count_key: str


def _check_split(data: DataSettings, asked: _Asked, findings: Findings) -> None:
    """One split; a shipped dataset's root and source are ``data.root`` and ``data.source``, a
    dataset reference of the user's own (a path, ``hub:ID``) is read from itself: its files are
    listed and its first image read here, as a shipped dataset's are."""
    from speciarl.data.errors import DatasetError
    from speciarl.data.registry import get_dataset
    from speciarl.data.sample import ImageReadError

    name, split = asked.name, asked.split
    try:
        spec = get_dataset(name)
    except DatasetError as error:
        findings.problems.append(f"{asked.dataset_key}: {error}")
        return
    if split not in spec.splits:
        findings.problems.append(
            f"{asked.split_key}: {name} has no split {split!r}; choose one of "
            f"{', '.join(spec.splits)}"
        )
        return
    if spec.reference is not None:
        alone = asked.dataset_key == "data.dataset"  # in data.parts they are for shipped parts
        for key, value, given in (
            ("data.root", data.root, data.root is not None),
            ("data.source", data.source, data.source != "local"),
        ):
            if alone and given:
                findings.problems.append(
                    f"{key} {value}: applies to shipped datasets only; {name} (data.dataset) "
                    "is read from its own files"
                )
                return
        root, blame, where = None, asked.dataset_key, f", as dataset {spec.name} ({spec.layout})"
    else:
        if data.source == "hub":
            if spec.hub_id is None:
                findings.problems.append(f"data.source hub: no Hub copy of {name} is known")
            else:
                findings.unverified.append(
                    f"data: {name} {split} from the Hub copy {spec.hub_id} (loaded when "
                    "training starts)"
                )
            return
        if spec.needs_root and data.root is None:
            findings.problems.append(
                f"data.root is not set: {name} is read from its folder or a folder holding it "
                f"(`speciarl data fetch {name} --root DIR` downloads it)"
            )
            return
        root = Path(data.root) if data.root is not None else None
        blame = f"data.root {data.root}"
        where = f" under {data.root}" if spec.needs_root else ""
    try:
        samples = spec.load(split, root=root)
        samples[0].image_bytes()
    except (DatasetError, ImageReadError) as error:
        findings.problems.append(f"{blame}: {error}")
        return
    if asked.count is not None and asked.count > len(samples):
        findings.problems.append(
            f"{asked.count_key}: {asked.count} images asked for, but {name} {split} has "
            f"{len(samples)}"
        )
        return
    findings.checked.append(f"data: {name} {split}, {len(samples)} images{where}")


def check_hierarchy(config: TrainConfig, findings: Findings) -> None:
    """``judge.hierarchy`` names a dataset or a readable hierarchy file (unset: the shipped
    data's), and covers the training labels (a warning names those it lacks). Without one (a
    user's dataset) the LLM judge decides every answer that is not the label itself; without
    either the reward would see exact names only, which stops the run."""
    from speciarl.data.coverage import label_coverage, missing_labels_warning
    from speciarl.data.errors import DatasetError
    from speciarl.judges.hierarchy import HierarchyError
    from speciarl.train.setup import judge_hierarchy

    chosen = config.judge.hierarchy
    llm = config.judge.endpoint is not None and config.judge.model is not None
    try:
        hierarchy = judge_hierarchy(config)
    except ConfigError as error:  # a mixed set with a part of the user's own
        findings.problems.append(str(error))
        return
    except (HierarchyError, DatasetError, KeyError, OSError) as error:
        if chosen is not None:
            findings.problems.append(f"judge.hierarchy: {error}")
        return  # unset: the data names an unknown dataset, which check_data reports
    if hierarchy is None:
        dataset = config.data.dataset
        if not llm:
            findings.problems.append(
                f"judge.hierarchy: not set, and {dataset} ships no label hierarchy and no LLM "
                "judge is set (judge.endpoint, judge.model): the reward would only see exact "
                "label matches; give judge.hierarchy (a hierarchy file; `speciarl hierarchy "
                "draft` writes one) or an LLM judge"
            )
        else:
            findings.warnings.append(
                f"judge.hierarchy: not set, and {dataset} ships no label hierarchy: every "
                "answer that is not the label itself goes to the LLM judge; a hierarchy file "
                "(judge.hierarchy; `speciarl hierarchy draft` writes one) would decide many "
                "of them without it"
            )
        return
    name = hierarchy.name or chosen
    findings.checked.append(f"judge hierarchy: {name}, {len(hierarchy.nodes)} nodes")
    for dataset, labels in _training_labels(config).items():
        coverage = label_coverage(labels, hierarchy)
        warning = missing_labels_warning(
            coverage, dataset, llm=llm, hierarchy_option=chosen or dataset
        )
        if warning is not None:
            findings.warnings.append(warning)


def _training_labels(config: TrainConfig) -> dict[str, list[str]]:
    """The cleaned class labels of the training dataset (each of a mixed set's), by the name
    the recipe gives it; a dataset whose class list cannot be read is left out (check_data
    names what is wrong with it)."""
    from speciarl.data.errors import DatasetError
    from speciarl.data.prepare import PartRequest
    from speciarl.data.registry import get_dataset

    names = [config.data.dataset]
    if config.data.parts:
        try:
            names = [PartRequest.parse(text).dataset for text in config.data.parts]
        except DatasetError:
            return {}
    labels: dict[str, list[str]] = {}
    for name in dict.fromkeys(names):
        try:
            spec = get_dataset(name)
            labels[name] = [spec.clean_label(class_id) for class_id in spec.class_ids()]
        except (ValueError, OSError):  # DatasetError, or a user dataset's own files
            continue
    return labels


def check_llm_judge(config: TrainConfig, findings: Findings) -> None:
    """The LLM judge, when the recipe has one: its prompt exists, its server lists its model."""
    from speciarl.judges.endpoint import JudgeEndpointError, check_judge_endpoint
    from speciarl.judges.judge_prompts import JudgePromptError, load_judge_prompt

    judge = config.judge
    if judge.endpoint is None or judge.model is None:
        findings.checked.append("judge: deterministic judges only (no judge.endpoint)")
        return
    try:
        load_judge_prompt(judge.prompt)
    except JudgePromptError as error:
        findings.problems.append(f"judge.prompt: {error}")
    try:
        check_judge_endpoint(
            judge.endpoint, judge.model, endpoint_key="judge.endpoint", model_key="judge.model"
        )
    except JudgeEndpointError as error:
        findings.problems.append(str(error))
        return
    findings.checked.append(f"judge: {judge.model} answers at {judge.endpoint}")
