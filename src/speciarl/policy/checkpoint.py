"""Is a model there to load? A local checkpoint folder, or a Hub id that is cached or known.

Checked before any work that loads it (training, prediction), so that a mistyped path costs one
line naming the setting instead of a traceback after the data was built. Every message starts
with the setting to fix (``model``, ``--model``, ...), as the caller's user names it.
"""

from __future__ import annotations

from pathlib import Path

HUB_TIMEOUT_S = 5.0
"""How long to wait for the Hub to confirm a model id: a start-up check must never hang."""


class CheckpointError(ValueError):
    """The model (or adapter) asked for is not there."""


class HubUnreachableError(CheckpointError):
    """A Hub id that is not cached here, and the Hub did not answer: it cannot load here now,
    though it may where and when the Hub is reachable."""


def check_checkpoint(value: str, option: str, marker: str = "config.json") -> str:
    """Where ``value`` loads from, in a few words; raises :class:`CheckpointError` if it is not
    there (:class:`HubUnreachableError` if that could not be told).

    A local folder must hold ``marker`` (``config.json``, ``adapter_config.json``). A value that
    is not a folder here is taken for a Hub id when it looks like one (``name`` or ``org/name``)
    and does not start with a folder that exists here: ``runs/x`` next to a ``runs/`` folder is a
    mistyped path, not a model on the Hub.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    path = Path(value).expanduser()
    if path.is_dir():
        if not (path / marker).is_file():
            raise CheckpointError(f"{option} {value}: no {marker} in this folder")
        return f"checkpoint folder {path}"
    if path.exists():
        raise CheckpointError(f"{option} {value}: not a folder")
    try:
        validate_repo_id(value)
    except HFValidationError:
        raise CheckpointError(f"{option} {value}: no such folder") from None
    first = Path(value).parts[0]
    if "/" in value and Path(first).is_dir():
        raise CheckpointError(
            f"{option} {value}: no such folder (not taken for a Hub id: {first}/ is a folder here)"
        )
    return _check_hub_id(value, option, marker)


def _check_hub_id(value: str, option: str, marker: str) -> str:
    from huggingface_hub import HfApi, constants, try_to_load_from_cache
    from huggingface_hub.errors import RepositoryNotFoundError

    if isinstance(try_to_load_from_cache(value, marker), str):
        return f"{value}, in the local Hugging Face cache"
    if constants.HF_HUB_OFFLINE:
        raise CheckpointError(
            f"{option} {value}: no such folder, and not in the local Hugging Face cache "
            "(HF_HUB_OFFLINE is set)"
        )
    try:
        HfApi().model_info(value, timeout=HUB_TIMEOUT_S)
    except RepositoryNotFoundError:
        raise CheckpointError(
            f"{option} {value}: no such folder, and no such model on the Hub (or it is private: "
            "log in with `hf auth login`)"
        ) from None
    except Exception as error:  # no network, a proxy, a timeout: all mean "could not tell"
        raise HubUnreachableError(
            f"{option} {value}: no such folder, not in the local Hugging Face cache, and the Hub "
            f"did not answer ({type(error).__name__})"
        ) from None
    return f"{value}, on the Hub"
