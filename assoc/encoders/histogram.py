"""A global colour histogram per frame: the reference baseline that shows how hard a universe is."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assoc.encoders.base import FrameEncoderBase


class ColorHistogramEncoder(FrameEncoderBase):
    """bins^3 RGB histogram, square-rooted (Hellinger) and L2-normalised, so inner product compares."""

    kind = "color_histogram"

    def __init__(self, bins: int = 8):
        self.bins = bins

    @property
    def dim(self) -> int:
        return self.bins**3

    def embed(self, frames: np.ndarray) -> np.ndarray:
        n = len(frames)
        q = (frames.reshape(n, -1, 3).astype(np.int32) * self.bins) // 256  # N x P x 3
        codes = q[..., 0] * self.bins * self.bins + q[..., 1] * self.bins + q[..., 2]
        hist = np.stack([np.bincount(c, minlength=self.dim) for c in codes]).astype(np.float32)
        hist = np.sqrt(hist / np.maximum(hist.sum(1, keepdims=True), 1))
        return hist / np.maximum(np.linalg.norm(hist, axis=1, keepdims=True), 1e-12)

    def config(self) -> dict:
        return {"bins": self.bins, "dim": self.dim, "trained": False}

    @classmethod
    def from_saved(cls, directory: Path, config: dict) -> "ColorHistogramEncoder":
        return cls(bins=int(config["bins"]))
