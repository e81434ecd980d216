"""A timm backbone (EfficientNet by default) with a projection to D dimensions, L2-normalised."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from assoc.encoders.base import FrameEncoderBase
from assoc.encoders.canonical import canonical_view
from assoc.errors import ModelError

WEIGHTS = "model.safetensors"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


_LUMA = (0.299, 0.587, 0.114)


def luma_plane(x: torch.Tensor) -> torch.Tensor:
    """Luma (BT.601 weights) of N x 3 x H x W: N x 1 x H x W."""
    return (x * torch.tensor(_LUMA, device=x.device).view(1, 3, 1, 1)).sum(1, keepdim=True)


def normalise(x: torch.Tensor, luma: bool = False) -> torch.Tensor:
    """Pixels in [0, 1], N x 3 x H x W -> the encoder's input scale (MEAN, STD), on x's device.

    `luma`: instead, each image's luma standardised on its own (zero mean, unit contrast), in all
    three channels: the encoder cannot see hue, saturation, brightness or contrast, which a colour
    edit changes over the whole frame.
    """
    if luma:
        g = luma_plane(x)
        g = (g - g.mean((2, 3), keepdim=True)) / (g.std((2, 3), keepdim=True) + 0.03)
        return g.expand(-1, 3, -1, -1).contiguous()
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class EmbeddingNet(nn.Module):
    """backbone (global-pooled features) -> standardisation -> linear projection -> L2 normalisation.

    With `mirror`, the pooled features of the image and of its mirror image are averaged, so a
    horizontally flipped frame gives the same vector (at twice the cost).
    """

    def __init__(self, arch: str, dim: int, mirror: bool = False):
        super().__init__()
        self.mirror = mirror
        import timm

        self.backbone = timm.create_model(arch, pretrained=False, num_classes=0).eval()
        with torch.no_grad():  # the pooled width (some models add a head conv after num_features)
            width = int(self.backbone(torch.zeros(1, 3, 64, 64)).shape[1])
        # Pooled features of a randomly initialised backbone are tiny and share one direction;
        # standardising them (statistics from calibrate()) is what lets an untrained encoder rank.
        self.feature_norm = nn.BatchNorm1d(width, affine=False)
        self.proj = nn.Linear(width, dim, bias=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        f = self.backbone(x)
        return (f + self.backbone(x.flip(3))) / 2 if self.mirror else f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.feature_norm(self.features(x))  # N x C
        return F.normalize(self.proj(f), dim=1)  # N x D


class TimmFrameEncoder(FrameEncoderBase):
    kind = "timm"

    def __init__(self, arch: str = "efficientnet_b0", dim: int = 256, image_size: int = 128, seed: int = 0,
                 weights: str | Path | None = None, trained: bool = False, batch_size: int = 64,
                 device: str = "cpu", training: dict | None = None, canonical: bool = True, mirror: bool = True,
                 luma: bool = False):
        """`canonical`: frames pass through `canonical_view` (borders trimmed, a portrait frame's
        landscape band) before the resize; `mirror`: flip-averaged features; `luma`: the network sees
        each frame's standardised luma (`normalise`). All are kept in the config when on; encoders
        saved before they existed load with them off."""
        self.arch, self._dim, self.image_size, self.seed = arch, dim, image_size, seed
        self.canonical, self.mirror, self.luma = canonical, mirror, luma
        self.trained, self.batch_size, self.device = trained, batch_size, device
        self.training = training or {}
        self.calibrated = False
        self.init_weights = str(weights) if weights else None
        torch.manual_seed(seed)  # an untrained encoder is reproducible from its seed
        self.net = EmbeddingNet(arch, dim, mirror).eval().to(device)
        if weights:
            self._load_backbone(Path(weights))

    def _load_backbone(self, path: Path) -> None:
        """Start from a local timm weight file the user names (never a download)."""
        if not path.is_file():
            raise ModelError(f"{path}: weight file not found")
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:
            raise ModelError(f"{path}: cannot read weights: {e}") from e
        state = {k: v for k, v in state.items() if not k.startswith(("classifier.", "fc.", "head."))}
        missing, unexpected = self.net.backbone.load_state_dict(state, strict=False)
        if len(missing) > len(state) // 2 or unexpected:
            raise ModelError(f"{path}: weights do not fit {self.arch} "
                             f"({len(missing)} missing, {len(unexpected)} unexpected keys)")

    @property
    def dim(self) -> int:
        return self._dim

    @torch.no_grad()
    def calibrate(self, frames: np.ndarray, feature_norm_only: bool = False) -> None:
        """Re-estimate batch-norm statistics from unlabelled frames (no weight changes).

        A randomly initialised network's activations shrink layer by layer; recomputing the
        normalisation statistics on the catalog's own frames keeps them in range. A trained
        backbone keeps its own statistics: then only the feature standardisation is estimated.
        """
        modules = [self.net.feature_norm] if feature_norm_only else self.net.modules()
        bns = [m for m in modules if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all calibration batches
        for m in bns:
            m.train()
        if not feature_norm_only:
            self.net.train()
        try:
            for i in range(0, len(frames), self.batch_size):
                self.net(self.preprocess(frames[i : i + self.batch_size]).to(self.device))
        finally:
            self.net.eval()
            for m in bns:
                m.momentum = 0.1
        self.calibrated = True

    @torch.no_grad()
    def fit_projection(self, frames: np.ndarray) -> None:
        """Set the projection to the principal components of the standardised backbone features
        (unsupervised; for a trained backbone, whose features are worth keeping)."""
        self.net.eval()
        feats = []
        for i in range(0, len(frames), self.batch_size):
            x = self.preprocess(frames[i : i + self.batch_size]).to(self.device)
            feats.append(self.net.feature_norm(self.net.features(x)).float().cpu())
        f = torch.cat(feats)  # N x C
        f = f - f.mean(0, keepdim=True)
        _, _, v = torch.linalg.svd(f, full_matrices=False)  # v: C' x C, rows by decreasing variance
        k = min(self._dim, v.shape[0])
        weight = torch.zeros_like(self.net.proj.weight)  # D x C
        weight[:k] = v[:k]
        self.net.proj.weight.copy_(weight)

    def preprocess(self, frames: np.ndarray) -> torch.Tensor:
        if self.canonical:  # views differ in size: each resized on its own
            s = self.image_size
            frames = np.stack([cv2.resize(np.ascontiguousarray(canonical_view(f)), (s, s), interpolation=cv2.INTER_AREA)
                               for f in frames]) if len(frames) else np.zeros((0, s, s, 3), np.uint8)
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # N x 3 x H x W
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True)
        return normalise(x, self.luma)

    @torch.inference_mode()
    def embed(self, frames: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(frames), self.batch_size):
            x = self.preprocess(frames[i : i + self.batch_size]).to(self.device)
            out.append(self.net(x).float().cpu().numpy())
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return np.concatenate(out).astype(np.float32)

    def config(self) -> dict:
        return {"arch": self.arch, "dim": self._dim, "image_size": self.image_size, "seed": self.seed,
                "trained": self.trained, "calibrated": self.calibrated, "init_weights": self.init_weights, "mean": MEAN, "std": STD,
                # only when on: an encoder saved before these options keeps its config and checksum
                **{k: True for k in ("canonical", "mirror", "luma") if getattr(self, k)},
                "training": self.training}

    def _write_weights(self, directory: Path) -> list[str]:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}, str(directory / WEIGHTS))
        return [WEIGHTS]

    def _weights_digest(self) -> str:
        h = hashlib.sha256()
        for k, v in sorted(self.net.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()

    @classmethod
    def from_saved(cls, directory: Path, config: dict) -> "TimmFrameEncoder":
        from safetensors.torch import load_file

        enc = cls(arch=config["arch"], dim=int(config["dim"]), image_size=int(config["image_size"]),
                  seed=int(config.get("seed", 0)), trained=bool(config.get("trained")), training=config.get("training"),
                  canonical=bool(config.get("canonical", False)), mirror=bool(config.get("mirror", False)),
                  luma=bool(config.get("luma", False)))
        enc.init_weights = config.get("init_weights")
        enc.calibrated = bool(config.get("calibrated"))
        try:
            enc.net.load_state_dict(load_file(str(directory / WEIGHTS)))
        except Exception as e:
            raise ModelError(f"{directory}: weights do not load into {config['arch']}: {e}") from e
        return enc
