"""Who judged, in words and as a short id: for stored verdicts and the reports people read.

A judge's ``identity`` is exact but long and opaque. Verdict stores are named by a short hash of
it (verdicts of equal ids are interchangeable), and records and reports also say in words which
judges ran, with which LLM, prompt and label hierarchy.
"""

from __future__ import annotations

import hashlib
from typing import Any

from speciarl.judges.base import Judge
from speciarl.judges.factory import judges_in
from speciarl.judges.llm import LLMJudge
from speciarl.judges.taxonomy import TaxonomyJudge


def judge_id(judge: Judge) -> str:
    """12 hex digits of ``sha256(judge.identity)``: safe in a file name, changes with a verdict."""
    return hashlib.sha256(judge.identity.encode("utf-8")).hexdigest()[:12]


def deciding_judges(judge: Judge) -> list[Judge]:
    """The judges that give verdicts, in the order they are asked (no cascades, no caches)."""
    return [
        member
        for member in judges_in(judge)
        if not hasattr(member, "judges") and not hasattr(member, "inner")
    ]


def describe_judge(judge: Judge) -> dict[str, Any]:
    """Which judges run and what configures them: the hierarchy's name, the LLM and its prompt."""
    description: dict[str, Any] = {"judges": []}
    for member in deciding_judges(judge):
        description["judges"].append(member.name)
        if isinstance(member, TaxonomyJudge):
            description["hierarchy"] = member.hierarchy.name or "unnamed"
            description["hierarchy_digest"] = member.hierarchy.digest[:16]
        if isinstance(member, LLMJudge):
            description["llm_model"] = member.settings.model
            description["judge_prompt"] = member.prompt.name
            description["judge_prompt_version"] = member.prompt.version
    return description


def judge_summary(judge: Judge) -> str:
    """One line such as ``lexical > taxonomy[cub200] > llm[Qwen/Qwen3-8B, prompt base v1]``."""
    parts = []
    for member in deciding_judges(judge):
        if isinstance(member, TaxonomyJudge):
            parts.append(f"taxonomy[{member.hierarchy.name or 'unnamed'}]")
        elif isinstance(member, LLMJudge):
            prompt = member.prompt
            parts.append(f"llm[{member.settings.model}, prompt {prompt.name} v{prompt.version}]")
        else:
            parts.append(member.name)
    return " > ".join(parts)
