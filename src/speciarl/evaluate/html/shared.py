"""What every page shares: the template environment, verdict colours and order, untrusted text
embedded safely, thumbnails and plots as data URIs, and the atomic write of a page.

Predictions are untrusted text (a model optimised for reward wrote them): templates autoescape
everything, and data for the page's scripts goes into a JSON block in which ``<``, ``>`` and
``&`` are escaped, so no answer can close the block (``</script>``) or open a tag.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from speciarl.atomic import atomic_write
from speciarl.evaluate.report import LABELS
from speciarl.metrics import UNJUDGED
from speciarl.verdict import VERDICTS, Verdict

THUMBNAIL_SIDE = 160
"""Longest side, in pixels, of an embedded thumbnail: enough to recognise an image in a card."""

PAGE_SIZE = 24
"""Cards a gallery shows at a time."""

REASONING_CHARS = 4000
"""Reasoning longer than this is cut in a page (the stores keep all of it); the page says so."""

VERDICT_NAMES: tuple[str, ...] = tuple(verdict.value for verdict in VERDICTS)
"""The six verdicts as stores and logs spell them, worst first."""

_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_UNSAFE = re.compile("[<>&\u2028\u2029]")
_ANSWER_BLOCK = re.compile(r"<answer>.*?(?:</answer>|$)", re.IGNORECASE | re.DOTALL)
_THINK_TAG = re.compile(r"</?think>", re.IGNORECASE)


def embed_json(data: Any) -> Markup:
    """``data`` as JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Markup(_JSON_UNSAFE.sub(lambda found: _JSON_ESCAPES[found.group()], text))


def text_colour(label: str) -> str:
    """A readable text colour on the verdict's colour: white on the dark ones."""
    from speciarl.evaluate.plots import DARK_VERDICT_COLOURS  # matplotlib: only when drawing

    return "#fff" if label in DARK_VERDICT_COLOURS else "#000"


def verdict_rank(label: str) -> int:
    """Worst to best for comparing pages' verdict labels: `Verdict.rank`, with an unjudged
    prediction (format failure, undecided, failed) below wrong."""
    return -1 if label == UNJUDGED else Verdict(label).rank


def unknown_verdict(value: object, where: str) -> ValueError:
    """The error for a verdict a store or log holds that is none of the six."""
    return ValueError(
        f"{where}: unknown verdict {value!r}; expected one of {', '.join(VERDICT_NAMES)} (or none)"
    )


def verdict_palette() -> dict[str, dict[str, str]]:
    """Each verdict label's colour (the plots' colours) and a readable text colour on it."""
    from speciarl.evaluate.plots import VERDICT_COLOURS

    return {
        label: {"background": VERDICT_COLOURS[label], "text": text_colour(label)}
        for label in LABELS
    }


def reasoning_of(completion: str | None) -> str:
    """The completion without its answer block and think tags: what the model reasoned."""
    if not completion:
        return ""
    return _THINK_TAG.sub("", _ANSWER_BLOCK.sub("", completion)).strip()


def clipped(text: str, limit: int = REASONING_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters in the stores]"


def thumbnail_uri(image: bytes, side: int = THUMBNAIL_SIDE) -> str:
    """A small JPEG of an encoded image as a ``data:`` URI; raises ``ValueError`` if the bytes
    are not an image Pillow can decode."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image)) as opened:
            picture = opened.convert("RGB")
    except UnidentifiedImageError:
        raise ValueError("not an image Pillow can read") from None
    except (OSError, ValueError) as error:
        raise ValueError(f"a damaged image ({error})") from None
    picture.thumbnail((side, side))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=80, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def png_file_uri(path: Path) -> str | None:
    """A PNG file (a plot) as a ``data:`` URI; ``None`` when it is not there."""
    return png_uri(path.read_bytes()) if path.is_file() else None


def figure_png(figure: Any) -> bytes:
    """A matplotlib figure as PNG bytes, the figure closed afterwards."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    finally:
        plt.close(figure)
    return buffer.getvalue()


@lru_cache(maxsize=1)
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("speciarl.evaluate.html", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["json"] = embed_json
    return environment


def render_page(template: str, **context: Any) -> str:
    """A page from ``templates/<template>``; every value is escaped unless marked safe."""
    base: Mapping[str, Any] = {
        "palette": verdict_palette(),
        "labels": list(LABELS),
        "unjudged": UNJUDGED,
    }
    return _environment().get_template(template).render(**base, **context)


def write_page(path: Path, html: str) -> Path:
    """Write a page atomically; returns its path."""
    with atomic_write(path) as stream:
        stream.write(html)
    return path
