"""Is the judge model there? One ``GET /models`` before any work that depends on it.

A run whose judge is down or misnamed would otherwise train or evaluate for hours on undecided
verdicts. The check costs one request; its errors name the setting to fix (a recipe key such as
``judge.endpoint`` or a command-line option such as ``--endpoint``), in one line.
"""

from __future__ import annotations

import os


class JudgeEndpointError(ValueError):
    """The judge endpoint does not answer, or does not serve the model asked for."""


def check_judge_endpoint(
    endpoint: str,
    model: str,
    *,
    endpoint_key: str = "--endpoint",
    model_key: str = "--model",
    api_key: str | None = None,
    timeout_s: float = 10.0,
) -> None:
    """Raise :class:`JudgeEndpointError` unless ``endpoint`` answers and lists ``model``.

    ``endpoint_key`` and ``model_key`` are how the caller's user names the two settings.
    """
    import openai

    client = openai.OpenAI(
        base_url=endpoint,
        api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
        timeout=timeout_s,
        max_retries=1,
    )
    try:
        served = sorted(entry.id for entry in client.models.list())
    except openai.APIConnectionError as error:
        cause = error.__cause__ or error
        raise JudgeEndpointError(
            f"{endpoint_key} {endpoint}: no answer ({type(cause).__name__}); start the judge "
            "server (e.g. `vllm serve MODEL`) or fix the URL"
        ) from None
    except openai.APIStatusError as error:
        raise JudgeEndpointError(
            f"{endpoint_key} {endpoint}: GET /models answered HTTP {error.status_code}; is this "
            "an OpenAI-compatible base URL (usually ending in /v1), and is the API key right?"
        ) from None
    finally:
        client.close()
    if model not in served:
        listed = ", ".join(served) if served else "no models"
        raise JudgeEndpointError(
            f"{model_key} {model!r} is not served at {endpoint} (it serves: {listed})"
        )
