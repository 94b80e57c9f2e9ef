"""The judge set-up of ``verify`` and ``eval``: lexical and taxonomy judges, optionally an LLM.

A *set-up* is what the user chooses (the LLM model and prompt, or none; the hierarchy, when
``--hierarchy`` names one); its id names it in the manifest and for ``report --judge``. Each
dataset gets its own cascade, whose `judge_id` names that dataset's verdict store. Its hierarchy
is the ``--hierarchy`` one, else the shipped dataset's; a user's own dataset ships none, so
without ``--hierarchy`` only exact names (the lexical judge) and the LLM decide. The cache is not
part of either: it only returns verdicts the same judge gave before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from speciarl.echo import Echo
from speciarl.judges.base import Judge
from speciarl.judges.cache import VerdictCache
from speciarl.judges.hierarchy import Hierarchy

NO_LLM = "hierarchy"
"""The set-up id of the lexical and taxonomy judges alone (each dataset's own hierarchy)."""
GIVEN_HIERARCHY = "taxonomy-"
"""The set-up id of the lexical and taxonomy judges with the ``--hierarchy`` one, before 8 hex
digits of its digest (not ``hierarchy-``: ``report --judge hierarchy`` must stay unambiguous)."""


class Judging:
    """Judge options, checked up front: the hierarchy loads, the LLM's options pair up, its
    prompt exists, its endpoint answers and serves the model, the cache opens. Errors name the
    option."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        judge_model: str | None = None,
        judge_prompt: str | None = None,
        cache: Path | None = None,
        redis: str | None = None,
        hierarchy: str | None = None,
    ) -> None:
        from speciarl.data.registry import named_hierarchy
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
        self.hierarchy = hierarchy
        self._given: Hierarchy | None = None
        if hierarchy is not None:
            try:
                self._given = named_hierarchy(hierarchy)
            except (ValueError, OSError) as error:  # DatasetError, HierarchyError, unreadable
                raise ValueError(f"--hierarchy: {error}") from None
        self._shipped: dict[str, Hierarchy] = {}
        self._warned: set[str] = set()
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
        """``hierarchy``, or ``llm-`` and 8 hex digits of the LLM judge's identity; with
        ``--hierarchy``, ``taxonomy-`` and 8 hex digits of its digest, or ``llm-`` and 8 of the
        LLM judge's identity and that digest, so that each hierarchy keeps its own set-up."""
        given = self._given.digest if self._given is not None else None
        if self._llm_judge is None:
            return NO_LLM if given is None else GIVEN_HIERARCHY + given[:8]
        chosen = self._llm_judge.identity + (f"\nhierarchy:{given}" if given else "")
        return "llm-" + hashlib.sha256(chosen.encode()).hexdigest()[:8]

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

    def hierarchy_for(self, dataset: str) -> Hierarchy | None:
        """The ``--hierarchy`` one, else the shipped dataset's; ``None`` for a user's dataset
        (a name not in the registry) without ``--hierarchy``."""
        from speciarl.data.registry import REGISTRY

        if self._given is not None:
            return self._given
        if dataset not in REGISTRY:
            return None
        if dataset not in self._shipped:
            self._shipped[dataset] = REGISTRY[dataset].hierarchy()
        return self._shipped[dataset]

    def hierarchy_source(self, dataset: str) -> str | None:
        """Where ``dataset``'s hierarchy comes from, for the manifest: the ``--hierarchy`` file
        (its absolute path) or dataset name, the shipped dataset's name, or ``None``."""
        from speciarl.data.registry import REGISTRY

        if self.hierarchy is not None:
            given = self.hierarchy
            return given if given in REGISTRY else str(Path(given).resolve())
        return dataset if self.hierarchy_for(dataset) is not None else None

    def judge_for(self, dataset: str) -> Judge:
        """The cascade for one dataset: its hierarchy (if any), the LLM (if any), behind the
        cache (if any, and if either is there: the lexical judge alone is never cached)."""
        from speciarl.judges.factory import build_judge

        hierarchy = self.hierarchy_for(dataset)
        cache = self._open_cache() if hierarchy is not None or self.llm is not None else None
        return build_judge("cascade", hierarchy=hierarchy, llm=self.llm, cache=cache)

    def warnings_for(self, dataset: str, labels: Iterable[str]) -> list[str]:
        """What a user should know before ``dataset`` is judged: its labels missing from the
        judge's hierarchy, or that it has no hierarchy at all (and the cache is then unused)."""
        from speciarl.data.coverage import label_coverage, missing_labels_warning

        llm = self.llm is not None
        hierarchy = self.hierarchy_for(dataset)
        if hierarchy is not None:
            coverage = label_coverage(labels, hierarchy)
            warning = missing_labels_warning(
                coverage, dataset, llm=llm, hierarchy_option=self.hierarchy or dataset
            )
            return [warning] if warning is not None else []
        deciders = "exact names (the lexical judge) and the LLM judge decide"
        if not llm:
            deciders = "exact names (the lexical judge) decide, as no LLM judge is set"
            if self.cache_path is not None or self.redis is not None:
                option = "--redis" if self.redis is not None else "--cache"
                deciders += f" ({option} goes unused: the lexical judge alone is never cached)"
        return [
            f"{dataset}: all {len(set(labels))} labels lack a hierarchy ({dataset} is not a "
            f"shipped dataset and no --hierarchy is given), so only {deciders}; give one with "
            "--hierarchy FILE (`speciarl hierarchy draft --labels FILE` writes a start)"
        ]

    def warn(self, dataset: str, labels: Iterable[str], echo: Echo) -> None:
        """Echo `warnings_for` ``dataset``, once per dataset (``eval`` warns from the checked
        samples before predicting; its verification then stays quiet)."""
        if dataset in self._warned:
            return
        self._warned.add(dataset)
        for warning in self.warnings_for(dataset, labels):
            echo(f"warning: {warning}")

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
