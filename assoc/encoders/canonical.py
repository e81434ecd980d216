"""A canonical view of a frame, taken before any encoder sees it, at index time and at lookup.

Two edits change the frame's geometry without changing its content, and no encoder should have to
learn them from scratch:

- **black borders** (letterbox, pillarbox): rows and columns whose mean luminance is at most 18 of
  255 are trimmed from the outside in (or, with `quantile`, rows and columns most of whose pixels are
  that dark: a logo or a subtitle laid over a bar then no longer keeps the bar; verification uses
  it, the encoders keep the mean that their indexes were built with);
- **vertical reframes with padding**: a portrait frame (taller than 1.2 x its width) made from a
  landscape source usually keeps the whole source as a band across its middle, padded above and
  below with a blurred copy or a solid colour; the central 16:9 band is kept. A reframe that crops
  the centre instead ("fill") loses most of the source whatever we do.

Keyframes of the catalog (landscape, no borders) pass through unchanged.
"""

from __future__ import annotations

import numpy as np

BORDER_LUMA = 18  # a row or column of mean luminance at most this (of 255) is a black border
PORTRAIT = 1.2  # height / width above which a frame is treated as a vertical reframe


def trim_black_borders(frame: np.ndarray, threshold: float = BORDER_LUMA, min_keep: int = 8,
                       quantile: float | None = None) -> np.ndarray:
    """The frame without its dark outer rows and columns (unchanged when almost nothing would be left).

    A row or column is dark when its mean luminance is at most `threshold`, or, with `quantile` (a
    percentile, e.g. 80), when that percentile of its luminance is: at least 80 % of its pixels are black,
    whatever an overlay paints on the rest."""
    luma = frame.mean(axis=2)
    if quantile is None:
        by_row, by_col = luma.mean(axis=1), luma.mean(axis=0)
    else:
        by_row, by_col = np.percentile(luma, quantile, axis=1), np.percentile(luma, quantile, axis=0)
    rows = np.flatnonzero(by_row > threshold)
    cols = np.flatnonzero(by_col > threshold)
    if len(rows) < min_keep or len(cols) < min_keep:
        return frame
    return frame[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def is_portrait(frame: np.ndarray) -> bool:
    """A vertical reframe: taller than PORTRAIT x its width."""
    return frame.shape[0] > PORTRAIT * frame.shape[1]


def landscape_band(frame: np.ndarray, aspect: float = 16 / 9) -> np.ndarray:
    """The central band of `aspect` of a portrait frame; other frames unchanged."""
    if not is_portrait(frame):
        return frame
    h, w = frame.shape[:2]
    bh = max(2, int(round(w / aspect)))
    y0 = (h - bh) // 2
    return frame[y0 : y0 + bh]


def canonical_view(frame: np.ndarray, quantile: float | None = None) -> np.ndarray:
    """Black borders trimmed (`quantile`: see trim_black_borders), then a portrait frame's central landscape band."""
    return landscape_band(trim_black_borders(frame, quantile=quantile))
