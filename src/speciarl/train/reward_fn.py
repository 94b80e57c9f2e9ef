"""The SpeciaRL reward as a TRL reward function, with whole groups across processes.

TRL calls a reward function with this process's slice of the generation batch. A SpeciaRL
reward needs the whole group (the N rollouts of one image), and with several processes a group
can be split between them. So each process judges its own slice (judging stays parallel), the
verdicts — a few bytes each — are gathered from every process, every process computes the same
group rewards for the whole batch, and each returns its own slice. Groups are keyed by
``sample_id``; a group whose size is not ``num_generations`` stops training with a message.

A well-formed rollout that no judge could decide (the LLM judge unreachable, say) is not
rewarded: its reward is ``None``, which :class:`speciarl.train.masked_trainer.MaskedGRPOTrainer`
turns into a masked rollout (no part in the loss nor in its group's advantage statistics).
When more than ``max_undecided`` of a step's rollouts are undecided and an LLM judge is in the
cascade, the step asks again with backoff until enough are decided or ``outage_timeout`` passes,
and then stops the run (:class:`JudgeOutage`). Every process decides on the gathered verdicts,
so all take the same branch and make the same collective calls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from speciarl.judges.base import Judge
from speciarl.metrics import summarize
from speciarl.reward import RolloutReward, add_verdict_noise, batch_rewards
from speciarl.rollouts import judge_rollouts
from speciarl.train.config import RewardSettings
from speciarl.train.distributed import gather_payloads, rank_and_world
from speciarl.train.rollout_log import RolloutLog
from speciarl.verdict import VERDICTS, Verdict

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0


class GroupError(RuntimeError):
    """Rollouts of one image that do not form one whole group."""


REQUIRED_COLUMNS = ("label", "sample_id")
_TRL_ARGUMENTS = ("trainer_state", "log_metric", "log_extra")


class MissingColumnsError(ValueError):
    """The reward was called without the dataset columns it needs (``label``, ``sample_id``):
    a user's own TRL script's first mistake."""


def _required_columns(
    completions: Sequence[Any],
    label: Sequence[str] | None,
    sample_id: Sequence[Any] | None,
    others: dict[str, Any],
) -> tuple[Sequence[str], list[str]]:
    """``label`` and ``sample_id`` (as strings), one per completion, or a clear error."""
    missing = [
        name
        for name, value in zip(REQUIRED_COLUMNS, (label, sample_id), strict=True)
        if value is None
    ]
    if missing:
        present = [name for name in REQUIRED_COLUMNS if name not in missing]
        given = sorted([*present, *(name for name in others if name not in _TRL_ARGUMENTS)])
        raise MissingColumnsError(
            f"the SpeciaRL reward needs the dataset column(s) {', '.join(missing)}, and TRL "
            f"passed only: {', '.join(given) or 'none'}. Give every row `label` (its true "
            "class name) and `sample_id` (a string unique to the row), and keep "
            "remove_unused_columns=False in GRPOConfig"
        )
    assert label is not None and sample_id is not None
    if not len(completions) == len(label) == len(sample_id):
        raise MissingColumnsError(
            f"{len(completions)} completions but {len(label)} labels and {len(sample_id)} "
            "sample ids: give one of each per completion"
        )
    return label, [str(sid) for sid in sample_id]


class JudgeOutage(RuntimeError):
    """The judge left too many rollouts undecided for longer than ``judge.outage_timeout``."""


@dataclass(frozen=True, slots=True)
class _Judged:
    """What every process needs to know of one rollout to compute group rewards."""

    sample_id: str
    verdict: str | None
    formatted: bool


class SpeciaRLReward:
    """``reward_funcs=[SpeciaRLReward(...)]`` for TRL's ``GRPOTrainer``.

    ``gather`` returns every process's payload in rank order (by default through
    ``torch.distributed``); ``rollout_log`` receives one record per local rollout and step
    (and generation round, under dynamic sampling: :attr:`generation_round`).
    TRL logs the reward under this object's ``__name__``, the scheme's name
    (``rewards/binary/mean``), so runs of different schemes say which reward they logged.

    Undecided well-formed rollouts get ``None`` (masked; ``masks_undecided`` tells the trainer
    which reward function's ``None`` means that). ``endpoint`` is the LLM judge's base URL: with
    one, a step whose undecided share exceeds ``max_undecided`` waits for the judge (at most
    ``outage_timeout`` seconds), re-judging the undecided rollouts; without one the judges are
    deterministic and asking again would change nothing.
    """

    masks_undecided = True
    generation_round: int | None = None
    """Set by :class:`~speciarl.train.dynamic_sampling.DynamicSamplingGRPOTrainer` before each
    generation round of a step (1-based) and logged as each record's ``round``: a step may
    score several rounds, and one image may appear in two. ``None`` (one round per step, or a
    user's own TRL script): records carry no ``round``."""

    def __init__(
        self,
        judge: Judge,
        settings: RewardSettings,
        *,
        num_generations: int,
        prompt_name: str,
        seed: int = 0,
        gather: Callable[[Any], list[Any]] | None = None,
        rollout_log: RolloutLog | None = None,
        endpoint: str | None = None,
        max_undecided: float = 0.05,
        outage_timeout: float = 600.0,
    ) -> None:
        self.__name__ = settings.scheme
        self.judge = judge
        self.settings = settings
        self.num_generations = num_generations
        self.prompt_name = prompt_name
        self.seed = seed
        self.gather = gather or gather_payloads
        self.rollout_log = rollout_log
        self.endpoint = endpoint
        self.max_undecided = max_undecided
        self.outage_timeout = outage_timeout
        self.sleep: Callable[[float], None] = time.sleep
        self.clock: Callable[[], float] = time.monotonic
        self.calls = 0

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        *,
        label: Sequence[str] | None = None,
        sample_id: Sequence[Any] | None = None,
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        label, sample_id = _required_columns(completions, label, sample_id, columns)
        step = trainer_state.global_step if trainer_state is not None else self.calls
        self.calls += 1
        texts = [_completion_text(completion) for completion in completions]
        before = _judge_counters(self.judge)
        judged = self._judge(texts, label)
        local = _payload(sample_id, judged)
        slices = self.gather(local)
        position = _position_of(slices, local)
        outage = _Outage()
        if self.endpoint is not None and self._too_many_undecided(slices):
            judged, slices = self._wait_for_judge(texts, label, sample_id, judged, slices, outage)
        everyone = [item for part in slices for item in part]
        start = sum(len(part) for part in slices[:position])
        rewards = self._group_rewards(everyone, step)
        mine = rewards[start : start + len(judged)]
        masked = [_undecided(item) for item in everyone[start : start + len(judged)]]
        if log_metric is not None:
            counts = _judge_counters(self.judge) - before
            self._log_metrics(everyone, rewards, counts, log_metric)
            log_metric("speciarl/judge/outage_wait_s", outage.waited_s)
            log_metric("speciarl/judge/rejudged", outage.rejudged)
        if self.rollout_log is not None:
            # a masked rollout is logged with reward null: it was never rewarded
            logged = [
                dataclasses.replace(reward, reward=None) if hidden else reward  # type: ignore[arg-type]
                for reward, hidden in zip(mine, masked, strict=True)
            ]
            self.rollout_log.write(
                step,
                self.prompt_name,
                sample_id,
                texts,
                judged,
                logged,
                generation_round=self.generation_round,
            )
        return [
            None if hidden else reward.reward for reward, hidden in zip(mine, masked, strict=True)
        ]

    def _judge(self, texts: Sequence[str], labels: Sequence[str]) -> list[Any]:
        return judge_rollouts(
            texts,
            labels,
            self.judge,
            max_words=self.settings.max_words,
            max_chars=self.settings.max_chars,
        )

    def _too_many_undecided(self, slices: list[list[_Judged]]) -> bool:
        total = sum(map(len, slices))
        return _count_undecided(slices) > self.max_undecided * total

    def _wait_for_judge(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        sample_ids: Sequence[str],
        judged: list[Any],
        slices: list[list[_Judged]],
        outage: _Outage,
    ) -> tuple[list[Any], list[list[_Judged]]]:
        """Ask the judge again about the undecided rollouts, with backoff, until few enough are
        undecided; a :class:`JudgeOutage` after ``outage_timeout``. Each round gathers every
        process's verdicts and whether its clock ran out, so all processes leave together."""
        started = self.clock()
        delay = BACKOFF_FIRST_S
        log.warning(
            "the judge at %s left %d of %d rollouts undecided; waiting for it (at most %g s)",
            self.endpoint,
            _count_undecided(slices),
            sum(map(len, slices)),
            self.outage_timeout,
        )
        while self._too_many_undecided(slices):
            left = self.outage_timeout - (self.clock() - started)
            expired = left <= 0
            if not expired:
                self.sleep(min(delay, left))
                delay = min(2 * delay, BACKOFF_MAX_S)
                outage.rejudged += _count_undecided(slices)
                again = [
                    index
                    for index, (answer, judgement) in enumerate(judged)
                    if answer.formatted and judgement.verdict is None
                ]
                if again:
                    fresh = self._judge([texts[i] for i in again], [labels[i] for i in again])
                    for index, pair in zip(again, fresh, strict=True):
                        judged[index] = pair
            rounds = self.gather((_payload(sample_ids, judged), expired))
            slices = [part for part, _ in rounds]
            outage.waited_s = self.clock() - started
            if any(flag for _, flag in rounds):
                raise JudgeOutage(self._outage_message(slices, outage.waited_s))
        log.warning("the judge at %s is back after %.1f s", self.endpoint, outage.waited_s)
        return judged, slices

    def _outage_message(self, slices: list[list[_Judged]], waited_s: float) -> str:
        total = sum(map(len, slices))
        return (
            f"the LLM judge at {self.endpoint} (judge.endpoint) still leaves "
            f"{_count_undecided(slices)} of {total} rollouts of this step undecided after "
            f"{waited_s:.0f} s of waiting (judge.outage_timeout {self.outage_timeout:g} s, "
            f"judge.max_undecided {self.max_undecided:g}), so the run stops rather than train "
            "without rewards. The last checkpoint is kept: once the judge answers again, resume "
            "with `speciarl train --config RECIPE --resume`"
        )

    def _group_rewards(self, everyone: list[_Judged], step: int) -> list[RolloutReward]:
        sizes = Counter(item.sample_id for item in everyone)
        broken = {sid: size for sid, size in sizes.items() if size != self.num_generations}
        if broken:
            sid, size = next(iter(broken.items()))
            raise GroupError(
                f"image {sid} has {size} rollouts in this reward call, expected "
                f"num_generations={self.num_generations}: its group is split or duplicated. "
                "Make per_device_batch_size x gradient accumulation a multiple of "
                "num_generations, and keep sample ids unique in the training set"
            )
        verdicts = [Verdict(item.verdict) if item.verdict else None for item in everyone]
        if self.settings.noise > 0:
            verdicts = add_verdict_noise(verdicts, self.settings.noise, self._noise_rng(step))
        return batch_rewards(
            verdicts,
            [item.sample_id for item in everyone],
            self.settings.scheme,
            [item.formatted for item in everyone],
            format_penalty=self.settings.format_penalty,
        )

    def _noise_rng(self, step: int) -> random.Random:
        """The same noise on every process (they all corrupt the same gathered list)."""
        digest = hashlib.sha256(f"{self.seed}:{step}:{self.calls}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def _log_metrics(
        self,
        everyone: list[_Judged],
        rewards: list[RolloutReward],
        judge_counts: Counter[str],
        log_metric: Callable[[str, float], None],
    ) -> None:
        summary = summarize([reward.verdict for reward in rewards])
        for verdict in VERDICTS:
            log_metric(f"speciarl/verdict/{verdict.value}", summary["shares"][verdict.value])
        for name in ("correctness", "specificity", "hm"):
            log_metric(f"speciarl/{name}", summary[name])
        references = Counter(
            reward.reference.value if reward.reference else "none" for reward in rewards
        )
        for level in [*(v.value for v in VERDICTS), "none"]:
            log_metric(f"speciarl/c_star/{level}", references[level] / len(rewards))
        formatted = sum(item.formatted for item in everyone)
        log_metric("speciarl/format_failure", 1 - formatted / len(everyone))
        undecided = sum(map(_undecided, everyone))
        log_metric("speciarl/undecided", undecided / len(everyone))
        log_metric("speciarl/undecided_count", undecided)
        log_metric("speciarl/judge/llm_calls", judge_counts["llm_calls"])
        log_metric("speciarl/judge/cache_hits", judge_counts["cache_hits"])
        log_metric("speciarl/judge/cache_errors", judge_counts["cache_errors"])


@dataclass(slots=True)
class _Outage:
    """What waiting for the judge cost one step."""

    waited_s: float = 0.0
    rejudged: int = 0
    """Rollouts asked about again, all processes and rounds together."""


def _payload(sample_ids: Sequence[str], judged: Sequence[Any]) -> list[_Judged]:
    return [
        _Judged(sid, j.verdict.value if j.verdict else None, answer.formatted)
        for sid, (answer, j) in zip(sample_ids, judged, strict=True)
    ]


def _undecided(item: _Judged) -> bool:
    """A well-formed answer without a verdict: masked (format failures keep their penalty)."""
    return item.formatted and item.verdict is None


def _count_undecided(slices: list[list[_Judged]]) -> int:
    return sum(_undecided(item) for part in slices for item in part)


def _completion_text(completion: Any) -> str:
    """TRL passes conversational completions as message lists, plain ones as strings."""
    if isinstance(completion, str):
        return completion
    return "".join(str(message.get("content", "")) for message in completion)


def _position_of(slices: list[list[_Judged]], local: list[_Judged]) -> int:
    """This process's place among the gathered slices: its rank when distributed."""
    if len(slices) == 1:
        return 0
    rank, world = rank_and_world()
    if world != len(slices) or slices[rank] != local:
        raise GroupError("the gathered rollouts do not match this process's own slice")
    return rank


def _judge_counters(judge: Judge) -> Counter[str]:
    from speciarl.judges.factory import judges_in

    total: Counter[str] = Counter()
    for member in judges_in(judge):
        total.update(member.counters)
    return total
