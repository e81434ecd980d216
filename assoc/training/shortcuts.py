"""Anti-shortcut augmentations painted onto one view only: burned-in subtitles, logos and watermarks,
text stickers, black borders and vertical-reframe padding. Painting them on one view of a pair
teaches the encoder that they say nothing about where a frame comes from.

These painters are the training side's own, independent of the evaluation universe's edit code,
so the encoder is not tuned to the exact look of the test edits.
"""

from __future__ import annotations

import cv2
import numpy as np

_WORDS = ("wo", "bu", "zhi", "dao", "ni", "shuo", "shen", "me", "hao", "de", "the", "and", "you", "never", "again")
_LOGOS = ("TV", "HD", "LIVE", "NEWS", "NET", "TV1", "V", "PLAY")


def _text(rng, words, n):
    return " ".join(rng.choice(words, n))


def subtitles(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    scale = 0.3 + 0.4 * rng.random() * w / 256
    text = _text(rng, _WORDS, int(rng.integers(2, 6)))
    y = int(h * rng.uniform(0.8, 0.95))
    colour = tuple(int(c) for c in rng.choice([[255, 255, 255], [255, 230, 0], [240, 240, 240]]))
    cv2.putText(img, text, (int(w * rng.uniform(0.02, 0.3)), y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3)
    cv2.putText(img, text, (int(w * rng.uniform(0.02, 0.3)), y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1)
    return img


def logo(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    text = str(rng.choice(_LOGOS))
    x = int(w * rng.choice([0.03, 0.75])) + int(rng.integers(0, 8))
    y = int(h * rng.choice([0.12, 0.92]))
    overlay = img.copy()
    cv2.putText(overlay, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, 0.4 + 0.4 * rng.random(), (255, 255, 255), 1)
    alpha = rng.uniform(0.4, 0.9)
    return cv2.addWeighted(overlay, alpha, img, 1 - alpha, 0)


def sticker(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    x, y = int(rng.integers(0, max(1, w - 40))), int(rng.integers(10, max(11, h - 10)))
    if rng.random() < 0.5:
        cv2.circle(img, (x + 10, y), int(rng.integers(5, 14)), colour, -1)
    cv2.putText(img, str(rng.choice(["WOW", "666", "LOL", "!!", "OMG"])), (x, y), cv2.FONT_HERSHEY_DUPLEX, 0.6, colour, 2)
    return img


def borders(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = img.shape[:2]
    out = np.zeros_like(img)
    if rng.random() < 0.5:
        bar = int(h * rng.uniform(0.08, 0.2))
        out[bar : h - bar] = cv2.resize(img, (w, h - 2 * bar))
    else:
        bar = int(w * rng.uniform(0.08, 0.2))
        out[:, bar : w - bar] = cv2.resize(img, (w - 2 * bar, h))
    return out


def vertical_padding(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The frame as it sits inside a 9:16 reframe: small, with blurred or solid padding around it."""
    h, w = img.shape[:2]
    vw, vh = max(2, int(h * 9 / 16)), h
    ch = max(2, int(vw * h / w))
    content = cv2.resize(img, (vw, ch))
    if rng.random() < 0.5:
        canvas = cv2.GaussianBlur(cv2.resize(img, (vw, vh)), (0, 0), 6)
    else:
        canvas = np.empty((vh, vw, 3), np.uint8)
        canvas[:] = rng.integers(0, 256, 3)
    y0 = (vh - ch) // 2
    canvas[y0 : y0 + ch] = content
    return canvas


PAINTERS = {"subtitles": subtitles, "logo": logo, "sticker": sticker, "borders": borders, "vertical": vertical_padding}


def paint_shortcuts(img: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """Each painter applies with probability p/2, at least one with probability p."""
    img = np.array(img, copy=True)
    applied = False
    for name, fn in PAINTERS.items():
        if rng.random() < p / 2:
            img, applied = fn(img, rng), True
    if not applied and rng.random() < p:
        img = PAINTERS[str(rng.choice(list(PAINTERS)))](img, rng)
    return img
