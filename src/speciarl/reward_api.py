"""Only the SpeciaRL reward, for a TRL script of your own: :func:`speciarl_reward`.

``speciarl_reward(...)`` builds, from plain arguments, the same reward function that
``speciarl train`` gives TRL: the judge cascade (lexical, then taxonomy over a label hierarchy,
then an optional LLM judge behind an optional verdict cache) and a group reward scheme. Put it in
``trl.GRPOTrainer(reward_funcs=[...])``. It keeps groups whole across processes as ours does:
each process judges its own rollouts, the verdicts are gathered, and every process computes the
group rewards of the whole batch.

Your dataset must hold, besides TRL's ``prompt`` (and ``image`` for a vision-language model):

* ``label``: the true class name of the row, as the judge should read it ("samoyed");
* ``sample_id``: a string unique to the row (the image). The ``num_generations`` rollouts of one
  row form its group; ids repeated across rows would merge groups.

TRL hands every dataset column to reward functions as keyword arguments, so keep
``remove_unused_columns=False`` (GRPOConfig's default). A call without these columns stops with
:class:`MissingColumnsError`, which names the columns it did get.

A well-formed answer that no judge decided (an LLM judge unreachable, or no LLM judge and an
answer the hierarchy does not know) gets reward ``None``. Our
:class:`speciarl.train.masked_trainer.MaskedGRPOTrainer` (a drop-in subclass of
``GRPOTrainer``) masks such rollouts: out of the loss and of their group's advantage statistics.
A stock ``GRPOTrainer`` turns ``None`` into NaN and sums a row's rewards with ``nansum``, so an
undecided rollout gets reward 0 and still trains, like a wrong answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from speciarl.judges.hierarchy import Hierarchy
from speciarl.reward import DEFAULT_FORMAT_PENALTY, SCHEMES
from speciarl.train.config import RewardSettings
from speciarl.train.reward_fn import MissingColumnsError, SpeciaRLReward

__all__ = ["MissingColumnsError", "SpeciaRLReward", "speciarl_reward"]


def speciarl_reward(
    hierarchy: str | Path | Hierarchy | None,
    *,
    num_generations: int,
    scheme: str = "speciarl",
    endpoint: str | None = None,
    model: str | None = None,
    judge_prompt: str = "base",
    cache: str | Path | None = None,
    noise: float = 0.0,
    format_penalty: float = DEFAULT_FORMAT_PENALTY,
    max_words: int = 20,
    max_chars: int = 200,
    seed: int = 0,
    max_undecided: float = 0.05,
    outage_timeout: float = 600.0,
    concurrency: int = 64,
    gather: Callable[[Any], list[Any]] | None = None,
) -> SpeciaRLReward:
    """The SpeciaRL reward for ``trl.GRPOTrainer(reward_funcs=[...])``.

    Args:
        hierarchy: the label hierarchy of the taxonomy judge: a shipped dataset's name
            (``"cub200"``, ``"synthetic"``, ...), a hierarchy file (``.yaml``/``.json``, format in
            :mod:`speciarl.judges.hierarchy`), a loaded :class:`Hierarchy`, or ``None`` for no
            taxonomy judge (then an LLM judge is required).
        num_generations: rollouts per prompt, the same number as GRPOConfig's
            ``num_generations``; a group of another size stops training.
        scheme: ``speciarl`` (the paper's), ``speciarl-single``, ``binary``, ``scala1``,
            ``scala2`` or ``scala3``.
        endpoint: base URL of an OpenAI-compatible server for the LLM judge (``model`` too).
        model: the judge model's name on that server.
        judge_prompt: the LLM judge's prompt (``base`` unless you know better).
        cache: verdict cache: a SQLite file or a ``redis://`` URL; ``None`` for none.
        noise: probability of moving each verdict one step (the paper's robustness ablation).
        format_penalty: reward of an answer that breaks the format (empty, too long).
        max_words, max_chars: what still counts as a well-formed answer.
        seed: seeds the verdict noise.
        max_undecided, outage_timeout: with an LLM judge, a step with more than this share of
            undecided rollouts asks again with backoff for at most ``outage_timeout`` seconds,
            then stops (:class:`speciarl.train.reward_fn.JudgeOutage`).
        concurrency: parallel requests to the LLM judge.
        gather: every process's payload in rank order; default ``torch.distributed``'s.

    Raises:
        ValueError: an argument out of range, named in the message.
        speciarl.data.errors.DatasetError: ``hierarchy`` is neither a dataset nor a file.
    """
    from speciarl.train.setup import cascade_judge

    _check_arguments(
        hierarchy, num_generations, scheme, endpoint, model, noise, format_penalty, max_undecided
    )
    settings = RewardSettings(
        scheme=scheme,
        noise=noise,
        format_penalty=format_penalty,
        max_words=max_words,
        max_chars=max_chars,
    )
    judge = cascade_judge(
        _load_hierarchy(hierarchy),
        endpoint=endpoint,
        model=model,
        prompt=judge_prompt,
        concurrency=concurrency,
        max_words=max_words,
        max_chars=max_chars,
        cache=cache,
    )
    return SpeciaRLReward(
        judge,
        settings,
        num_generations=num_generations,
        prompt_name="own",
        seed=seed,
        gather=gather,
        endpoint=endpoint,
        max_undecided=max_undecided,
        outage_timeout=outage_timeout,
    )


def _check_arguments(
    hierarchy: object,
    num_generations: int,
    scheme: str,
    endpoint: str | None,
    model: str | None,
    noise: float,
    format_penalty: float,
    max_undecided: float,
) -> None:
    if isinstance(num_generations, bool) or not isinstance(num_generations, int):
        raise ValueError(f"num_generations must be an int, got {num_generations!r}")
    if num_generations < 2:
        raise ValueError(
            f"num_generations must be at least 2 (a group reward compares rollouts), "
            f"got {num_generations}"
        )
    if scheme not in SCHEMES:
        raise ValueError(f"scheme {scheme!r} is unknown; choose one of {', '.join(SCHEMES)}")
    if (endpoint is None) != (model is None):
        given, lacking = ("endpoint", "model") if model is None else ("model", "endpoint")
        raise ValueError(
            f"the LLM judge needs both endpoint and model: {given} given, no {lacking}"
        )
    if hierarchy is None and endpoint is None:
        raise ValueError(
            "hierarchy is None and there is no LLM judge (endpoint, model): the lexical judge "
            "alone decides only exact names and refusals. Give a dataset name or hierarchy "
            "file, or a judge endpoint and model"
        )
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be a probability within [0, 1], got {noise}")
    if not math.isfinite(format_penalty):
        raise ValueError(f"format_penalty must be a finite number, got {format_penalty}")
    if not 0.0 <= max_undecided <= 1.0:
        raise ValueError(f"max_undecided must be within [0, 1], got {max_undecided}")


def _load_hierarchy(hierarchy: str | Path | Hierarchy | None) -> Hierarchy | None:
    if hierarchy is None or isinstance(hierarchy, Hierarchy):
        return hierarchy
    from speciarl.data.registry import named_hierarchy

    return named_hierarchy(str(hierarchy))
