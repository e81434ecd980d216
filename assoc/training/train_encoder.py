"""`assoc train encoder`: MoCo v2 on the catalog's frames, resumable, saved as a self-describing encoder."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from assoc.catalog import Catalog
from assoc.encoders.registry import TIMM_ARCHS
from assoc.encoders.timm_encoder import TimmFrameEncoder
from assoc.errors import InputError
from assoc.training.attention import attend
from assoc.training.augment import TwoViews
from assoc.training.frames import FrameSet, load_frames
from assoc.training.moco import (
    MASKS,
    MoCo,
    MocoSettings,
    ProjectedBackbone,
    calibrate_head_norm,
    freeze_early_stages,
    frozen_norms,
    set_train_mode,
)

CHECKPOINT = "moco.pt"


@dataclass
class TrainReport:
    frames: int = 0
    steps: int = 0
    epochs: int = 0
    resumed_from_epoch: int = 0
    seconds: float = 0.0
    losses: list[float] = field(default_factory=list)  # mean per epoch
    accuracy: list[float] = field(default_factory=list)  # positive-pair top-1 per epoch
    failures: list[str] = field(default_factory=list)
    device: str = "cpu"


def _device(requested: str | None) -> str:
    if requested:
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise InputError("CUDA was asked for but is not available")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def _episode_ranges(episode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, the [start, end) of its episode's frames (frames are stored episode by episode)."""
    if not len(episode):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    change = np.flatnonzero(np.r_[True, episode[1:] != episode[:-1], True])
    run = np.repeat(np.arange(len(change) - 1), np.diff(change))
    return change[:-1][run], change[1:][run]


def _batch(frames: FrameSet, idx: np.ndarray, views: TwoViews, rng: np.random.Generator, settings: MocoSettings,
           ranges: tuple[np.ndarray, np.ndarray]):
    """The key view of frame i comes from another frame of its episode (p = episode_positive_p), else
    from the next frame of its shot (p = temporal_positive_p), else from frame i itself."""
    others = []
    for i in idx:
        j = -1
        if rng.random() < settings.episode_positive_p:
            j = int(rng.integers(ranges[0][i], ranges[1][i]))
        elif frames.neighbour[i] >= 0 and rng.random() < settings.temporal_positive_p:
            j = int(frames.neighbour[i])
        others.append(frames.frames[j] if j >= 0 else None)
    return views(frames.frames[idx], others)


def _optimizer(settings: MocoSettings, params) -> tuple[torch.optim.Optimizer, float]:
    if settings.optimizer == "adamw":
        lr = settings.lr or 1e-3
        return torch.optim.AdamW(params, lr=lr, weight_decay=settings.weight_decay), lr
    if settings.optimizer == "sgd":
        lr = (settings.lr or 0.03) * settings.batch_size / 256
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=settings.weight_decay), lr
    raise InputError(f"unknown optimizer '{settings.optimizer}'; known: adamw, sgd")


def _save_checkpoint(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train_encoder(catalog: Catalog, out: str | Path, settings: MocoSettings | None = None,
                  checkpoint_dir: str | Path | None = None, device: str | None = None,
                  progress: Callable[..., None] | None = None, frames: FrameSet | None = None) -> TrainReport:
    """Train, checkpoint every epoch (resuming a matching checkpoint), and save the encoder to `out`.

    `epochs` 0 trains nothing: the saved encoder is the untrained baseline (random weights and batch-norm
    statistics; the feature standardisation and PCA projection fitted on the catalog's frames; `trained`
    false)."""
    settings = settings or MocoSettings()
    if settings.arch not in TIMM_ARCHS:
        raise InputError(f"unknown architecture '{settings.arch}'; known: {', '.join(TIMM_ARCHS)}")
    if settings.mask not in MASKS:
        raise InputError(f"unknown negatives mask '{settings.mask}'; known: {', '.join(MASKS)}")
    device = _device(device)
    t0 = time.time()
    report = TrainReport(device=device)
    torch.manual_seed(settings.seed)
    base = TimmFrameEncoder(settings.arch, dim=settings.embed_dim, image_size=settings.augment.image_size,
                            seed=settings.seed, weights=settings.weights, luma=settings.augment.luma)
    freeze_early_stages(base.net.backbone, settings.train_stages)  # before decoding: a bad value fails at once
    frames = frames or load_frames(catalog, fps=settings.train_fps)
    report.frames, report.failures = len(frames), frames.failures
    if len(frames) < 2 * settings.batch_size:
        raise InputError(f"{len(frames)} training frames: need at least {2 * settings.batch_size} (two batches)")
    queue = settings.queue or min(16384, len(frames) // 2)
    queue = max(settings.batch_size, min(queue, len(frames) // 2))
    width = base.net.proj.in_features
    group = frames.program if settings.mask == "program" else frames.episode
    model = MoCo(ProjectedBackbone(base.net.backbone, width, settings.head_dim, settings.head_norm), queue,
                 settings.momentum, settings.temperature, settings.splits, settings.dedup_seconds,
                 settings.mask != "shot").to(device)
    frozen = frozen_norms(model.encoder_q, settings.freeze_bn)
    if settings.head_norm:  # statistics from key views of up to 2,048 frames, the same for both encoders
        set_train_mode(model, frozen)
        pick = np.random.default_rng(settings.seed).choice(len(frames), min(len(frames), 2048), replace=False)
        calib_views = TwoViews(settings.augment, seed=settings.seed + 1, device=device)
        batches = [calib_views(frames.frames[pick[i : i + settings.batch_size]])[1]
                   for i in range(0, len(pick), settings.batch_size)]
        for enc in (model.encoder_q, model.encoder_k):
            calibrate_head_norm(enc, batches)
    optimizer, lr = _optimizer(settings, [p for p in model.encoder_q.parameters() if p.requires_grad])
    ranges = _episode_ranges(frames.episode)
    steps_per_epoch = len(frames) // settings.batch_size
    total = steps_per_epoch * settings.epochs
    ckpt = Path(checkpoint_dir or f"{out}.ckpt") / CHECKPOINT
    start_epoch = 0
    if ckpt.is_file():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        # settings added since the checkpoint was written take their defaults, which are the old behaviour
        stored = {**{k: v for k, v in MocoSettings().as_dict().items() if k not in state["settings"]},
                  **state["settings"]}
        if stored == settings.as_dict() and state["frames"] == len(frames):
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            start_epoch = report.resumed_from_epoch = state["epoch"]
            report.losses, report.accuracy = state["losses"], state["accuracy"]
    views = TwoViews(settings.augment, seed=settings.seed + start_epoch, device=device)
    rng = np.random.default_rng([settings.seed, start_epoch])
    gen = torch.Generator().manual_seed(settings.seed + start_epoch)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.startswith("cuda") else torch.autocast("cpu", enabled=False)
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, settings.epochs):
        set_train_mode(model, frozen)
        order = rng.permutation(len(frames))
        losses, accs = [], []
        for b in range(steps_per_epoch):
            idx = order[b * settings.batch_size : (b + 1) * settings.batch_size]
            im_q, im_k = _batch(frames, idx, views, rng, settings, ranges)
            if settings.attention:
                model.encoder_q.backbone.eval()
                im_q = attend(model.encoder_q.backbone, im_q, settings.p_crop, settings.p_drop, gen)
                set_train_mode(model, frozen)
            for g in optimizer.param_groups:  # cosine schedule, per step
                g["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / max(1, total)))
            with amp:
                loss, acc = model(im_q, im_k, torch.from_numpy(group[idx]).to(device),
                                  torch.from_numpy(frames.t[idx]).to(device), torch.from_numpy(frames.shot[idx]).to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(float(loss.detach()))
            accs.append(float(acc))
            if progress:
                progress(step, total, loss=losses[-1], acc=accs[-1])
        report.losses.append(float(np.mean(losses)))
        report.accuracy.append(float(np.mean(accs)))
        _save_checkpoint(ckpt, {"settings": settings.as_dict(), "frames": len(frames), "epoch": epoch + 1,
                                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "losses": report.losses, "accuracy": report.accuracy})
    report.epochs, report.steps = settings.epochs, step
    report.seconds = round(time.time() - t0, 1)
    sample = frames.frames[np.random.default_rng(0).choice(len(frames), min(len(frames), 4096), replace=False)]
    trained = settings.epochs > 0  # 0: the untrained baseline, random weights and batch-norm statistics
    encoder = TimmFrameEncoder(settings.arch, dim=settings.embed_dim, image_size=settings.augment.image_size,
                               seed=settings.seed, trained=trained, luma=settings.augment.luma,
                               weights=None if trained else settings.weights,
                               training={"method": "moco_v2", "settings": settings.as_dict(), "frames": len(frames),
                                         "queue": queue, "losses": report.losses, "accuracy": report.accuracy,
                                         "seconds": report.seconds, "device": device} if trained else None)
    if trained:
        encoder.net.backbone.load_state_dict(model.encoder_q.backbone.state_dict())
    # batch norm keeps its own statistics, trained or initial: for the untrained luma network,
    # re-estimating them on catalog frames took a proxy's clip R@1 from 0.608 to 0.180 (docs/visual.md)
    encoder.calibrate(sample, feature_norm_only=True)
    encoder.fit_projection(sample)
    encoder.save(out)
    return report
