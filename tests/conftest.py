import functools
import http.server
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis


@pytest.fixture
def http_server():
    """Serve folders over real HTTP on loopback; returns a function folder -> base URL."""
    servers = []

    def serve(folder) -> str:
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None  # type: ignore[method-assign]
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class RedisServer:
    """A throwaway redis-server on loopback; ``url`` holds no password, ``password`` does."""

    url: str
    password: str
    port: int

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, password=self.password)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers_ping(server: RedisServer, process: subprocess.Popen, timeout_s: float) -> bool:
    """Whether the server came up; ``False`` as soon as it exits (its port was taken)."""
    client = redis.Redis.from_url(server.url, password=server.password, socket_timeout=1)
    deadline = time.monotonic() + timeout_s
    try:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                time.sleep(0.01)
        return False
    finally:
        client.close()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server: password, no eviction, no persistence; killed afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not installed; `make test` installs it (Debian package redis-server)",
            pytrace=False,
        )
    directory = tmp_path_factory.mktemp("redis")
    password = secrets.token_hex(16)
    log_path = directory / "redis.log"
    for _ in range(3):  # a free port can be taken before the server binds it
        port = _free_port()
        server = RedisServer(f"redis://127.0.0.1:{port}/0", password, port)
        command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--protected-mode", "yes"]
        command += ["--requirepass", password, "--maxmemory-policy", "noeviction"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
        with log_path.open("ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        if _answers_ping(server, process, timeout_s=10):
            break
        process.kill()
        process.wait()
    else:
        pytest.fail(f"redis-server did not start:\n{log_path.read_text()}", pytrace=False)
    try:
        yield server
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """One tiny Qwen2.5-VL checkpoint, built once; tests read it and write elsewhere."""
    from speciarl.policy.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")
