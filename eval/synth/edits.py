"""Short-video edits applied to clip frames: crops, borders, vertical reframes, overlays, colour."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

# edits that change the pictures (applied per frame, in this order)
FRAME_EDITS = ("color", "crop", "flip", "letterbox", "pillarbox", "vertical", "resolution",
               "subtitles", "stickers", "logo")
# edits of time, encoding, framing and sound
OTHER_EDITS = ("speed", "fps", "bitrate", "intro_outro", "music", "mute")
ALL_EDITS = FRAME_EDITS + OTHER_EDITS
EXCLUSIVE = (("letterbox", "pillarbox", "vertical"), ("music", "mute"))
EDIT_WEIGHTS = {
    "color": 2.5, "crop": 1.0, "flip": 0.6, "letterbox": 0.5, "pillarbox": 0.5, "vertical": 0.7,
    "resolution": 0.6, "subtitles": 1.0, "stickers": 0.6, "logo": 1.0, "speed": 0.8, "fps": 0.6,
    "bitrate": 0.7, "intro_outro": 0.5, "music": 0.5, "mute": 0.3,
}
LOGOS = ("TVB+", "iQ", "MGTV", "YK", "CCTV", "BTV", "HOT", "V+", "KTV", "DY")
SUB_WORDS = ("ni", "zhen", "de", "yao", "zou", "ma", "wo", "men", "bu", "hui", "fang", "qi", "ta", "shuo",
             "what", "are", "you", "doing", "here", "never", "again", "I", "know")
STICKERS = ("OMG", "LOL", "WOW", "HAHA", "!!!", "666", "NICE", "???")


def choose_edits(rng: np.random.Generator, n_min: int = 2, n_max: int = 5) -> list[str]:
    """Pick several compatible edits for one clip."""
    names = list(EDIT_WEIGHTS)
    p = np.array([EDIT_WEIGHTS[n] for n in names])
    order = rng.choice(len(names), len(names), replace=False, p=p / p.sum())
    n = int(rng.integers(n_min, n_max + 1))
    chosen: list[str] = []
    for i in order:
        name = names[i]
        if any(name in group and any(c in group for c in chosen) for group in EXCLUSIVE):
            continue
        chosen.append(name)
        if len(chosen) == n:
            break
    return sorted(chosen, key=ALL_EDITS.index)


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


@dataclass
class ClipEditor:
    """Per-clip edit parameters drawn once; __call__ edits one frame at clip time t."""

    edits: list[str]
    width: int
    height: int
    seed: int
    p: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        p = self.p
        p["alpha"], p["beta"] = rng.uniform(0.7, 1.35), rng.uniform(-35, 35)
        p["sat"], p["hue"] = rng.uniform(0.4, 1.6), int(rng.integers(-12, 13))
        s = rng.uniform(0.6, 0.85)
        p["crop"] = (s, rng.uniform(0, 1 - s), rng.uniform(0, 1 - s))
        p["bar"] = rng.uniform(0.1, 0.2)
        p["vertical_mode"] = str(rng.choice(["blur", "solid", "fill"]))
        p["pad_color"] = tuple(int(c) for c in rng.integers(0, 256, 3))
        p["scale"] = float(rng.choice([0.75, 1.25, 1.5]))
        p["logo"] = (str(rng.choice(LOGOS)), int(rng.integers(0, 4)), rng.uniform(0.5, 0.9))
        p["sub_seed"] = int(rng.integers(0, 2**31))
        p["stickers"] = [(str(rng.choice(STICKERS)), rng.uniform(0.05, 0.7), rng.uniform(0.1, 0.6),
                          tuple(int(c) for c in rng.integers(0, 256, 3)), rng.uniform(0, 6), rng.uniform(1.5, 4))
                         for _ in range(int(rng.integers(1, 4)))]

    def output_size(self) -> tuple[int, int]:
        w, h = self.width, self.height
        if "vertical" in self.edits:
            w, h = h, _even(h * 16 / 9)  # a 9:16 frame as wide as the source is tall
        if "resolution" in self.edits:
            w, h = _even(w * self.p["scale"]), _even(h * self.p["scale"])
        return w, h

    def __call__(self, img: np.ndarray, t: float) -> np.ndarray:
        e, p = self.edits, self.p
        h, w = img.shape[:2]
        if "color" in e:
            img = cv2.convertScaleAbs(img, alpha=p["alpha"], beta=p["beta"])
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + p["hue"]) % 180).astype(np.uint8)
            hsv[..., 1] = np.clip(hsv[..., 1] * p["sat"], 0, 255).astype(np.uint8)
            img = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if "crop" in e:
            s, fx, fy = p["crop"]
            x0, y0 = int(fx * w), int(fy * h)
            img = cv2.resize(img[y0 : y0 + int(s * h), x0 : x0 + int(s * w)], (w, h))
        if "flip" in e:
            img = img[:, ::-1]
        if "letterbox" in e or "pillarbox" in e:
            out = np.zeros_like(img)
            if "letterbox" in e:
                bar = int(p["bar"] * h)
                out[bar : h - bar] = cv2.resize(img, (w, h - 2 * bar))
            else:
                bar = int(p["bar"] * w)
                out[:, bar : w - bar] = cv2.resize(img, (w - 2 * bar, h))
            img = out
        if "vertical" in e:
            img = self._vertical(img)
        ow, oh = self.output_size()
        if img.shape[1] != ow or img.shape[0] != oh:
            img = cv2.resize(img, (ow, oh), interpolation=cv2.INTER_AREA)
        img = np.array(img, copy=True)  # overlays draw in place: never on the caller's frame
        if "subtitles" in e:
            self._subtitle(img, t)
        if "stickers" in e:
            for text, fx, fy, col, t0, dur in p["stickers"]:
                if t0 <= t <= t0 + dur:
                    cv2.putText(img, text, (int(fx * img.shape[1]), int(fy * img.shape[0])), cv2.FONT_HERSHEY_DUPLEX, 0.7, col, 2)
        if "logo" in e:
            self._logo(img)
        return img

    def _vertical(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        vw, vh = h, _even(h * 16 / 9)
        mode = self.p["vertical_mode"]
        if mode == "fill":  # centre crop to 9:16, scaled up
            cw = _even(h * 9 / 16)
            x0 = (w - cw) // 2
            return cv2.resize(img[:, x0 : x0 + cw], (vw, vh))
        ch = _even(vw * h / w)
        content = cv2.resize(img, (vw, ch))
        if mode == "blur":
            cw = _even(h * 9 / 16)
            x0 = (w - cw) // 2
            bg = cv2.GaussianBlur(cv2.resize(img[:, x0 : x0 + cw], (vw, vh)), (0, 0), 8)
        else:
            bg = np.empty((vh, vw, 3), np.uint8)
            bg[:] = self.p["pad_color"]
        y0 = (vh - ch) // 2
        bg[y0 : y0 + ch] = content
        return bg

    def _subtitle(self, img: np.ndarray, t: float) -> None:
        line = int(t // 2.5)
        rng = np.random.default_rng([self.p["sub_seed"], line])
        text = " ".join(rng.choice(SUB_WORDS, int(rng.integers(2, 5))))
        h, w = img.shape[:2]
        scale = 0.35 + 0.25 * w / 256
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        org = (max(2, (w - tw) // 2), int(h * 0.9))
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1)

    def _logo(self, img: np.ndarray) -> None:
        text, corner, opacity = self.p["logo"]
        h, w = img.shape[:2]
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, 0.5, 1)
        x = 6 if corner in (0, 2) else w - tw - 10
        y = th + 8 if corner in (0, 1) else h - 8
        roi = img[max(0, y - th - 4) : y + 4, max(0, x - 3) : x + tw + 3]
        overlay = roi.copy()
        overlay[:] = (30, 30, 30)
        cv2.addWeighted(overlay, opacity * 0.6, roi, 1 - opacity * 0.6, 0, dst=roi)
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_DUPLEX, 0.5, (255, 255, 255), 1)


def card(width: int, height: int, text: str, color: tuple[int, int, int]) -> np.ndarray:
    """An intro or outro card: a solid colour and a line of text."""
    img = np.empty((height, width, 3), np.uint8)
    img[:] = color
    cv2.putText(img, text, (max(2, width // 8), height // 2), cv2.FONT_HERSHEY_DUPLEX, 0.6, (255, 255, 255), 1)
    return img
