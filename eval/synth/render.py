"""Rendering a program's episodes frame by frame: recurring sets, moving characters, shots.

A frame is a pure function of (program spec, episode seed, time), so an episode and any clip cut
from it render the same source pictures; clips then go through their own edits and encode.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from eval.synth.look import CharacterLook, VisualSpec

BG_SCALE = 1.5  # a set is larger than the frame so the camera can pan and zoom across it


@dataclass(frozen=True)
class Shot:
    t0: float
    t1: float
    set_index: int
    cx: float  # camera centre at t0, as a fraction of the set
    cy: float
    vx: float  # camera velocity, fractions of the set per second
    vy: float
    zoom: float
    vzoom: float
    light: float
    chars: tuple[int, ...]
    char_x: tuple[float, ...]  # start position, fraction of frame width
    char_v: tuple[float, ...]  # speed, frame widths per second
    char_y: tuple[float, ...]
    seed: int


@dataclass(frozen=True)
class EpisodeScript:
    duration: float
    shots: tuple[Shot, ...]

    def shot_at(self, t: float) -> Shot:
        starts = [s.t0 for s in self.shots]
        i = max(0, bisect.bisect_right(starts, t) - 1)
        return self.shots[i]


def episode_script(spec: VisualSpec, seed: int, duration: float) -> EpisodeScript:
    """Cut an episode into shots: which set, which characters, how the camera moves."""
    rng = np.random.default_rng(seed)
    look = spec.look
    shots, t = [], 0.0
    weights = np.array(spec.set_weights) / sum(spec.set_weights)
    while t < duration:
        length = float(rng.uniform(*look.shot_len))
        n_chars = min(len(spec.characters), int(rng.integers(look.n_chars[0], look.n_chars[1] + 1)))
        chars = tuple(int(c) for c in rng.choice(len(spec.characters), n_chars, replace=False)) if n_chars else ()
        zoom = float(rng.uniform(1.0, 1.35))
        shots.append(
            Shot(
                t0=t,
                t1=t + length,
                set_index=int(rng.choice(len(spec.set_seeds), p=weights)),
                cx=float(rng.uniform(0.35, 0.65)),
                cy=float(rng.uniform(0.4, 0.6)),
                vx=float(rng.normal(0, 0.02 * look.camera)),
                vy=float(rng.normal(0, 0.006 * look.camera)),
                zoom=zoom,
                vzoom=float(rng.normal(0, 0.02 * look.camera)),
                light=float(rng.uniform(0.8, 1.15)),
                chars=chars,
                char_x=tuple(float(x) for x in rng.uniform(0.1, 0.9, n_chars)),
                char_v=tuple(float(x) for x in rng.normal(0, 0.06 * (1 + look.camera), n_chars)),
                char_y=tuple(float(x) for x in rng.uniform(0.72, 0.92, n_chars)),
                seed=int(rng.integers(0, 2**31)),
            )
        )
        t += length
    return EpisodeScript(duration=duration, shots=tuple(shots))


def _col(c) -> tuple[int, int, int]:
    return (int(c[0]), int(c[1]), int(c[2]))


def _texture(img: np.ndarray, kind: int, rng: np.random.Generator) -> None:
    h, w = img.shape[:2]
    shade = lambda: _col(np.clip(img[int(rng.integers(0, h)), int(rng.integers(0, w))].astype(int) + int(rng.integers(-35, 35)), 0, 255))  # noqa: E731
    if kind == 0:  # stripes
        step = int(rng.integers(6, 16))
        for x in range(0, w, step * 2):
            cv2.line(img, (x, 0), (x, h // 2), shade(), 1)
    elif kind == 1:  # bricks / tiles
        step = int(rng.integers(8, 18))
        for y in range(0, h // 2, step):
            cv2.line(img, (0, y), (w, y), shade(), 1)
    elif kind == 2:  # dots
        for _ in range(60):
            cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))), int(rng.integers(1, 3)), shade(), -1)
    # kind 3: plain


def _props(img: np.ndarray, kind: int, palette, rng: np.random.Generator, outline: bool) -> None:
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(3, 7))):
        col = _col(palette[int(rng.integers(0, len(palette)))])
        x, y = int(rng.integers(0, w)), int(rng.integers(h // 4, h))
        s = int(rng.integers(h // 14, h // 5))
        if kind == 0:
            cv2.circle(img, (x, y), s, col, -1)
        elif kind == 1:
            pts = np.array([[x, y - s], [x - s, y + s], [x + s, y + s]], np.int32)
            cv2.fillPoly(img, [pts], col)
        elif kind == 2:
            cv2.rectangle(img, (x, y - 2 * s), (x + s // 2, y + s), col, -1)
        elif kind == 3:
            for k in range(3):
                cv2.rectangle(img, (x + k * s, y), (x + k * s + s - 2, y + s - 2), col, -1)
        elif kind == 4:
            cv2.line(img, (x - s, y + s), (x + s, y - s), col, max(2, s // 4))
        else:
            cv2.ellipse(img, (x, y), (s, s), 0, 180, 360, col, -1)
        if outline:
            cv2.circle(img, (x, y), s, (20, 20, 20), 1)


@lru_cache(maxsize=64)
def render_set(spec: VisualSpec, index: int, width: int, height: int) -> np.ndarray:
    """A set (location) of the program: a picture larger than the frame, drawn once."""
    rng = np.random.default_rng(spec.set_seeds[index])
    look, pal = spec.look, spec.palette
    bw, bh = int(width * BG_SCALE), int(height * BG_SCALE)
    top, bottom = np.array(pal[int(rng.integers(0, len(pal)))]), np.array(pal[int(rng.integers(0, len(pal)))])
    horizon = rng.uniform(0.45, 0.7)
    ys = np.linspace(0, 1, bh)[:, None]
    grad = np.where(ys < horizon, top * (0.7 + 0.3 * ys / horizon), bottom * (1.1 - 0.4 * (ys - horizon)))
    img = np.ascontiguousarray(np.repeat(grad[:, None, :], bw, axis=1).clip(0, 255).astype(np.uint8))
    hy = int(horizon * bh)
    mode = look.mode
    if mode in ("series", "film", "kids", "anime"):  # rooms and streets: walls, windows, furniture
        for _ in range(int(rng.integers(3, 8))):
            x0 = int(rng.integers(0, bw)); w = int(rng.integers(bw // 12, bw // 4))
            y0 = int(rng.integers(bh // 8, hy)); col = _col(pal[int(rng.integers(0, len(pal)))])
            cv2.rectangle(img, (x0, y0), (x0 + w, hy + int(rng.integers(0, bh // 6))), col, -1)
            if rng.random() < 0.5:
                cv2.rectangle(img, (x0 + w // 4, y0 + 4), (x0 + 3 * w // 4, y0 + w // 2), _col(np.clip(np.array(col) + 50, 0, 255)), -1)
            if mode == "anime":
                cv2.rectangle(img, (x0, y0), (x0 + w, hy), (25, 25, 25), 2)
    elif mode == "variety":  # a stage: dark back wall, bright panels and spotlights
        img[: hy] = (img[: hy] * 0.35).astype(np.uint8)
        for _ in range(int(rng.integers(4, 9))):
            x0 = int(rng.integers(0, bw)); col = _col(pal[int(rng.integers(0, len(pal)))])
            cv2.rectangle(img, (x0, int(rng.integers(0, hy // 2))), (x0 + int(rng.integers(6, 30)), hy), col, -1)
        for _ in range(int(rng.integers(3, 7))):
            cv2.circle(img, (int(rng.integers(0, bw)), int(rng.integers(0, hy))), int(rng.integers(4, 14)), (255, 250, 230), -1)
    elif mode == "documentary":  # landscape: mountain ridges, water, vegetation
        for layer in range(int(rng.integers(2, 4))):
            xs = np.linspace(0, bw, 12).astype(np.int32)
            ys_ = (hy - rng.uniform(0.05, 0.35, 12) * bh * (1 - layer * 0.25)).astype(np.int32)
            pts = np.concatenate([np.stack([xs, ys_], 1), [[bw, bh], [0, bh]]]).astype(np.int32)
            cv2.fillPoly(img, [pts], _col(np.array(pal[int(rng.integers(0, len(pal)))]) * (0.6 + 0.2 * layer)))
        for _ in range(40):
            cv2.circle(img, (int(rng.integers(0, bw)), int(rng.integers(hy, bh))), int(rng.integers(2, 6)), _col(pal[int(rng.integers(0, len(pal)))]), -1)
    elif mode == "sports":  # a field or court with its lines and a crowd band
        field = _col(pal[int(rng.integers(0, len(pal)))])
        cv2.rectangle(img, (0, hy - bh // 8), (bw, bh), field, -1)
        for x in np.linspace(0, bw, int(rng.integers(3, 7))):
            cv2.line(img, (int(x), hy - bh // 8), (int(x), bh), (235, 235, 235), 1)
        cv2.circle(img, (bw // 2, (hy + bh) // 2), bh // 8, (235, 235, 235), 1)
        crowd = rng.integers(40, 220, (hy - bh // 8, bw, 3), dtype=np.uint8)
        img[: hy - bh // 8] = cv2.blur(crowd, (3, 3)) // 2 + img[: hy - bh // 8] // 2
    _texture(img, spec.style.texture, rng)
    _props(img, look.prop_kind, pal, rng, outline=mode == "anime")
    if mode not in ("anime", "kids"):
        img = cv2.GaussianBlur(img, (3, 3), 0)
    return img


def _draw_character(img: np.ndarray, c: CharacterLook, x: int, y: int, scale: float, anime: bool) -> None:
    h = img.shape[0]
    height = max(6, int(c.size * h * scale))
    bw, bh = max(2, height // 5), max(3, height // 3)
    head_r = max(2, height // (5 if anime else 7))
    cy = y - bh
    if c.shape == 0:
        cv2.ellipse(img, (x, cy), (bw, bh), 0, 0, 360, c.body, -1)
    elif c.shape == 1:
        cv2.rectangle(img, (x - bw, cy - bh), (x + bw, y), c.body, -1)
    else:
        cv2.fillPoly(img, [np.array([[x, cy - bh], [x - bw - 3, y], [x + bw + 3, y]], np.int32)], c.body)
    hy = cy - bh - head_r + 1
    cv2.circle(img, (x, hy), head_r, c.head, -1)
    cv2.rectangle(img, (x - bw // 2, cy - bh // 3), (x + bw // 2, cy), c.accent, -1)
    if c.hat:
        cv2.rectangle(img, (x - head_r, hy - head_r - max(1, head_r // 2)), (x + head_r, hy - head_r + 1), c.accent, -1)
    if anime:
        cv2.circle(img, (x, hy), head_r, (20, 20, 20), 1)


@lru_cache(maxsize=16)
def _grain(seed: int, width: int, height: int, amount: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, amount, (height * 2, width * 2, 1))).astype(np.int16)


@lru_cache(maxsize=8)
def _vignette(width: int, height: int) -> np.ndarray:
    ys, xs = np.mgrid[0:height, 0:width]
    r = ((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) ** 0.5
    return (1.0 - 0.6 * r**2)[..., None].astype(np.float32)


def render_frame(spec: VisualSpec, script: EpisodeScript, t: float, width: int, height: int) -> np.ndarray:
    """The picture at time t of an episode: H x W x 3 uint8 RGB."""
    shot = script.shot_at(t)
    u = t - shot.t0
    bg = render_set(spec, shot.set_index, width, height)
    bh, bw = bg.shape[:2]
    z = float(np.clip(shot.zoom + shot.vzoom * u, 1.0, 1.45))
    half_w, half_h = width / (2 * z), height / (2 * z)
    cx = float(np.clip((shot.cx + shot.vx * u) * bw, half_w, bw - half_w))
    cy = float(np.clip((shot.cy + shot.vy * u) * bh, half_h, bh - half_h))
    m = np.array([[z, 0, width / 2 - z * cx], [0, z, height / 2 - z * cy]], np.float32)
    img = cv2.warpAffine(bg, m, (width, height), flags=cv2.INTER_LINEAR)
    anime = spec.look.mode in ("anime", "kids")
    for k, ci in enumerate(shot.chars):
        x = (shot.char_x[k] + shot.char_v[k] * u) % 1.2 - 0.1
        bob = 0.01 * np.sin(6.0 * u + k)
        _draw_character(img, spec.characters[ci], int(x * width), int((shot.char_y[k] + bob) * height), z, anime)
    style = spec.style
    flicker = 0.08 * np.sin(9.0 * t) if spec.look.mode == "variety" else 0.0
    alpha = shot.light * style.contrast * (1.0 + flicker)
    img = cv2.convertScaleAbs(img, alpha=alpha, beta=(1 - style.contrast) * 110)
    if style.vignette:
        img = (img * _vignette(width, height)).astype(np.uint8)
    if style.grain > 0:
        g = _grain(spec.theme_seed, width, height, style.grain)
        oy, ox = (shot.seed + int(t * 97)) % height, (shot.seed // 7 + int(t * 53)) % width
        img = np.clip(img.astype(np.int16) + g[oy : oy + height, ox : ox + width], 0, 255).astype(np.uint8)
    return img
