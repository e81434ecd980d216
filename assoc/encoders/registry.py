"""Encoders by name: `create_encoder("efficientnet_b0", dim=256)`; unknown names list the known ones."""

from __future__ import annotations

from assoc.encoders.base import FrameEncoderBase
from assoc.encoders.histogram import ColorHistogramEncoder
from assoc.encoders.relative_histogram import RelativeHistogramEncoder
from assoc.encoders.thumbnail import LumaThumbnailEncoder
from assoc.encoders.timm_encoder import TimmFrameEncoder
from assoc.errors import InputError

ENCODER_KINDS = {"timm": TimmFrameEncoder, "color_histogram": ColorHistogramEncoder,
                 "luma_thumbnail": LumaThumbnailEncoder, "relative_histogram": RelativeHistogramEncoder}
# timm architectures we support; tinynet_* are EfficientNets scaled down (TinyNet), cheap enough to
# train on a CPU; test_efficientnet is timm's tiny test model, for tests
TIMM_ARCHS = ("efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_lite0",
              "tinynet_a", "tinynet_b", "tinynet_c", "tinynet_d", "tinynet_e",
              "mobilenetv3_large_100", "test_efficientnet")


def list_encoders() -> list[str]:
    return [*TIMM_ARCHS, "color_histogram", "luma_thumbnail", "relative_histogram"]


def create_encoder(name: str, **kwargs) -> FrameEncoderBase:
    if name == "color_histogram":
        return ColorHistogramEncoder(**{k: v for k, v in kwargs.items() if k == "bins"})
    if name == "luma_thumbnail":
        return LumaThumbnailEncoder(**{k: v for k, v in kwargs.items() if k in ("size", "portrait_band")})
    if name == "relative_histogram":
        return RelativeHistogramEncoder(**{k: v for k, v in kwargs.items() if k in ("luma_bins", "sat_bins", "hue_bins", "brightness")})
    if name in TIMM_ARCHS:
        return TimmFrameEncoder(arch=name, **kwargs)
    raise InputError(f"unknown encoder '{name}'; known encoders: {', '.join(list_encoders())}")
