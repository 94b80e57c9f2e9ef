"""SpeciaRL's judge and reward as verl custom reward functions.

verl imports a custom reward function from a file path (``custom_reward_function.path`` and
``.name`` in its config), so this module imports nothing from verl and takes its judge settings
from environment variables. Which hook trains SpeciaRL depends on the verl version (see
:func:`verl_layout` and ``docs/verl.md``):

* verl 0.6.x and 0.7.0 have a **batch** reward manager, which calls :func:`compute_score_batch`
  once per training batch with lists of every rollout's data source, decoded response, ground
  truth and ``extra_info``. It groups the rollouts of one image by a key read from
  ``extra_info`` (see :data:`GROUP_KEYS`) and returns the SpeciaRL group reward, or any scheme
  of :data:`speciarl.reward.SCHEMES`.
* verl 0.7.1 and later score each rollout alone (the batch manager is unreachable), so the
  group step moves into an advantage estimator: :func:`compute_score_level` scores one rollout
  with its verdict's level (:func:`level_score`), and
  :mod:`speciarl.integrations.verl_estimator`, registered in verl as ``speciarl``, turns the
  levels of each prompt's rollouts into SpeciaRL rewards and GRPO advantages.
* :func:`compute_score` is verl's plain per-rollout hook (the signature of verl's own
  ``default_compute_score``) with a static scheme (``binary`` by default, the paper's RFT
  baseline), for any verl version.

:func:`verl_reward_config` returns the configuration keys of each layout. The training rows
these hooks read are defined in :mod:`speciarl.data.verl_rows` (``speciarl data build --layout
verl`` writes them); :func:`verl_row_fields` is re-exported here.

Settings (read at every call; the judge is rebuilt when they change):

==============================  ==================================================================
``SPECIARL_JUDGE_HIERARCHY``    dataset name (``cub200``, ``synthetic``, ...) or a hierarchy file
``SPECIARL_JUDGE_ENDPOINT``     OpenAI-style base URL of the LLM judge (with the model below)
``SPECIARL_JUDGE_MODEL``        judge model id, as the server names it
``SPECIARL_JUDGE_PROMPT``       judge prompt name (default ``base``)
``SPECIARL_CACHE``              SQLite cache file, or a ``redis://``/``rediss://``/``unix://`` URL
``SPECIARL_REWARD_SCHEME``      scheme of :func:`compute_score_batch` and of the verl estimator
                                (default ``speciarl``)
``SPECIARL_VERL_SCHEME``        static scheme of :func:`compute_score` (default ``binary``)
==============================  ==================================================================

``OPENAI_API_KEY`` reaches the LLM endpoint and ``SPECIARL_REDIS_PASSWORD`` a Redis cache, as
elsewhere in SpeciaRL. The judge is the cascade (lexical, then taxonomy with a hierarchy, then
the LLM with an endpoint), built once per process and shared by its threads. An answer without
one well-formed ``<answer>`` tag gets -1 and is never judged; a pair no judge could decide
gets 0 (:func:`compute_score_level` gives each its own level instead).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from packaging.version import InvalidVersion, Version

from speciarl.data.verl_rows import verl_row_fields as verl_row_fields  # the rows verl reads
from speciarl.judges.base import Judge
from speciarl.reward import SCHEMES, SPECIARL, SPECIARL_SINGLE, STATIC_SCHEMES
from speciarl.rollouts import judge_rollouts, score_rollouts
from speciarl.verdict import Verdict

log = logging.getLogger(__name__)

ENV_HIERARCHY = "SPECIARL_JUDGE_HIERARCHY"
ENV_ENDPOINT = "SPECIARL_JUDGE_ENDPOINT"
ENV_MODEL = "SPECIARL_JUDGE_MODEL"
ENV_PROMPT = "SPECIARL_JUDGE_PROMPT"
ENV_CACHE = "SPECIARL_CACHE"
ENV_REWARD_SCHEME = "SPECIARL_REWARD_SCHEME"
ENV_VERL_SCHEME = "SPECIARL_VERL_SCHEME"

DEFAULT_BATCH_SCHEME = SPECIARL
DEFAULT_SAMPLE_SCHEME = "binary"

GROUP_KEYS: tuple[str, ...] = ("uid", "sample_id", "index")
"""``extra_info`` keys that name a rollout's group, in order of preference.

verl gives every prompt of a step a ``uid`` and repeats it over the prompt's rollouts, but keeps
it in the batch's own ``uid`` column: its batch reward manager passes only the dataset's
``extra_info`` on to the reward function. So the key normally comes from the training parquet:
``extra_info.sample_id`` (one id per image, as SpeciaRL names samples) or verl's own
``extra_info.index`` convention. A ``uid`` in ``extra_info`` (set by a custom reward manager)
wins, since it is exactly one group per prompt and step.
"""

SCHEME_KEY = "speciarl_scheme"
"""``extra_info`` key that overrides the static scheme of :func:`compute_score` for one row."""

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


# ------------------------------------------------------------------------------------------------
# The judge: built from the environment, once per process.


class JudgeEnvironment(NamedTuple):
    """The judge settings found in the environment; equal settings give the same judge.

    A named tuple, not a dataclass: verl (0.7 and later) executes this file by path without
    registering it in ``sys.modules``, where ``dataclass`` looks the module up.
    """

    hierarchy: str | None = None
    endpoint: str | None = None
    model: str | None = None
    prompt: str | None = None
    cache: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JudgeEnvironment:
        env = os.environ if environ is None else environ

        def read(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        return cls(
            hierarchy=read(ENV_HIERARCHY),
            endpoint=read(ENV_ENDPOINT),
            model=read(ENV_MODEL),
            prompt=read(ENV_PROMPT),
            cache=read(ENV_CACHE),
        )

    def build(self) -> Judge:
        """The cascade judge these settings describe."""
        from speciarl.judges.factory import build_judge, open_cache
        from speciarl.judges.llm import LLMJudgeSettings

        if (self.endpoint is None) != (self.model is None):
            raise ValueError(
                f"the LLM judge needs both {ENV_ENDPOINT} and {ENV_MODEL}; "
                f"only {ENV_ENDPOINT if self.endpoint else ENV_MODEL} is set"
            )
        llm = None
        if self.endpoint is not None and self.model is not None:
            extra = {"prompt": self.prompt} if self.prompt is not None else {}
            llm = LLMJudgeSettings(endpoint=self.endpoint, model=self.model, **extra)
        elif self.prompt is not None:
            log.warning("%s is set but no LLM judge is configured; it is ignored", ENV_PROMPT)
        hierarchy = _load_hierarchy(self.hierarchy) if self.hierarchy is not None else None
        if hierarchy is None and llm is None:
            log.warning(
                "neither %s nor %s is set: only the lexical judge runs, so most answers stay "
                "undecided and earn 0",
                ENV_HIERARCHY,
                ENV_ENDPOINT,
            )
        cache = None
        if self.cache is not None:
            if self.cache.startswith(_REDIS_SCHEMES):
                cache = open_cache(redis_url=self.cache)
            else:
                cache = open_cache(self.cache)
        return build_judge("cascade", hierarchy=hierarchy, llm=llm, cache=cache)


def _load_hierarchy(spec: str) -> Any:
    """A dataset's shipped hierarchy by name, or a hierarchy file by path (``~`` expanded), as
    a recipe's ``judge.hierarchy`` names one (`speciarl.data.registry.named_hierarchy`)."""
    from speciarl.data.errors import DatasetError
    from speciarl.data.registry import named_hierarchy

    try:
        return named_hierarchy(os.path.expanduser(spec))
    except DatasetError as error:
        raise ValueError(f"{ENV_HIERARCHY}={error}") from None


_lock = threading.Lock()
_current: tuple[JudgeEnvironment, Judge] | None = None


def get_judge() -> Judge:
    """The process's judge for the current environment, built on first use.

    Thread-safe: verl scores rollouts from worker threads. When the settings change, the judge
    is rebuilt (meant for tests; a training run sets them once).
    """
    global _current
    settings = JudgeEnvironment.from_env()
    with _lock:
        if _current is None or _current[0] != settings:
            _current = (settings, settings.build())
        return _current[1]


def reset() -> None:
    """Forget the process's judge and close its cache; the next call builds a new one."""
    global _current
    with _lock:
        dropped, _current = _current, None
    if dropped is not None:
        _close_caches(dropped[1])


def _close_caches(judge: Judge) -> None:
    from speciarl.judges.factory import judges_in

    for member in judges_in(judge):
        cache = getattr(member, "cache", None)
        if cache is not None:
            cache.close()


# ------------------------------------------------------------------------------------------------
# verl's reward hooks.


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> float:
    """Reward of one rollout under a static scheme: verl's per-rollout hook.

    The scheme is ``extra_info["speciarl_scheme"]``, else a ``scheme`` keyword (verl passes
    ``custom_reward_function.reward_kwargs`` as keywords), else ``$SPECIARL_VERL_SCHEME``, else
    ``binary``. The SpeciaRL group reward cannot be computed here, since one rollout says nothing
    about its group; use :func:`compute_score_level` with the ``speciarl`` estimator, or
    :func:`compute_score_batch` with verl's batch reward manager. Other
    keywords verl passes (a reward-model router address, say) are ignored.
    """
    scheme = _sample_scheme(extra_info, kwargs.get("scheme"))
    truth = _ground_truth(ground_truth, 0)
    scored = score_rollouts([_solution(solution_str, 0)], [truth], [0], get_judge(), scheme=scheme)
    return scored[0].reward.reward


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None],
    **kwargs: Any,
) -> list[float]:
    """Rewards of a whole batch, by group: the hook of verl's batch reward manager.

    Rollouts of one image are those with the same data source and group key (the first of
    :data:`GROUP_KEYS` found in their ``extra_info``); they need not be contiguous. The scheme is
    a ``scheme`` keyword, else ``$SPECIARL_REWARD_SCHEME``, else ``speciarl``. Groups of unequal
    size are scored as they are, with a warning.
    """
    count = len(solution_strs)
    if not len(data_sources) == len(ground_truths) == len(extra_infos) == count:
        raise ValueError(
            f"got {len(data_sources)} data sources, {count} solutions, {len(ground_truths)} "
            f"ground truths and {len(extra_infos)} extra_infos; verl gives one of each per rollout"
        )
    if count == 0:
        return []
    scheme = reward_scheme(kwargs.get("scheme"))
    groups = [_group_key(data_sources[i], extra_infos[i], i) for i in range(count)]
    _check_group_sizes(groups, scheme)
    scored = score_rollouts(
        [_solution(text, i) for i, text in enumerate(solution_strs)],
        [_ground_truth(truth, i) for i, truth in enumerate(ground_truths)],
        groups,
        get_judge(),
        scheme=scheme,
    )
    return [rollout.reward.reward for rollout in scored]


def _sample_scheme(extra_info: Mapping[str, Any] | None, keyword: Any) -> str:
    scheme = None
    if extra_info is not None:
        scheme = extra_info.get(SCHEME_KEY)
    if scheme is None:
        scheme = keyword
    if scheme is None:
        scheme = os.environ.get(ENV_VERL_SCHEME, "").strip() or DEFAULT_SAMPLE_SCHEME
    if scheme in (SPECIARL, SPECIARL_SINGLE):
        raise ValueError(
            f"the {scheme!r} reward depends on the whole group of rollouts of an image, which "
            "verl's per-rollout compute_score never sees; use compute_score_level with "
            "algorithm.adv_estimator=speciarl (verl >= 0.7.1) or compute_score_batch with "
            "reward_model.reward_manager=batch (verl <= 0.7.0; see docs/verl.md), or a static "
            "scheme: "
            f"{', '.join(STATIC_SCHEMES)}"
        )
    if scheme not in STATIC_SCHEMES:
        raise ValueError(
            f"unknown reward scheme {scheme!r} for compute_score; choose one of "
            f"{', '.join(STATIC_SCHEMES)}"
        )
    return str(scheme)


def reward_scheme(keyword: Any) -> str:
    """The group-reward scheme: ``keyword`` (a call's or config's), else
    ``$SPECIARL_REWARD_SCHEME``, else ``speciarl``; shared by the batch hook and the estimator."""
    scheme = keyword
    if scheme is None:
        scheme = os.environ.get(ENV_REWARD_SCHEME, "").strip() or DEFAULT_BATCH_SCHEME
    if scheme not in SCHEMES:
        raise ValueError(f"unknown reward scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    return str(scheme)


def _group_key(data_source: Any, extra_info: Mapping[str, Any] | None, index: int) -> Hashable:
    info = extra_info if extra_info is not None else {}
    for key in GROUP_KEYS:
        value = info.get(key)
        if value is not None:
            if not isinstance(value, Hashable):
                value = repr(value)
            return (str(data_source), value)
    raise ValueError(
        f"rollout {index} (data_source={data_source!r}) has no group key in its extra_info "
        f"(looked for {', '.join(GROUP_KEYS)}; found {sorted(info) or 'none'}). SpeciaRL "
        "rewards a rollout against the other rollouts of its image: add extra_info.sample_id, "
        "one id per image, to every row of the training parquet (see docs/verl.md)"
    )


def _check_group_sizes(groups: Sequence[Hashable], scheme: str) -> None:
    sizes = Counter(groups)
    distinct = Counter(sizes.values())
    if len(distinct) > 1:
        shown = ", ".join(f"{n} group(s) of {size}" for size, n in sorted(distinct.items()))
        log.warning(
            "rollout groups differ in size (%s); each is scored as it is. Expected one group "
            "of actor_rollout_ref.rollout.n rollouts per image: an image twice in a batch, or "
            "rollouts dropped before the reward, change the sizes",
            shown,
        )
    elif scheme in (SPECIARL, SPECIARL_SINGLE) and set(distinct) == {1}:
        log.warning(
            "every group holds one rollout: under the %r reward a lone rollout is its own "
            "reference, so every judged answer earns 1 (validation with n=1 measures nothing)",
            scheme,
        )


def _solution(text: Any, index: int) -> str:
    if not isinstance(text, str):
        raise TypeError(f"solution {index} must be a string, got {type(text).__name__}")
    return text


def _ground_truth(value: Any, index: int) -> str:
    if isinstance(value, str):  # numpy string scalars are str subclasses
        return str(value)
    raise TypeError(
        f"ground truth {index} must be the label string (reward_model.ground_truth in the "
        f"parquet), got {type(value).__name__}"
    )


# ------------------------------------------------------------------------------------------------
# verl >= 0.7.1: the verdict's level as the score, for the ``speciarl`` advantage estimator.

LEVEL_STRIDE = 10.0
"""Distance between two level scores.

A rollout's score is ``LEVEL_STRIDE * level``: levels 0 to 5 are the verdicts ``wrong`` to
``more specific`` (:attr:`speciarl.verdict.Verdict.rank`), :data:`UNDECIDED_LEVEL` a pair no
judge could decide and :data:`FORMAT_FAILURE_LEVEL` an answer that broke the format. verl may add
a penalty of its own to the score before the estimator reads it (the DAPO reward manager's
overlong penalty, at most ``penalty_factor`` below zero); the stride keeps the level readable
under any penalty smaller than half of it, and the estimator adds the penalty to the reward.
"""

UNDECIDED_LEVEL = -1
FORMAT_FAILURE_LEVEL = -2

LEVEL_KEY = "speciarl_level"
"""``reward_extra_info`` key of a rollout's level, kept with the rollout's other metrics."""

REWARD_CLASS_KEY = "speciarl_reward_class"
"""``reward_extra_info`` key for DAPO's group filter (``algorithm.filter_groups.metric``).

The class is the level with ``more specific`` merged into ``specific`` and an undecided pair
into ``wrong``. The rollouts of a group share one class exactly when their ``speciarl``
rewards are equal (with the default format penalty): equal ``specific``/``more specific``
verdicts all reach c*, equal ``wrong``/undecided ones all miss it, other equal levels all are
c*; and where two classes differ, the best rollout earns 1 and the worse one 0 or -1. So the
filter evicts exactly the groups whose GRPO advantages are all zero. (Under ``speciarl-single``
equal verdicts still give one rollout 1, so the estimator refuses the filter with that scheme.)
"""

_LEVEL_TOLERANCE = 1e-3  # float32 rounding of a level score near 50


class LevelOutcome(NamedTuple):
    """What a level score says about one rollout, read back by the estimator.

    ``penalty`` is what verl added to the score after :func:`compute_score_level` (zero or
    negative: DAPO's overlong penalty); the estimator adds it to the rollout's reward.
    """

    verdict: Verdict | None
    formatted: bool
    penalty: float


_VERDICT_BY_LEVEL = {verdict.rank: verdict for verdict in Verdict}


def rollout_level(verdict: Verdict | None, formatted: bool) -> int:
    """The level of one rollout: its verdict's rank, or the undecided or format-failure level."""
    if not formatted:
        return FORMAT_FAILURE_LEVEL
    return UNDECIDED_LEVEL if verdict is None else verdict.rank


def level_score(verdict: Verdict | None, formatted: bool) -> float:
    """The score :func:`compute_score_level` gives a rollout (see :data:`LEVEL_STRIDE`)."""
    return LEVEL_STRIDE * rollout_level(verdict, formatted)


def reward_class(verdict: Verdict | None, formatted: bool) -> int:
    """The rollout's class for DAPO's group filter (see :data:`REWARD_CLASS_KEY`)."""
    if formatted and verdict is None:
        return Verdict.WRONG.rank
    if verdict is Verdict.MORE_SPECIFIC:
        return Verdict.SPECIFIC.rank
    return rollout_level(verdict, formatted)


def read_level_score(score: float, row: int) -> LevelOutcome:
    """Undo :func:`level_score` (plus any penalty verl added); ``row`` names the rollout in errors.

    A score that no level explains raises: it means verl's reward function was not
    :func:`compute_score_level`, or that a reward was added on top of it (a KL penalty in the
    reward, a positive shaping term), which would corrupt the group reward.
    """
    level = round(score / LEVEL_STRIDE)
    penalty = score - LEVEL_STRIDE * level
    valid = level in _VERDICT_BY_LEVEL or level in (UNDECIDED_LEVEL, FORMAT_FAILURE_LEVEL)
    if not valid or penalty > _LEVEL_TOLERANCE:
        raise ValueError(
            f"rollout {row} has score {score!r}, which is no SpeciaRL level score (a multiple of "
            f"{LEVEL_STRIDE:g} from {LEVEL_STRIDE * FORMAT_FAILURE_LEVEL:g} to "
            f"{LEVEL_STRIDE * Verdict.MORE_SPECIFIC.rank:g}, minus at most "
            f"{LEVEL_STRIDE / 2:g} of penalty). The speciarl advantage estimator needs "
            "reward.custom_reward_function.name=compute_score_level and "
            "algorithm.use_kl_in_reward=False (see docs/verl.md)"
        )
    if level == FORMAT_FAILURE_LEVEL:
        return LevelOutcome(None, False, min(penalty, 0.0))
    return LevelOutcome(_VERDICT_BY_LEVEL.get(level), True, min(penalty, 0.0))


def compute_score_level(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, float]:
    """One rollout's verdict level as its score: verl's per-rollout hook for the estimator.

    Returns verl's result dict: ``score`` is :func:`level_score`; :data:`LEVEL_KEY` and
    :data:`REWARD_CLASS_KEY` go to ``reward_extra_info``. The score is no reward: train with
    ``algorithm.adv_estimator=speciarl``, which computes the group reward from the levels.
    Keywords verl passes (a reward-model router address, say) are ignored.
    """
    truth = _ground_truth(ground_truth, 0)
    [(answer, judgement)] = judge_rollouts([_solution(solution_str, 0)], [truth], get_judge())
    verdict = judgement.verdict if answer.formatted else None
    return {
        "score": level_score(verdict, answer.formatted),
        LEVEL_KEY: float(rollout_level(verdict, answer.formatted)),
        REWARD_CLASS_KEY: float(reward_class(verdict, answer.formatted)),
    }


# ------------------------------------------------------------------------------------------------
# Configuration.

VERL_LAYOUTS = ("0.6", "0.7", "0.9")
"""verl configuration layouts :func:`verl_reward_config` knows (see ``docs/verl.md``)."""

LAST_BATCH_REWARD_VERSION = (0, 7, 0)
"""The last verl release whose batch reward manager is reachable. From 0.7.1 on, rewards are
computed one rollout at a time (verl PRs #5237 and #5255), so SpeciaRL's group step runs in the
``speciarl`` advantage estimator instead."""

ESTIMATOR_NAME = "speciarl"
"""The name :mod:`speciarl.integrations.verl_estimator` registers (``algorithm.adv_estimator``)."""


def verl_layout(version: str) -> str:
    """The layout of :data:`VERL_LAYOUTS` for a verl release such as ``"0.9.1"``.

    ``0.6`` and ``0.7`` (up to :data:`LAST_BATCH_REWARD_VERSION`) train SpeciaRL through the
    batch reward manager; every later release takes the ``0.9`` layout, the estimator.
    """
    try:
        parsed = Version(version)
    except InvalidVersion:
        parsed = None
    if parsed is None or len(parsed.release) < 3:
        raise ValueError(f"not a verl release number: {version!r} (expected e.g. '0.9.1')")
    release = parsed.release[:3]
    if release < (0, 6, 0):
        raise ValueError(f"verl {version} is older than 0.6, which SpeciaRL was never checked on")
    if release < (0, 7, 0):
        return "0.6"
    if release <= LAST_BATCH_REWARD_VERSION:
        return "0.7"
    return "0.9"


def verl_reward_config(layout: str = "0.7", *, rollout_n: int = 10) -> dict[str, Any]:
    """verl configuration overrides (dotted key -> value) for the paper's GRPO set-up.

    ``0.6`` and ``0.7`` use the batch reward manager and :func:`compute_score_batch` (the
    SpeciaRL group reward); ``0.7`` must also turn off verl's reward loop, or rewards are
    computed per rollout during generation and the batch manager is never called. ``0.9``
    (every release after 0.7.0: :func:`verl_layout`) scores each rollout's level with
    :func:`compute_score_level` and computes the group reward in the ``speciarl`` estimator.
    """
    if layout not in VERL_LAYOUTS:
        raise ValueError(f"unknown verl layout {layout!r}; choose one of {', '.join(VERL_LAYOUTS)}")
    if rollout_n < 1:
        raise ValueError(f"rollout_n must be at least 1, got {rollout_n}")
    path = str(Path(__file__).resolve())
    config: dict[str, Any]
    if layout == "0.9":
        config = {
            "reward.custom_reward_function.path": path,
            "reward.custom_reward_function.name": "compute_score_level",
            "reward.reward_manager.name": "naive",
            "algorithm.adv_estimator": ESTIMATOR_NAME,
        }
    else:
        config = {
            "custom_reward_function.path": path,
            "custom_reward_function.name": "compute_score_batch",
            "reward_model.reward_manager": "batch",
        }
        if layout == "0.7":
            config["reward_model.use_reward_loop"] = False
        config["algorithm.adv_estimator"] = "grpo"
    config.update(
        {
            "algorithm.norm_adv_by_std_in_grpo": True,
            "algorithm.use_kl_in_reward": False,
            "actor_rollout_ref.rollout.n": rollout_n,
            "actor_rollout_ref.rollout.temperature": 1.0,
            "actor_rollout_ref.actor.use_kl_loss": True,
            "actor_rollout_ref.actor.kl_loss_coef": 0.01,
            "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
            "actor_rollout_ref.actor.loss_agg_mode": "token-mean",
            "actor_rollout_ref.actor.clip_ratio": 0.2,
        }
    )
    return config


def verl_overrides(config: Mapping[str, Any]) -> list[str]:
    """``key=value`` command-line overrides (Hydra syntax) for ``config``."""

    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)

    return [f"{key}={show(value)}" for key, value in config.items()]
