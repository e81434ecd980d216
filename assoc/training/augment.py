"""The two-view augmentation of MoCo v2, plus anti-shortcut painting on one view only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms import v2 as T

from assoc.encoders.timm_encoder import MEAN, STD
from assoc.training.shortcuts import paint_shortcuts


@dataclass
class AugmentSettings:
    image_size: int = 128
    standard: bool = True  # MoCo v2: random resized crop, colour jitter, greyscale, blur, flip
    anti_shortcut: bool = True  # subtitles, logos, stickers, borders, vertical padding on one view
    shortcut_p: float = 0.6


def moco_v2(image_size: int) -> T.Compose:
    """MoCo v2's augmentation on uint8 C x H x W tensors, ending normalised float."""
    return T.Compose([
        T.RandomResizedCrop(image_size, scale=(0.2, 1.0), antialias=True),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(kernel_size=9, sigma=(0.1, 2.0))], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToDtype(torch.float32, scale=True),
        T.Normalize(MEAN, STD),
    ])


def plain(image_size: int) -> T.Compose:
    return T.Compose([T.Resize((image_size, image_size), antialias=True),
                      T.ToDtype(torch.float32, scale=True), T.Normalize(MEAN, STD)])


class TwoViews:
    """(query view, key view) of one frame; shortcuts painted on the query view only."""

    def __init__(self, settings: AugmentSettings, seed: int = 0):
        self.settings = settings
        self.transform = moco_v2(settings.image_size) if settings.standard else plain(settings.image_size)
        self.rng = np.random.default_rng(seed)

    def __call__(self, frame: np.ndarray, other: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`other` is a temporal positive (a nearby frame of the same shot) used for the key view."""
        q_img = paint_shortcuts(frame, self.rng, self.settings.shortcut_p) if self.settings.anti_shortcut else frame
        k_img = frame if other is None else other
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)  # noqa: E731  H x W x 3 -> 3 x H x W
        return self.transform(to_t(q_img)), self.transform(to_t(k_img))
