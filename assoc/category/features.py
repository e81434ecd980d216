"""The category model's inputs per clip: frame features, log-mel audio frames, text token embeddings.

Each modality is a sequence (rows x dims) that may be empty: a muted clip has no audio rows, an
empty title no text rows. Frames are the frame encoder's vectors (the index's encoder, so the
lookup embeds a clip once for both uses), with each frame's colour statistics beside them
(`frame_colour`: what the encoder, trained for identity or blind to colour, does not keep).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from assoc.media import AudioTrack

MODALITIES = ("frames", "audio", "text")
N_MELS = 64
AUDIO_HOP_S = 0.5  # one audio row per half second (log-mel averaged over it)
MAX_ROWS = {"frames": 16, "audio": 64, "text": 48}
COLOUR_SIZE = (64, 36)  # frames are shrunk to this (width, height) before their colour statistics
COLOUR_BINS = (12, 3, 3)  # hue x saturation x value
COLOUR_DIM = 12 * 3 * 3 + 8


@dataclass
class ClipFeatures:
    frames: np.ndarray  # M x D float32
    audio: np.ndarray  # A x N_MELS float32 (log-mel)
    text: np.ndarray  # T x E float32 (token embeddings)
    colour: np.ndarray | None = None  # M x COLOUR_DIM float32: the same frames' colour statistics

    def get(self, modality: str) -> np.ndarray:
        return getattr(self, modality)

    def frame_rows(self, colour: bool) -> np.ndarray:
        """The frames modality's rows: the encoder's vectors, with the frames' colour statistics beside them."""
        if not colour:
            return self.frames
        c = self.colour if self.colour is not None else np.zeros((0, COLOUR_DIM), np.float32)
        if len(c) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frame vectors but {len(c)} frames' colour statistics")
        return np.concatenate([self.frames, c], axis=1) if len(c) else np.zeros((0, self.frames.shape[1] + COLOUR_DIM), np.float32)

    def present(self) -> dict[str, bool]:
        return {m: len(self.get(m)) > 0 for m in MODALITIES}


@lru_cache(maxsize=4)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = N_MELS, fmin: float = 50.0) -> np.ndarray:
    """A triangular mel filterbank (n_mels x n_fft // 2 + 1), HTK mel scale."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    inv = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = inv(np.linspace(mel(fmin), mel(sample_rate / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    fb = np.zeros((n_mels, len(bins)), np.float32)
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        fb[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return fb


def log_mel(samples: np.ndarray, sample_rate: int, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Log-mel energies (25 ms windows, 10 ms hop) averaged over `AUDIO_HOP_S` rows, for [start, end)."""
    a = int(start * sample_rate)
    b = len(samples) if end is None else int(end * sample_rate)
    x = samples[a:b].astype(np.float32)
    win, hop, n_fft = int(0.025 * sample_rate), int(0.010 * sample_rate), 512
    if len(x) < win:
        return np.zeros((0, N_MELS), np.float32)
    n = 1 + (len(x) - win) // hop
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(win).astype(np.float32), n=n_fft)) ** 2
    mel = np.log(spec @ mel_filterbank(sample_rate, n_fft).T + 1e-6)
    per_row = max(1, int(AUDIO_HOP_S / 0.010))
    rows = max(1, int(round(len(mel) / per_row)))
    return np.stack([c.mean(0) for c in np.array_split(mel, rows)]).astype(np.float32)


def audio_rows(track: AudioTrack | None, start: float = 0.0, end: float | None = None) -> np.ndarray:
    if track is None or not track.usable:
        return np.zeros((0, N_MELS), np.float32)
    return subsample(log_mel(track.samples, track.sample_rate, start, end), MAX_ROWS["audio"])


def frame_colour(frames: np.ndarray) -> np.ndarray:
    """Per frame (RGB uint8, any size; shrunk to `COLOUR_SIZE` first): a joint hue x saturation x value
    histogram (12 x 3 x 3, square-rooted shares) and eight statistics: mean and spread of saturation and of
    value, horizontal and vertical gradient energy (mean absolute difference of neighbouring grey
    levels / 64), the share of saturated pixels and of dark ones.

    Palette, grading, lighting and busyness tell a category apart (a variety stage, a documentary landscape,
    a cartoon) where an identity encoder, or one that sees only luminance, keeps little of them."""
    if len(frames) == 0:
        return np.zeros((0, COLOUR_DIM), np.float32)
    nh, ns, nv = COLOUR_BINS
    out = np.empty((len(frames), COLOUR_DIM), np.float32)
    for i, frame in enumerate(frames):
        small = cv2.resize(np.ascontiguousarray(frame), COLOUR_SIZE, interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3).astype(np.int64)
        codes = ((hsv[:, 0] * nh // 256) * ns + hsv[:, 1] * ns // 256) * nv + hsv[:, 2] * nv // 256
        hist = np.bincount(codes, minlength=nh * ns * nv).astype(np.float32)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        sat, val = hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
        out[i, : nh * ns * nv] = np.sqrt(hist / hist.sum())
        out[i, nh * ns * nv :] = (sat.mean(), sat.std(), val.mean(), val.std(),
                                  np.abs(np.diff(grey, axis=1)).mean() / 64, np.abs(np.diff(grey, axis=0)).mean() / 64,
                                  (sat > 0.5).mean(), (val < 0.25).mean())
    return out


def subsample(rows: np.ndarray, n: int) -> np.ndarray:
    """At most n rows, evenly spaced."""
    if len(rows) <= n:
        return rows
    return rows[np.linspace(0, len(rows) - 1, n).round().astype(int)]


def clip_text(title: str, description: str) -> str:
    return " ".join(s for s in (title.strip(), description.strip()) if s)


class TextTokens:
    """Token embeddings of a text from the sentence model (cached: segments share texts)."""

    def __init__(self, semantic):
        self.semantic = semantic
        self._cache: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self.semantic.dim

    def __call__(self, text: str) -> np.ndarray:
        text = text.strip()
        if not text:
            return np.zeros((0, self.dim), np.float32)
        if text not in self._cache:
            self._cache[text] = self.many([text])[0]
        return self._cache[text]

    def many(self, texts: list[str]) -> list[np.ndarray]:
        out = self.semantic.model.encode(texts, output_value="token_embeddings", batch_size=64,
                                         show_progress_bar=False, convert_to_numpy=False)
        rows = []
        for t in out:
            t = np.asarray(t.float().cpu().numpy() if hasattr(t, "cpu") else t, np.float32)
            rows.append(subsample(t[1:-1] if len(t) > 2 else t, MAX_ROWS["text"]))  # drop [CLS] and [SEP]
        return rows
