"""The two-view augmentation of MoCo v2, plus anti-shortcut painting on one view only.

Shortcuts are painted per frame (OpenCV, on uint8 arrays); MoCo v2's own augmentations then run on
the whole batch at once (`batch_augment.py`), on the training device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch

from assoc.encoders.canonical import canonical_view
from assoc.training.batch_augment import BatchAugment
from assoc.training.shortcuts import paint_shortcuts


@dataclass
class AugmentSettings:
    image_size: int = 128
    standard: bool = True  # MoCo v2: random resized crop, colour jitter, greyscale, blur, flip
    anti_shortcut: bool = True  # subtitles, logos, stickers, borders, vertical padding on one view
    shortcut_p: float = 0.6
    canonical: bool = True  # painted views pass through the encoder's canonical_view, as at lookup
    luma: bool = True  # the encoder sees standardised luma (timm_encoder.normalise), views made to match
    crop_scale: tuple[float, float] = (0.2, 1.0)  # random resized crop: share of the frame's area


def _stack(images: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 H x W x 3 arrays (one size) -> N x 3 x H x W."""
    return torch.from_numpy(np.ascontiguousarray(np.stack(images))).permute(0, 3, 1, 2)


class TwoViews:
    """(query views, key views) of a batch of frames; shortcuts painted on the query views only.

    A painted view passes through the encoder's `canonical_view` (as every frame does at lookup),
    and one whose size changed is resized back to the batch's frame size, so one batched
    augmentation serves every view.
    """

    def __init__(self, settings: AugmentSettings, seed: int = 0, device: str = "cpu"):
        self.settings, self.device = settings, device
        self.augment = BatchAugment(settings.image_size, settings.standard, seed=seed, luma=settings.luma,
                                    crop_scale=settings.crop_scale)
        self.rng = np.random.default_rng(seed)

    def __call__(self, frames: np.ndarray | Sequence[np.ndarray],
                 others: Sequence[np.ndarray | None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`frames`: one H x W x 3 frame or a batch of them; `others[i]`, when not None, is a
        temporal positive of frame i (a nearby frame of its shot), used for its key view."""
        single = isinstance(frames, np.ndarray) and frames.ndim == 3
        batch = [frames] if single else list(frames)
        others = list(others) if others is not None else [None] * len(batch)
        h, w = batch[0].shape[:2]
        queries = []
        for f in batch:
            q = paint_shortcuts(f, self.rng, self.settings.shortcut_p) if self.settings.anti_shortcut else f
            if self.settings.canonical and q is not f:
                q = canonical_view(q)
            if q.shape[:2] != (h, w):
                q = cv2.resize(q, (w, h), interpolation=cv2.INTER_AREA)
            queries.append(q)
        keys = [o if o is not None else f for f, o in zip(batch, others)]
        q = self.augment(_stack(queries).to(self.device))
        k = self.augment(_stack(keys).to(self.device))
        return (q[0], k[0]) if single else (q, k)
