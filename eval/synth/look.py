"""What a program looks and sounds like: category looks, studio styles, program visual specs.

Category is learnable from content the way it is on a real platform: the top level sets the
render mode (rooms, stages, fields, flat animation...), the pacing and the camera; the second
level sets the palette's hue family; the leaf sets the props and the music. No pixel pattern is
planted: every one of these is a distribution that programs draw from.
"""

from __future__ import annotations

import colorsys
import zlib
from dataclasses import dataclass, field

import numpy as np

MODES = {
    "电视剧": "series",
    "电影": "film",
    "综艺": "variety",
    "动漫": "anime",
    "纪录片": "documentary",
    "少儿": "kids",
    "体育": "sports",
}

# mode -> (saturation range, value range, shot length range s, camera speed, characters range)
MODE_PARAMS = {
    "series": ((0.25, 0.55), (0.35, 0.75), (3.0, 6.0), 0.35, (2, 4)),
    "film": ((0.2, 0.6), (0.2, 0.6), (2.0, 5.0), 0.7, (1, 3)),
    "variety": ((0.6, 1.0), (0.55, 1.0), (1.5, 3.0), 0.9, (3, 6)),
    "anime": ((0.5, 0.9), (0.6, 0.95), (2.0, 4.0), 0.5, (1, 3)),
    "documentary": ((0.15, 0.5), (0.3, 0.8), (5.0, 9.0), 0.25, (0, 2)),
    "kids": ((0.45, 0.75), (0.8, 1.0), (3.0, 5.0), 0.4, (1, 3)),
    "sports": ((0.4, 0.8), (0.4, 0.8), (1.5, 3.5), 1.2, (5, 9)),
}


def stable_hash(*parts: object) -> int:
    """A hash that is the same in every process and Python version (unlike hash())."""
    return zlib.crc32("\x1f".join(map(str, parts)).encode("utf-8"))


@dataclass(frozen=True)
class CategoryLook:
    mode: str
    hue: float  # centre of the palette's hue family (second level)
    hue_spread: float
    sat: tuple[float, float]
    val: tuple[float, float]
    shot_len: tuple[float, float]
    camera: float
    n_chars: tuple[int, int]
    prop_kind: int  # leaf: which props furnish the sets
    tempo: float  # leaf: music tempo (beats per second)
    scale: tuple[int, ...]  # semitone steps of the theme's scale
    timbre: tuple[float, ...]  # harmonic weights


SCALES = ((0, 2, 4, 7, 9), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 5, 7, 9, 11), (0, 3, 5, 7, 10))
TIMBRES = ((1.0,), (1.0, 0.5, 0.25), (1.0, 0.0, 0.33, 0.0, 0.2), (1.0, 0.7, 0.5, 0.3))


def category_look(path: tuple[str, str, str] | list[str]) -> CategoryLook:
    top, mid, leaf = path
    mode = MODES.get(top, "series")
    sat, val, shot_len, camera, n_chars = MODE_PARAMS[mode]
    h2 = stable_hash("l2", top, mid)
    h3 = stable_hash("l3", top, mid, leaf)
    return CategoryLook(
        mode=mode,
        hue=(h2 % 360) / 360.0,
        hue_spread=0.06 + (h2 >> 9) % 10 / 100.0,
        sat=sat,
        val=val,
        shot_len=shot_len,
        camera=camera,
        n_chars=n_chars,
        prop_kind=h3 % 6,
        tempo=1.2 + (h3 >> 4) % 16 / 10.0,
        scale=SCALES[(h3 >> 8) % len(SCALES)],
        timbre=TIMBRES[(h2 >> 3) % len(TIMBRES)],
    )


@dataclass(frozen=True)
class StudioStyle:
    """What programs of one studio share: grading, grain, texture, lens."""

    tint: tuple[float, float, float]
    grain: float
    texture: int
    contrast: float
    vignette: bool
    house_colors: tuple[tuple[float, float, float], ...]  # HSV: the studio's house palette
    home: str  # the top-level category (mode) the studio mostly makes


def studio_style(rng: np.random.Generator) -> StudioStyle:
    tint = tuple(float(x) for x in 1.0 + rng.uniform(-0.12, 0.12, 3))
    hue = rng.random()
    house = tuple((float((hue + rng.normal(0, 0.08)) % 1.0), float(rng.uniform(0.2, 0.9)), float(rng.uniform(0.3, 0.95)))
                  for _ in range(8))
    return StudioStyle(
        tint=tint,  # type: ignore[arg-type]
        grain=float(rng.choice([0.0, 3.0, 6.0, 10.0])),
        texture=int(rng.integers(0, 4)),
        contrast=float(rng.uniform(0.85, 1.15)),
        vignette=bool(rng.random() < 0.4),
        house_colors=house,
        home=str(rng.choice(list(MODES))),
    )


@dataclass(frozen=True)
class CharacterLook:
    body: tuple[int, int, int]
    head: tuple[int, int, int]
    accent: tuple[int, int, int]
    size: float  # height as a fraction of the frame height
    shape: int  # 0 ellipse body, 1 box body, 2 triangle robe
    hat: bool


@dataclass(frozen=True)
class VisualSpec:
    """Everything needed to render any episode of one program."""

    look: CategoryLook
    style: StudioStyle
    palette: tuple[tuple[int, int, int], ...]
    set_seeds: tuple[int, ...]
    set_weights: tuple[float, ...]
    characters: tuple[CharacterLook, ...]
    theme_seed: int
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def make_palette(look: CategoryLook, style: StudioStyle, rng: np.random.Generator, n: int = 8):
    """Most colours come from the studio's house palette, the rest from the category's hue family."""
    cols = []
    base = (look.hue + rng.normal(0, 0.03)) % 1.0
    for _ in range(n):
        if rng.random() < 0.6:
            h0, s0, v0 = style.house_colors[int(rng.integers(0, len(style.house_colors)))]
            h = (h0 + rng.normal(0, 0.015)) % 1.0
            s = float(np.clip(s0 + rng.normal(0, 0.05), 0, 1))
            v = float(np.clip(v0 + rng.normal(0, 0.05), 0.1, 1))
        else:
            h = (base + rng.normal(0, look.hue_spread)) % 1.0
            if rng.random() < 0.2:  # an accent colour from the complementary side
                h = (h + 0.5) % 1.0
            s = rng.uniform(*look.sat)
            v = rng.uniform(*look.val)
        r, g, b = colorsys.hsv_to_rgb(h, s, v)
        rgb = np.clip(np.array([r, g, b]) * np.array(style.tint) * 255, 0, 255)
        cols.append(tuple(int(x) for x in rgb))
    return tuple(cols)


def make_character(look: CategoryLook, palette, rng: np.random.Generator) -> CharacterLook:
    skin = [(224, 188, 160), (198, 152, 120), (240, 205, 180), (170, 120, 90)]
    head = skin[int(rng.integers(0, len(skin)))]
    if look.mode in ("anime", "kids"):
        head = tuple(int(x) for x in rng.integers(120, 256, 3))
    pick = lambda: tuple(int(x) for x in palette[int(rng.integers(0, len(palette)))])  # noqa: E731
    body = tuple(int(x) for x in np.clip(np.array(pick()) + rng.integers(-60, 60, 3), 0, 255))
    return CharacterLook(
        body=body,  # type: ignore[arg-type]
        head=head,  # type: ignore[arg-type]
        accent=pick(),
        size=float(rng.uniform(0.35, 0.6) if look.mode != "sports" else rng.uniform(0.15, 0.25)),
        shape=int(rng.integers(0, 3)),
        hat=bool(rng.random() < 0.35),
    )
