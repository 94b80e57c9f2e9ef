"""How long jobs report progress: one line of text at a time, to whatever the caller chose."""

from __future__ import annotations

from collections.abc import Callable

Echo = Callable[[str], None]
"""Takes one human-readable progress line: ``print`` by default, stderr in the CLI."""
