"""The ``synthetic`` benchmark: rendered shapes in a three-level closed-world hierarchy.

It exists so the whole SpeciaRL method can run end to end on a CPU with a tiny vision-language
model. Orders are shapes, families a shape in one colour, species a family with one marking::

    circle  >  red circle  >  striped red circle

Some families also hold *mimic* species drawn exactly like one of their siblings (``mimic red
circle``, ``false red circle`` and ``pseudo red circle`` all look like ``plain red circle``). No
model can tell such look-alikes apart, so on their images the best correct answer is the family:
guessing the species is right only one time in four. A mimic's name shares no word with the
marking it copies, so no judge can read two look-alikes as synonyms.

Everything is generated from ``SyntheticConfig.seed``. Only PCG64 bit streams and
``Generator.random`` are used, which NumPy keeps stable across versions, so the pixels are
reproducible anywhere; the PNG bytes also depend on Pillow's encoder.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from speciarl.data.errors import DatasetError
from speciarl.data.sample import Sample

NAME = "synthetic"
SPLITS = ("train", "val", "test")
ORDERS = ("circle", "square", "triangle", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 45, 45),
    "green": (40, 165, 70),
    "blue": (45, 90, 220),
}
MARKINGS = ("plain", "striped", "dotted")
MIMICS = ("mimic", "false", "pseudo")
"""Words naming the mimic species of a family, in place of a marking."""
MIN_IMAGE_SIZE = 64
MAX_IMAGE_SIZE = 224
"""Marking sizes are tuned for this range: below it dots blur, above it rendering slows."""
MAX_LOOKALIKE_FAMILIES = len(ORDERS) * len(COLOURS)
HIERARCHY_FILE = Path(__file__).parent / "hierarchies" / f"{NAME}.yaml"

_SPLIT_CODES = {"train": 1, "val": 2, "test": 3}
"""Fixed per split, so adding a split never changes the images of another."""
_ORDER_STREAM = 1
_IMAGE_STREAM = 2


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise DatasetError(f"{NAME}: unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _check_int(name: str, value: object, low: int, high: int | None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bounds}, got {value}")


@dataclass(frozen=True, slots=True)
class SyntheticConfig:
    """One instance of the benchmark; equal configs give identical images."""

    seed: int = 0
    image_size: int = 112
    train_per_species: int = 40
    val_per_species: int = 10
    test_per_species: int = 20
    lookalike_families: int = 4
    """How many families hold mimic species (0 to 12)."""
    mimics: int = 3
    """Mimic species in each such family (1 to 3): look-alike groups have one more member."""

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, 0, None)
        _check_int("image_size", self.image_size, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
        for split in SPLITS:
            _check_int(f"{split}_per_species", self.per_species(split), 0, None)
        _check_int("lookalike_families", self.lookalike_families, 0, MAX_LOOKALIKE_FAMILIES)
        _check_int("mimics", self.mimics, 1, len(MIMICS))

    def per_species(self, split: str) -> int:
        """Images of each species in ``split``."""
        _check_split(split)
        return getattr(self, f"{split}_per_species")


DEFAULT_CONFIG = SyntheticConfig()


@dataclass(frozen=True, slots=True)
class SpeciesInfo:
    """One class: its name, where it sits in the hierarchy and how it is drawn."""

    name: str
    family: str
    order: str
    colour: str
    marking: str
    """The marking drawn; a mimic is drawn with the marking of the sibling it copies."""
    lookalikes: tuple[str, ...] = ()
    """The other species drawn exactly alike, on every member of a look-alike group."""


def species(config: SyntheticConfig = DEFAULT_CONFIG) -> list[SpeciesInfo]:
    """Every species, grouped by order then family, mimics last in their family."""
    return list(_species(config.lookalike_families, config.mimics))


def lookalike_names(config: SyntheticConfig = DEFAULT_CONFIG) -> frozenset[str]:
    """The species that cannot be told apart from another: every member of every group."""
    return frozenset(info.name for info in species(config) if info.lookalikes)


def hierarchy_dict(config: SyntheticConfig = DEFAULT_CONFIG) -> dict[str, Any]:
    """The label hierarchy in the format of ``Hierarchy.from_dict``.

    Closed-world: every valid answer is a node, so anything else is wrong. An order is a broad
    parent (generic), a family a close one (less specific).
    """
    roots: dict[str, dict[str, Any]] = {}
    families: dict[str, dict[str, Any]] = {}
    for info in species(config):
        root = roots.setdefault(info.order, {"name": info.order, "rank": "broad", "children": []})
        if info.family not in families:
            families[info.family] = {"name": info.family, "rank": "close", "children": []}
            root["children"].append(families[info.family])
        families[info.family]["children"].append({"name": info.name})
    return {"name": NAME, "closed_world": True, "roots": list(roots.values())}


def hierarchy_yaml(config: SyntheticConfig = DEFAULT_CONFIG) -> str:
    """The hierarchy as the YAML file shipped in ``hierarchies/``, with its header."""
    header = (
        "# Generated by speciarl.data.synthetic.hierarchy_yaml() for SyntheticConfig("
        f"lookalike_families={config.lookalike_families}, mimics={config.mimics}); do not edit.\n"
        "# Regenerate: python -m speciarl.data.synthetic > "
        "src/speciarl/data/hierarchies/synthetic.yaml\n"
    )
    body = yaml.safe_dump(hierarchy_dict(config), sort_keys=False, width=100)
    return header + body


def load_split(split: str, config: SyntheticConfig = DEFAULT_CONFIG) -> list[Sample]:
    """The samples of ``split``; each image is rendered only when its bytes are read."""
    assignment = _assignment(config, split)
    return [
        Sample(
            NAME,
            split,
            index,
            info.name,
            info.name,
            partial(render, split, index, config),
            f"rendered from seed {config.seed}",
        )
        for index, info in enumerate(assignment)
    ]


def render(split: str, index: int, config: SyntheticConfig = DEFAULT_CONFIG) -> bytes:
    """The PNG of sample ``index`` of ``split``, the same bytes its ``Sample`` reads."""
    assignment = _assignment(config, split)
    if not 0 <= index < len(assignment):
        raise IndexError(f"{NAME}/{split} has {len(assignment)} images, no index {index}")
    rng = _generator(config.seed, _IMAGE_STREAM, _SPLIT_CODES[split], index)
    return _encode_png(render_array(assignment[index], config.image_size, rng))


def render_array(info: SpeciesInfo, size: int, rng: np.random.Generator) -> np.ndarray:
    """One image of ``info`` as ``size`` x ``size`` x 3 uint8.

    Only the order, colour and marking are read, so look-alikes share one image distribution. The
    draws are the same in number and order for every species: a sample's size, tints, marking
    phase and background depend on its seed alone. Shapes stand upright in the centre: a tiny
    vision transformer trained from scratch on a CPU learns position- and rotation-invariant
    shape only from far more images than the demo can afford (colour and marking it learns
    either way).
    """
    u = rng.random(_N_PARAMS)
    scale = size * (0.17 + 0.08 * u[0])
    x, y = _centred_coords(size)
    shape = _coverage(_SDF[info.order](x, y, scale))[..., None]
    ink = _MARKING[info.marking](x, y, scale, u[1], u[2])[..., None]
    colour = (np.array(COLOURS[info.colour]) + _COLOUR_JITTER * (2 * u[3:6] - 1)).astype(np.float32)
    white = np.float32(235 + 20 * u[6])
    image = _background(size, u[7:12])
    image += shape * (colour + ink * (white - colour) - image)
    image += rng.random((size, size, 3), dtype=np.float32) * np.float32(2 * _NOISE)
    image += np.float32(0.5 - _NOISE)  # centres the noise and rounds in the cast below
    return np.clip(image, 0, 255, out=image).astype(np.uint8)


# --- geometry -------------------------------------------------------------------------------

_N_PARAMS = 12
_COLOUR_JITTER = 18.0
_NOISE = 10.0


@lru_cache(maxsize=8)
def _pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates, shared by every image of one size."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + np.float32(0.5)
    return xs, ys


def _centred_coords(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates relative to the image centre, where every shape stands, y pointing up
    (so stars and triangles point up)."""
    xs, ys = _pixel_grid(size)
    half = np.float32(size / 2)
    return xs - half, half - ys


def _coverage(distance: np.ndarray) -> np.ndarray:
    """Share of each pixel inside a region, from the signed distance (pixels) to its edge."""
    return np.clip(np.float32(0.5) - distance, 0, 1)


def _circle(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    return np.hypot(x, y) - np.float32(scale)


def _square(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    half = np.float32(0.9 * scale)
    qx, qy = np.abs(x) - half, np.abs(y) - half
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0)


def _triangle(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """Equilateral triangle with circumradius ``1.4 * scale`` (exact distance, after I. Quilez)."""
    half_side = np.float32(1.4 * scale * math.sqrt(3) / 2)
    k = np.float32(math.sqrt(3))
    px = np.abs(x) - half_side
    py = y + half_side / k
    fold = px + k * py > 0
    px, py = (
        np.where(fold, (px - k * py) / 2, px),
        np.where(fold, (-k * px - py) / 2, py),
    )
    px = px - np.clip(px, -2 * half_side, 0)
    return -np.hypot(px, py) * np.sign(py)


def _star(x: np.ndarray, y: np.ndarray, scale: float) -> np.ndarray:
    """Five-pointed star with outer radius ``1.35 * scale`` (exact distance, after I. Quilez)."""
    radius = np.float32(1.35 * scale)
    k1x, k1y = np.float32(0.809016994), np.float32(-0.587785252)
    px, py = np.abs(x), y
    for kx in (k1x, -k1x):
        reflect = 2 * np.maximum(kx * px + k1y * py, 0)
        px, py = px - reflect * kx, py - reflect * k1y
    px = np.abs(px)
    py = py - radius
    inner = np.float32(0.5)
    bax, bay = -inner * k1y, inner * k1x - 1
    h = np.clip((px * bax + py * bay) / (bax * bax + bay * bay), 0, radius)
    return np.hypot(px - bax * h, py - bay * h) * np.sign(py * bax - px * bay)


_SDF: dict[str, Callable[[np.ndarray, np.ndarray, float], np.ndarray]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
    "star": _star,
}


# --- markings and background ------------------------------------------------------------------


def _plain(x: np.ndarray, y: np.ndarray, scale: float, u: float, v: float) -> np.ndarray:
    return np.zeros_like(x)


def _stripes(x: np.ndarray, y: np.ndarray, scale: float, u: float, v: float) -> np.ndarray:
    """Parallel bands, half the surface, a few per shape so they stay visible at 64 px."""
    period = np.float32(0.45 * scale)
    phase = _fraction(y / period + np.float32(u))
    return _coverage((np.abs(phase - np.float32(0.5)) - np.float32(0.25)) * period)


def _dots(x: np.ndarray, y: np.ndarray, scale: float, u: float, v: float) -> np.ndarray:
    """A square grid of round dots covering about a fifth of the surface."""
    period = np.float32(0.55 * scale)
    fx = _fraction(x / period + np.float32(u)) - np.float32(0.5)
    fy = _fraction(y / period + np.float32(v)) - np.float32(0.5)
    return _coverage((np.hypot(fx, fy) - np.float32(0.27)) * period)


def _fraction(values: np.ndarray) -> np.ndarray:
    """The fractional part; several times faster than ``% 1`` on float arrays."""
    return values - np.floor(values)


_MARKING: dict[str, Callable[[np.ndarray, np.ndarray, float, float, float], np.ndarray]] = {
    "plain": _plain,
    "striped": _stripes,
    "dotted": _dots,
}


def _background(size: int, u: np.ndarray) -> np.ndarray:
    """A neutral grey with a slight tint and gradient: never as bright as a marking."""
    xs, ys = _pixel_grid(size)
    grey = 95 + 80 * u[0] + 8 * (2 * u[1:4] - 1)
    angle = 2 * math.pi * u[4]
    half = np.float32(size / 2)
    ramp = ((xs - half) * math.cos(angle) + (ys - half) * math.sin(angle)) * (24 / size)
    return grey.astype(np.float32) + ramp[..., None]


# --- sampling -------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _species(lookalike_families: int, mimics: int) -> tuple[SpeciesInfo, ...]:
    copied_in = {
        (order, colour): marking for order, colour, marking in _lookalike_plan(lookalike_families)
    }
    found: list[SpeciesInfo] = []
    for order in ORDERS:
        for colour in COLOURS:
            family = f"{colour} {order}"
            copied = copied_in.get((order, colour))
            group = (
                [f"{copied} {family}", *(f"{word} {family}" for word in MIMICS[:mimics])]
                if copied
                else []
            )
            for marking in MARKINGS:
                name = f"{marking} {family}"
                found.append(
                    SpeciesInfo(name, family, order, colour, marking, _others(group, name))
                )
            for mimic in group[1:]:
                found.append(
                    SpeciesInfo(mimic, family, order, colour, copied, _others(group, mimic))
                )
    return tuple(found)


def _others(group: list[str], name: str) -> tuple[str, ...]:
    return tuple(member for member in group if member != name) if name in group else ()


def _lookalike_plan(families: int) -> list[tuple[str, str, str]]:
    """(order, colour, copied marking) of the first ``families`` families of a fixed plan.

    The plan walks the families diagonally, so the first few spread over all orders, colours
    and markings.
    """
    colours = list(COLOURS)
    plan = [
        (
            ORDERS[k % len(ORDERS)],
            colours[(k + k // len(ORDERS)) % len(colours)],
            MARKINGS[k % len(MARKINGS)],
        )
        for k in range(MAX_LOOKALIKE_FAMILIES)
    ]
    return plan[:families]


@lru_cache(maxsize=32)
def _assignment(config: SyntheticConfig, split: str) -> tuple[SpeciesInfo, ...]:
    """The species of each index of ``split``: balanced, in a seeded shuffled order."""
    count = config.per_species(split)
    pool = [info for info in species(config) for _ in range(count)]
    keys = _generator(config.seed, _ORDER_STREAM, _SPLIT_CODES[split]).random(len(pool))
    return tuple(pool[i] for i in np.argsort(keys, kind="stable"))


def _generator(*entropy: int) -> np.random.Generator:
    """A generator fixed by ``entropy`` alone (PCG64 explicitly: ``default_rng`` may change)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(list(entropy))))


def _encode_png(pixels: np.ndarray) -> bytes:
    """Stored uncompressed: the noise leaves zlib little to gain, and decoding is 3x faster."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


if __name__ == "__main__":
    print(hierarchy_yaml(), end="")
