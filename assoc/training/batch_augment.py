"""MoCo v2's augmentations applied to a whole batch at once, on the training device.

torchvision's per-image transforms cost about 5 ms a frame pair on this CPU, as much as the
encoder's own forward and backward pass at 64 px; here each step is one batched tensor operation:

- random resized crop (area 0.2-1, aspect 3/4-4/3) and horizontal flip: one affine grid per image,
  sampled with `grid_sample` from a copy shrunk (with antialiasing) to twice the output size;
- colour jitter (p = 0.8): brightness, contrast, saturation (0.4 each) and hue (0.1 of a turn, a
  rotation of the chroma plane in YIQ space), each a per-image scalar;
- greyscale (p = 0.2); Gaussian blur (p = 0.5, sigma 0.1-2, a 9-tap separable kernel per image);
- normalisation with the encoder's mean and std, or (`luma`) to the encoder's standardised luma,
  after the colour jitter: a hue or saturation change still moves the luma a little, as a colour
  edit does.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from assoc.encoders.timm_encoder import luma_plane, normalise

_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ2RGB = torch.linalg.inv(_RGB2YIQ)


def _uniform(n: int, lo: float, hi: float, g: torch.Generator | None) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=g)


def _coin(n: int, p: float, g: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, generator=g) < p


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 N x 3 x H x W (or float in [0, 1]) -> float in [0, 1]."""
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def resized_crop(x: torch.Tensor, size: int, g: torch.Generator | None, scale=(0.2, 1.0),
                 ratio=(3 / 4, 4 / 3), flip_p: float = 0.5) -> torch.Tensor:
    """RandomResizedCrop + RandomHorizontalFlip for every image of the batch at once."""
    n, _, h, w = x.shape
    if min(h, w) > 2 * size:  # shrink first, with antialiasing: grid_sample alone would alias
        f = 2 * size / min(h, w)
        x = F.interpolate(x, size=(max(1, round(h * f)), max(1, round(w * f))), mode="bilinear",
                          antialias=True, align_corners=False)
    area = _uniform(n, *scale, g)
    log_r = _uniform(n, math.log(ratio[0]), math.log(ratio[1]), g)
    aspect = torch.exp(log_r)  # crop width / height in pixels
    cw = torch.sqrt(area * aspect * h / w).clamp(max=1.0)  # share of the width
    ch = torch.sqrt(area / aspect * w / h).clamp(max=1.0)  # share of the height
    cx = (torch.rand(n, generator=g) * 2 - 1) * (1 - cw)  # centre in [-1, 1] coordinates
    cy = (torch.rand(n, generator=g) * 2 - 1) * (1 - ch)
    sx = torch.where(_coin(n, flip_p, g), -cw, cw)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sx, cx
    theta[:, 1, 1], theta[:, 1, 2] = ch, cy
    grid = F.affine_grid(theta.to(x.device), [n, 3, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def colour_jitter(x: torch.Tensor, g: torch.Generator | None, p: float = 0.8, strength: float = 0.4,
                  hue: float = 0.1) -> torch.Tensor:
    n = len(x)
    on = _coin(n, p, g).to(x.device).view(n, 1, 1, 1)
    b = _uniform(n, 1 - strength, 1 + strength, g).to(x.device).view(n, 1, 1, 1)
    c = _uniform(n, 1 - strength, 1 + strength, g).to(x.device).view(n, 1, 1, 1)
    s = _uniform(n, 1 - strength, 1 + strength, g).to(x.device).view(n, 1, 1, 1)
    angle = _uniform(n, -hue, hue, g) * 2 * math.pi
    y = (x * b).clamp(0, 1)
    grey = luma_plane(y)
    y = ((y - grey.mean((2, 3), keepdim=True)) * c + grey.mean((2, 3), keepdim=True)).clamp(0, 1)
    grey = luma_plane(y)
    y = (grey + (y - grey) * s).clamp(0, 1)
    rot = torch.zeros(n, 3, 3)  # rotate I and Q: a hue shift
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2] = torch.cos(angle), -torch.sin(angle)
    rot[:, 2, 1], rot[:, 2, 2] = torch.sin(angle), torch.cos(angle)
    m = (_YIQ2RGB @ rot @ _RGB2YIQ).to(x.device)  # N x 3 x 3
    y = torch.einsum("nij,njhw->nihw", m, y).clamp(0, 1)
    return torch.where(on, y, x)


def greyscale(x: torch.Tensor, g: torch.Generator | None, p: float = 0.2) -> torch.Tensor:
    on = _coin(len(x), p, g).to(x.device).view(-1, 1, 1, 1)
    grey = luma_plane(x).expand_as(x)
    return torch.where(on, grey, x)


def gaussian_blur(x: torch.Tensor, g: torch.Generator | None, p: float = 0.5, sigma=(0.1, 2.0),
                  taps: int = 9) -> torch.Tensor:
    n, c, h, w = x.shape
    sig = torch.where(_coin(n, p, g), _uniform(n, *sigma, g), torch.zeros(n))  # 0: no blur
    r = torch.arange(taps, dtype=torch.float32) - taps // 2
    k = torch.exp(-(r[None] ** 2) / (2 * sig.clamp_min(1e-3)[:, None] ** 2))
    k = k / k.sum(1, keepdim=True)  # N x taps (a delta when sigma is tiny)
    k = k.repeat_interleave(c, 0).to(x.device)  # N*C x taps
    y = x.reshape(1, n * c, h, w)
    pad = taps // 2
    y = F.conv2d(F.pad(y, (pad, pad, 0, 0), mode="reflect"), k.view(n * c, 1, 1, taps), groups=n * c)
    y = F.conv2d(F.pad(y, (0, 0, pad, pad), mode="reflect"), k.view(n * c, 1, taps, 1), groups=n * c)
    return y.view(n, c, h, w)


class BatchAugment:
    """MoCo v2's view (`standard`) or a plain resize, for a uint8 batch N x 3 x H x W."""

    def __init__(self, image_size: int, standard: bool = True, seed: int = 0, luma: bool = False,
                 crop_scale: tuple[float, float] = (0.2, 1.0)):
        self.size, self.standard, self.luma, self.crop_scale = image_size, standard, luma, tuple(crop_scale)
        self.g = torch.Generator().manual_seed(seed)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = to_float(x)
        if not self.standard:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
            return normalise(x, self.luma)
        x = resized_crop(x, self.size, self.g, scale=self.crop_scale)
        x = colour_jitter(x, self.g)
        x = greyscale(x, self.g)
        x = gaussian_blur(x, self.g)
        return normalise(x, self.luma)
