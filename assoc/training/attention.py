"""Attention cropping and dropping (WS-DAN), driven by the encoder's own last feature map.

A channel is drawn with probability proportional to the square root of its mean activation; its
map, normalised by its maximum and upsampled, gives a crop box where it is >= theta_c * max
(theta_c ~ U(0.4, 0.6)) and a drop mask where it is >= theta_d * max (theta_d ~ U(0.2, 0.5)).
Cropping zooms into what the encoder looks at; dropping hides it, so the encoder must use more of
the picture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def attention_maps(backbone, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One sampled attention map per image, normalised to [0, 1] and upsampled: N x H x W."""
    fmap = backbone.forward_features(x).float().clamp_min(0)  # N x C x h x w
    weights = fmap.mean(dim=(2, 3)).sqrt() + 1e-8  # N x C
    channel = torch.multinomial(weights / weights.sum(1, keepdim=True), 1, generator=generator)[:, 0]  # N
    maps = fmap[torch.arange(len(x)), channel]  # N x h x w
    maps = maps / maps.flatten(1).amax(1).clamp_min(1e-8)[:, None, None]
    return F.interpolate(maps[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


def attention_crop(x: torch.Tensor, maps: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Crop each image to the box where its map >= theta * max, theta ~ U(0.4, 0.6), resized back."""
    n, _, h, w = x.shape
    theta = 0.4 + 0.2 * torch.rand(n, generator=generator)
    out = torch.empty_like(x)
    for i in range(n):
        ys, xs = torch.nonzero(maps[i] >= theta[i], as_tuple=True)
        if len(ys) == 0:
            out[i] = x[i]
            continue
        y0, y1 = int(ys.min()), int(ys.max()) + 1
        x0, x1 = int(xs.min()), int(xs.max()) + 1
        crop = x[i : i + 1, :, y0:y1, x0:x1]
        out[i] = F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)[0]
    return out


def attention_drop(x: torch.Tensor, maps: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero (the normalised mean colour) where the map >= theta * max, theta ~ U(0.2, 0.5)."""
    theta = 0.2 + 0.3 * torch.rand(len(x), generator=generator)
    keep = (maps < theta[:, None, None]).to(x.dtype)[:, None]  # N x 1 x H x W
    return x * keep


def attend(backbone, x: torch.Tensor, p_crop: float = 0.25, p_drop: float = 0.25,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Crop some images, drop parts of others, leave the rest; shapes unchanged."""
    maps = attention_maps(backbone, x, generator)
    u = torch.rand(len(x), generator=generator)
    out = x.clone()
    crop, drop = u < p_crop, (u >= p_crop) & (u < p_crop + p_drop)
    if crop.any():
        out[crop] = attention_crop(x[crop], maps[crop], generator)
    if drop.any():
        out[drop] = attention_drop(x[drop], maps[drop], generator)
    return out
