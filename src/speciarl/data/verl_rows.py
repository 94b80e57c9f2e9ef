"""verl's RL dataset row format, defined once.

``speciarl data build NAME --layout verl`` (:mod:`speciarl.data.build`) writes these rows and
:mod:`speciarl.integrations.verl` reads their reward columns back in verl's reward hooks. The
format lives here, below both: ``data/`` never imports ``integrations/``.

A row holds verl's own columns (``prompt``, a chat message list whose content marks the image
with ``<image>``; ``images``, a list of one image; ``ability``) and the reward columns of
:func:`verl_row_fields`: ``data_source``, ``reward_model`` (``style``, ``ground_truth``) and
``extra_info`` (``sample_id``, ``index``). ``docs/verl.md`` says which verl versions read what.
"""

from __future__ import annotations

from typing import Any

IMAGE_MARKER = "<image>"
"""Where verl's RL dataset puts a row's image in a message's content."""

ABILITY = "classification"
"""The ``ability`` column of every row (verl keeps it as metadata)."""

REWARD_STYLE = "rule"
"""``reward_model.style``: the reward is computed by a function, not a reward model."""


def verl_row_fields(
    sample_id: str, data_source: str, label: str, index: int | None = None
) -> dict[str, Any]:
    """The reward-related columns of one verl training row.

    verl reads ``data_source`` and ``reward_model.ground_truth`` for every reward function;
    :func:`speciarl.integrations.verl.compute_score_batch` also needs ``extra_info.sample_id``
    to find the group. Prompt and image columns are verl's own (``prompt``, ``images``).
    """
    extra: dict[str, Any] = {"sample_id": sample_id}
    if index is not None:
        extra["index"] = index
    return {
        "data_source": data_source,
        "reward_model": {"style": REWARD_STYLE, "ground_truth": label},
        "extra_info": extra,
    }


def verl_row(
    *,
    sample_id: str,
    data_source: str,
    label: str,
    index: int | None,
    prompt_text: str,
    image: bytes,
) -> dict[str, Any]:
    """One whole verl training row: a one-message prompt with its image, and the reward columns."""
    return {
        "prompt": [{"role": "user", "content": IMAGE_MARKER + prompt_text}],
        "images": [{"bytes": image, "path": None}],
        "ability": ABILITY,
        **verl_row_fields(sample_id, data_source, label, index),
    }


def verl_features() -> Any:
    """The ``datasets.Features`` of :func:`verl_row` rows (images stored as bytes)."""
    import datasets

    text = datasets.Value("string")
    return datasets.Features(
        {
            "prompt": [{"role": text, "content": text}],
            "images": [datasets.Image()],
            "ability": text,
            "data_source": text,
            "reward_model": {"style": text, "ground_truth": text},
            "extra_info": {"sample_id": text, "index": datasets.Value("int64")},
        }
    )
