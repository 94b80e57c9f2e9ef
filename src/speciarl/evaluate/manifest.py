"""``OUT/manifest.json``: how an evaluation folder's predictions were made and who judged them.

    {"format": 2,
     "predictions": {"model", "adapter", "split", "subset", "source", "backend",
                     "generation": {...}, "image_budget": {"min_pixels", "max_pixels"}},
     "judges": {"<set-up id>": {"llm": {...} or null, "last_verified": "<UTC time>",
                                "datasets": {"<dataset>": {"judge_id", "summary",
                                                           "description", "identity"}}}}}

``predictions`` holds everything that changes a prediction: a restart with other values is
refused, so one store never mixes two models, backends, decodings or image budgets. ``judges``
lists every judge set-up that verified the folder; a dataset's verdicts of a set-up are in
``<dataset>/verdicts-<judge id>.jsonl``. A format-1 manifest (the prediction settings alone, from
before backends and judges were recorded) can still be reported, not continued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from speciarl.atomic import atomic_write

MANIFEST = "manifest.json"
FORMAT = 2


@dataclass
class Manifest:
    predictions: dict[str, Any] | None = None
    judges: dict[str, dict[str, Any]] = field(default_factory=dict)
    format: int = FORMAT

    def judge_setup(self, wanted: str | None) -> tuple[str, dict[str, Any]] | None:
        """The set-up ``wanted`` (an id or its unique prefix), else the latest one verified."""
        if wanted is None:
            if not self.judges:
                return None
            latest = max(self.judges, key=lambda setup: self.judges[setup]["last_verified"])
            return latest, self.judges[latest]
        matches = [setup for setup in self.judges if setup.startswith(wanted)]
        if len(matches) != 1:
            listed = ", ".join(self.judges) or "none yet"
            found = "matches several" if matches else "is not a judge set-up of this folder"
            raise ValueError(f"--judge {wanted}: {found} (verified: {listed})")
        return matches[0], self.judges[matches[0]]


def read_manifest(out: Path) -> Manifest | None:
    """The folder's manifest, or ``None`` when it has none."""
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    if "format" not in data:
        return Manifest(predictions=data, format=1)
    if data["format"] != FORMAT:
        raise ValueError(
            f"{path}: format {data['format']!r} is not one this speciarl reads ({FORMAT})"
        )
    return Manifest(data.get("predictions"), data.get("judges", {}))


def record_predictions(out: Path, settings: dict[str, Any]) -> None:
    """Write the run's prediction settings, or refuse to mix them with other ones."""
    manifest = _writable(out)
    if manifest.predictions is None:
        manifest.predictions = settings
        _write(out, manifest)
        return
    changes = _differences(manifest.predictions, settings)
    if changes:
        raise ValueError(
            f"{out} holds predictions made with other settings ({'; '.join(changes)}); "
            "use another --out folder"
        )


def record_judge_setup(
    out: Path, setup: str, llm: dict[str, Any] | None, datasets: dict[str, dict[str, Any]]
) -> None:
    """Note that ``setup`` verifies ``datasets`` now; it becomes the set-up reports show."""
    manifest = _writable(out)
    entry = manifest.judges.setdefault(setup, {"llm": llm, "datasets": {}})
    entry["datasets"].update(datasets)
    entry["last_verified"] = datetime.now(UTC).isoformat()
    _write(out, manifest)


def _writable(out: Path) -> Manifest:
    manifest = read_manifest(out) or Manifest()
    if manifest.format != FORMAT:
        raise ValueError(
            f"{out / MANIFEST}: written by an older speciarl that did not record the backend, "
            "image budget or judges; `speciarl report` still reads this folder, but predict and "
            "verify need a new --out folder"
        )
    return manifest


def _write(out: Path, manifest: Manifest) -> None:
    data = {"format": FORMAT, "predictions": manifest.predictions, "judges": manifest.judges}
    with atomic_write(out / MANIFEST) as stream:
        json.dump(data, stream, indent=2, sort_keys=True)


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """``key: A here, B asked`` for every setting that differs, nested keys dotted."""
    changes = []
    for key in sorted({*old, *new}):
        before, after = old.get(key), new.get(key)
        if isinstance(before, dict) and isinstance(after, dict):
            changes += _differences(before, after, f"{prefix}{key}.")
        elif before != after:
            changes.append(f"{prefix}{key}: {before!r} here, {after!r} asked")
    return changes
