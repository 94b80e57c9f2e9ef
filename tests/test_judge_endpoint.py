"""The start-up check of a judge endpoint, against a real HTTP server on loopback."""

import socket

import pytest

from speciarl.judges.endpoint import JudgeEndpointError, check_judge_endpoint
from speciarl.testing.openai_server import Reply, ScriptedOpenAIServer

JUDGE = "Qwen/Qwen3-30B-A3B-Instruct-2507"


def _closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_a_served_model_passes():
    with ScriptedOpenAIServer(lambda body: Reply("specific"), models=[JUDGE, "other"]) as server:
        check_judge_endpoint(server.base_url, JUDGE)


def test_a_closed_port_names_the_setting_and_the_url():
    url = _closed_port_url()
    with pytest.raises(JudgeEndpointError) as caught:
        check_judge_endpoint(url, JUDGE, endpoint_key="judge.endpoint", timeout_s=2)
    message = str(caught.value)
    assert message.startswith(f"judge.endpoint {url}: no answer")
    assert "\n" not in message


def test_a_misnamed_model_lists_what_is_served():
    served = ScriptedOpenAIServer(lambda body: Reply("specific"), models=["Qwen/Qwen3-8B"])
    with served as server, pytest.raises(JudgeEndpointError) as caught:
        check_judge_endpoint(server.base_url, JUDGE, model_key="judge.model")
    assert str(caught.value) == (
        f"judge.model {JUDGE!r} is not served at {server.base_url} (it serves: Qwen/Qwen3-8B)"
    )


def test_a_url_that_is_not_an_openai_base_names_the_http_status():
    with ScriptedOpenAIServer(lambda body: Reply("specific"), models=[JUDGE]) as server:
        wrong = server.base_url.removesuffix("/v1")  # /models is not there
        refused = r"--endpoint .*: GET /models answered HTTP 404"
        with pytest.raises(JudgeEndpointError, match=refused):
            check_judge_endpoint(wrong, JUDGE)
