"""A luminance layout per frame: where the picture is light and dark, whatever its colours.

A hand-made descriptor beside the colour histogram, for the same two jobs: a reference baseline in
`assoc eval`, and an auxiliary visual signal for the re-ranker. The two fail on opposite edits: a
colour change (filters, white balance, the synthetic universe's hue shifts) defeats a colour
histogram but leaves the layout; a crop keeps the colours but moves the layout.

Per frame: black borders (letterbox, pillarbox) are trimmed and a portrait frame keeps its central
landscape band (`assoc/encoders/canonical.py`; encoders saved before the band was added keep
trimming borders only); the rest is
turned to grey and shrunk to `size` x `size` (box filter); a mirrored copy is added, so a
horizontally flipped clip gives the same vector; the result is centred and L2-normalised, so
inner product is a correlation that ignores brightness and contrast.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from assoc.encoders.base import FrameEncoderBase
from assoc.encoders.canonical import canonical_view, trim_black_borders


class LumaThumbnailEncoder(FrameEncoderBase):
    kind = "luma_thumbnail"

    def __init__(self, size: int = 16, portrait_band: bool = True):
        self.size, self.portrait_band = size, portrait_band

    @property
    def dim(self) -> int:
        return self.size * self.size

    def embed(self, frames: np.ndarray) -> np.ndarray:
        out = np.zeros((len(frames), self.dim), np.float32)
        for i, frame in enumerate(frames):
            grey = Image.fromarray(np.ascontiguousarray(self._view(frame))).convert("L")
            g = np.asarray(grey.resize((self.size, self.size), Image.BOX), np.float32)
            g = g + g[:, ::-1]  # mirror-symmetric: a flipped frame gives the same vector
            g -= g.mean()
            out[i] = g.ravel() / max(float(np.linalg.norm(g)), 1e-6)
        return out

    def _view(self, frame: np.ndarray) -> np.ndarray:
        return canonical_view(frame) if self.portrait_band else trim_black_borders(frame)

    def config(self) -> dict:
        # portrait_band only when on: a thumbnail saved before it keeps its config and checksum
        return {"size": self.size, "dim": self.dim, "trained": False, **({"portrait_band": True} if self.portrait_band else {})}

    @classmethod
    def from_saved(cls, directory: Path, config: dict) -> "LumaThumbnailEncoder":
        return cls(size=int(config["size"]), portrait_band=bool(config.get("portrait_band", False)))
