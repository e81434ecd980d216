"""A luminance layout per frame: where the picture is light and dark, whatever its colours.

A hand-made descriptor beside the colour histogram, for the same two jobs: a reference baseline in
`assoc eval`, and an auxiliary visual signal for the re-ranker. The two fail on opposite edits: a
colour change (filters, white balance, the synthetic universe's hue shifts) defeats a colour
histogram but leaves the layout; a crop keeps the colours but moves the layout.

Per frame: black borders (letterbox, pillarbox, vertical-reframe padding) are trimmed; the rest is
turned to grey and shrunk to `size` x `size` (box filter); a mirrored copy is added, so a
horizontally flipped clip gives the same vector; the result is centred and L2-normalised, so
inner product is a correlation that ignores brightness and contrast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from assoc.encoders.base import FrameEncoderBase

BORDER_LUMA = 18  # a row or column of mean luminance at most this (of 255) is a black border


def trim_black_borders(frame: np.ndarray, threshold: float = BORDER_LUMA, min_keep: int = 8) -> np.ndarray:
    """The frame without its dark outer rows and columns (unchanged when almost nothing would be left)."""
    luma = frame.mean(axis=2)
    rows = np.flatnonzero(luma.mean(axis=1) > threshold)
    cols = np.flatnonzero(luma.mean(axis=0) > threshold)
    if len(rows) < min_keep or len(cols) < min_keep:
        return frame
    return frame[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


class LumaThumbnailEncoder(FrameEncoderBase):
    kind = "luma_thumbnail"

    def __init__(self, size: int = 16):
        self.size = size

    @property
    def dim(self) -> int:
        return self.size * self.size

    def embed(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros((len(frames), self.dim), np.float32)
        for i, frame in enumerate(frames):
            grey = Image.fromarray(np.ascontiguousarray(trim_black_borders(frame))).convert("L")
            g = np.asarray(grey.resize((self.size, self.size), Image.BOX), np.float32)
            g = g + g[:, ::-1]  # mirror-symmetric: a flipped frame gives the same vector
            g -= g.mean()
            out[i] = g.ravel() / max(float(np.linalg.norm(g)), 1e-6)
        return out

    def config(self) -> dict:
        return {"size": self.size, "dim": self.dim, "trained": False}

    @classmethod
    def from_saved(cls, directory: Path, config: dict) -> "LumaThumbnailEncoder":
        return cls(size=int(config["size"]))
