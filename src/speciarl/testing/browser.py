"""Headless Chromium driven over the Chrome DevTools Protocol, to check pages in a real browser.

The tests of the HTML pages and ``bench/html_report.py`` open a page with it and read what a
user's browser would do: console errors and uncaught exceptions, every network request (any
``http``, ``https`` or ``ws`` request is blocked and recorded, so a page that reaches out is
caught), images that fail to decode, and how long the page takes to load. Needs Debian's
``chromium`` (``make chromium``) and ``websocket-client`` (the ``dev`` extra).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from speciarl.atomic import atomic_path

BLOCKED = ("http://*", "https://*", "ws://*", "wss://*", "ftp://*")
"""URL patterns no checked page may load: a self-contained page needs none of them."""

_FLAGS = (
    "--headless=new",
    "--no-sandbox",  # root in containers and CI has no user namespace sandbox
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--mute-audio",
    "--remote-allow-origins=*",
    "--remote-debugging-port=0",
)


def chromium_binary() -> str | None:
    """Path of the installed Chromium, or ``None``."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """Chromium did not start or answer in time, or was asked something out of order."""


@dataclass
class PageLoad:
    """What happened while a page loaded and was used: its problems and its requests."""

    seconds: float
    problems: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and browser log errors (CSP violations, failed
    loads), one line each."""
    requests: list[str] = field(default_factory=list)
    """The URL of every request the page made (``data:`` URLs shortened)."""


class Chromium:
    """One headless Chromium with one tab; use as a context manager."""

    def __init__(self, *, width: int = 1400, height: int = 1000, timeout: float = 60.0) -> None:
        binary = chromium_binary()
        if binary is None:
            raise BrowserError("chromium is not installed (make chromium)")
        self._profile = Path(tempfile.mkdtemp(prefix="speciarl-chromium-"))
        self._timeout = timeout
        self._process = subprocess.Popen(
            [
                binary,
                *_FLAGS,
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = self._port()
            self._socket = self._connect(port)
        except BaseException:
            self.close()
            raise
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self._current: PageLoad | None = None
        self._loader: str | None = None
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Network.setBlockedURLs", urls=list(BLOCKED))
        self.send("Network.setCacheDisabled", cacheDisabled=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        socket = getattr(self, "_socket", None)
        if socket is not None:
            socket.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    def _port(self) -> int:
        """The debugging port Chromium chose, from the file it writes into its profile."""
        marker = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrowserError(f"chromium exited with code {self._process.returncode}")
            if marker.is_file():
                lines = marker.read_text().splitlines()
                if lines and lines[0].isdigit():
                    return int(lines[0])
            time.sleep(0.05)
        raise BrowserError(f"chromium did not open its debugging port in {self._timeout:.0f} s")

    def _connect(self, port: int) -> Any:
        import websocket

        url = f"http://127.0.0.1:{port}/json/list"
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as reply:
                    pages = [target for target in json.load(reply) if target["type"] == "page"]
            except (OSError, ValueError) as error:
                raise BrowserError(
                    f"{url}: chromium's list of tabs is not readable: {error}"
                ) from None
            if pages:
                return websocket.create_connection(
                    pages[0]["webSocketDebuggerUrl"], timeout=self._timeout, suppress_origin=True
                )
            if time.monotonic() > deadline:
                raise BrowserError("chromium opened no tab")
            time.sleep(0.05)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a DevTools method and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            if "method" in message:
                self._events.append(message)

    def _wait_for(self, event: str) -> None:
        deadline = time.monotonic() + self._timeout
        seen = len(self._events)
        while True:
            if any(message["method"] == event for message in self._events[seen:]):
                return
            if time.monotonic() > deadline:
                raise BrowserError(f"no {event} within {self._timeout:.0f} s")
            message = json.loads(self._socket.recv())
            if "method" in message:
                self._events.append(message)

    def load(self, path: Path) -> PageLoad:
        """Open a local file and wait for its load event; the result keeps collecting problems
        and requests until the next `load` (read them through `report`)."""
        self._events.clear()
        start = time.perf_counter()
        navigation = self.send("Page.navigate", url=path.resolve().as_uri())
        self._wait_for("Page.loadEventFired")
        self._current = PageLoad(seconds=time.perf_counter() - start)
        self._loader = navigation.get("loaderId")
        return self.report()

    def report(self) -> PageLoad:
        """The current page's problems and requests so far (including after interactions)."""
        load = self._current
        if load is None:
            raise BrowserError("no page is loaded yet: call load() before report()")
        self.evaluate("0")  # flush events that arrived since
        load.problems = [line for line in map(_problem, self._events) if line is not None]
        load.requests = [
            _short(message["params"]["request"]["url"])
            for message in self._events
            if message["method"] == "Network.requestWillBeSent"
            and message["params"].get("loaderId") == self._loader
        ]
        return load

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {_exception_text(result['exceptionDetails'])}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """A PNG of the whole page (beyond the window's height), written atomically."""
        metrics = self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        )
        with atomic_path(path) as temporary:
            temporary.write_bytes(base64.b64decode(shot["data"]))
        return path


def _problem(message: dict[str, Any]) -> str | None:
    params = message.get("params", {})
    if message["method"] == "Runtime.exceptionThrown":
        return f"exception: {_exception_text(params['exceptionDetails'])}"
    if message["method"] == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
        text = " ".join(str(arg.get("value", arg.get("description", ""))) for arg in params["args"])
        return f"console.{params['type']}: {text}"
    if message["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
        entry = params["entry"]
        return f"log ({entry['source']}): {entry['text']} {_short(entry.get('url', ''))}".strip()
    return None


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    return exception.get("description") or details.get("text", "exception")


def _short(url: str) -> str:
    return url[:40] + "…" if url.startswith("data:") and len(url) > 40 else url
