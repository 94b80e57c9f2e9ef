"""The judge set-up of ``verify`` and ``eval``: lexical and taxonomy judges, optionally an LLM.

A *set-up* is what the user chooses (the LLM model and prompt, or none); its id names it in the
manifest and for ``report --judge``. Each dataset gets its own cascade (its own hierarchy), whose
`judge_id` names that dataset's verdict store. The cache is not part of either: it only returns
verdicts the same judge gave before.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from speciarl.judges.base import Judge
from speciarl.judges.cache import VerdictCache

NO_LLM = "hierarchy"
"""The set-up id of the lexical and taxonomy judges alone."""


class Judging:
    """Judge options, checked up front: the LLM's options pair up, its prompt exists, its
    endpoint answers and serves the model, the cache opens. Errors name the option."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        judge_model: str | None = None,
        judge_prompt: str | None = None,
        cache: Path | None = None,
        redis: str | None = None,
    ) -> None:
        from speciarl.judges.judge_prompts import DEFAULT_JUDGE_PROMPT, JudgePromptError
        from speciarl.judges.llm import LLMJudge, LLMJudgeSettings

        if endpoint is not None and judge_model is None:
            raise ValueError("--endpoint needs --judge-model: the LLM judge needs both")
        if judge_model is not None and endpoint is None:
            raise ValueError("--judge-model needs --endpoint: the LLM judge needs both")
        if judge_prompt is not None and judge_model is None:
            raise ValueError(
                "--judge-prompt is the LLM judge's prompt; give --endpoint and --judge-model too"
            )
        if cache is not None and redis is not None:
            raise ValueError(
                "--cache and --redis: give one verdict cache (a file or a URL), not both"
            )
        self.cache_path, self.redis = cache, redis
        self.llm: LLMJudgeSettings | None = None
        self._llm_judge: LLMJudge | None = None
        if endpoint is not None and judge_model is not None:
            try:
                self.llm = LLMJudgeSettings(
                    endpoint=endpoint,
                    model=judge_model,
                    prompt=judge_prompt or DEFAULT_JUDGE_PROMPT,
                )
            except ValueError as error:
                raise ValueError(f"--endpoint: {error}") from None
            try:
                self._llm_judge = LLMJudge(self.llm)
            except JudgePromptError as error:
                raise ValueError(f"--judge-prompt: {error}") from None
        self._cache: VerdictCache | None = None
        self._cache_opened = False

    @property
    def setup_id(self) -> str:
        """``hierarchy``, or ``llm-`` and 8 hex digits of the LLM judge's identity."""
        if self._llm_judge is None:
            return NO_LLM
        return "llm-" + hashlib.sha256(self._llm_judge.identity.encode()).hexdigest()[:8]

    def llm_description(self) -> dict[str, Any] | None:
        if self._llm_judge is None:
            return None
        prompt = self._llm_judge.prompt
        return {
            "model": self._llm_judge.settings.model,
            "prompt": prompt.name,
            "prompt_version": prompt.version,
        }

    def check(self) -> None:
        """Ask the endpoint for its models (every call: it may have gone since); open the cache."""
        from speciarl.judges.endpoint import check_judge_endpoint

        if self.llm is not None:
            check_judge_endpoint(
                self.llm.endpoint,
                self.llm.model,
                endpoint_key="--endpoint",
                model_key="--judge-model",
            )
        self._open_cache()

    def judge_for(self, dataset: str) -> Judge:
        """The cascade for one dataset: its hierarchy, the LLM if any, behind the cache if any."""
        from speciarl.data.registry import get_dataset
        from speciarl.judges.factory import build_judge

        return build_judge(
            "cascade",
            hierarchy=get_dataset(dataset).hierarchy(),
            llm=self.llm,
            cache=self._open_cache(),
        )

    def _open_cache(self) -> VerdictCache | None:
        if self._cache_opened:
            return self._cache
        from speciarl.judges.factory import open_cache

        option, value = ("--redis", self.redis) if self.redis else ("--cache", self.cache_path)
        try:
            self._cache = open_cache(self.cache_path, self.redis)
        except Exception as error:  # sqlite3, OS and Redis errors: all mean "cannot use it"
            raise ValueError(f"{option} {value}: cannot open the verdict cache ({error})") from None
        self._cache_opened = True
        return self._cache
