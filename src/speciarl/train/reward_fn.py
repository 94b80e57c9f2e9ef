"""The SpeciaRL reward as a TRL reward function, with whole groups across processes.

TRL calls a reward function with this process's slice of the generation batch. A SpeciaRL
reward needs the whole group (the N rollouts of one image), and with several processes a group
can be split between them. So each process judges its own slice (judging stays parallel), the
verdicts — a few bytes each — are gathered from every process, every process computes the same
group rewards for the whole batch, and each returns its own slice. Groups are keyed by
``sample_id``; a group whose size is not ``num_generations`` stops training with a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from speciarl.judges.base import Judge
from speciarl.metrics import summarize
from speciarl.reward import RolloutReward, add_verdict_noise, batch_rewards
from speciarl.rollouts import judge_rollouts
from speciarl.train.config import RewardSettings
from speciarl.train.distributed import gather_payloads, rank_and_world
from speciarl.verdict import VERDICTS, Verdict


class GroupError(RuntimeError):
    """Rollouts of one image that do not form one whole group."""


@dataclass(frozen=True, slots=True)
class _Judged:
    """What every process needs to know of one rollout to compute group rewards."""

    sample_id: str
    verdict: str | None
    formatted: bool


class SpeciaRLReward:
    """``reward_funcs=[SpeciaRLReward(...)]`` for TRL's ``GRPOTrainer``.

    ``gather`` returns every process's payload in rank order (by default through
    ``torch.distributed``); ``rollout_log`` receives one record per local rollout and step.
    TRL logs the reward under this object's ``__name__``, the scheme's name
    (``rewards/binary/mean``), so runs of different schemes say which reward they logged.
    """

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
    ) -> None:
        self.__name__ = settings.scheme
        self.judge = judge
        self.settings = settings
        self.num_generations = num_generations
        self.prompt_name = prompt_name
        self.seed = seed
        self.gather = gather or gather_payloads
        self.rollout_log = rollout_log
        self.calls = 0

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Any] | None = None,
        *,
        label: Sequence[str],
        sample_id: Sequence[str],
        trainer_state: Any = None,
        log_metric: Callable[[str, float], None] | None = None,
        **columns: Any,
    ) -> list[float]:
        step = trainer_state.global_step if trainer_state is not None else self.calls
        self.calls += 1
        texts = [_completion_text(completion) for completion in completions]
        before = _judge_counters(self.judge)
        judged = judge_rollouts(
            texts,
            label,
            self.judge,
            max_words=self.settings.max_words,
            max_chars=self.settings.max_chars,
        )
        local = [
            _Judged(sid, j.verdict.value if j.verdict else None, answer.formatted)
            for sid, (answer, j) in zip(sample_id, judged, strict=True)
        ]
        slices = self.gather(local)
        everyone = [item for part in slices for item in part]
        start = sum(len(part) for part in slices[: _position_of(slices, local)])
        rewards = self._group_rewards(everyone, step)
        mine = rewards[start : start + len(local)]
        if log_metric is not None:
            self._log_metrics(everyone, rewards, _judge_counters(self.judge) - before, log_metric)
        if self.rollout_log is not None:
            self.rollout_log.write(step, self.prompt_name, sample_id, texts, judged, mine)
        return [reward.reward for reward in mine]

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
        undecided = sum(item.formatted and item.verdict is None for item in everyone)
        log_metric("speciarl/undecided", undecided / len(everyone))
        log_metric("speciarl/judge/llm_calls", judge_counts["llm_calls"])
        log_metric("speciarl/judge/cache_hits", judge_counts["cache_hits"])


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


class RolloutLog:
    """Appends one JSON line per rollout to ``rollouts/rank<R>.jsonl`` in the run folder.

    Each process writes its own file, so no two writers share one; each call ends with a flush
    and fsync, so a crash loses at most the step being written. Rows carry the step: a resumed
    run may log again the steps after its last checkpoint.
    """

    def __init__(self, run_dir: Path) -> None:
        self.folder = run_dir / "rollouts"

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
    ) -> None:
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
                }
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
            stream.flush()
            os.fsync(stream.fileno())
