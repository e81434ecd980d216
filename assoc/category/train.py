"""Training the category model: class-balanced sampling, modality dropout, early stopping on val."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from assoc.category.data import Examples
from assoc.category.features import MODALITIES
from assoc.category.metrics import category_metrics
from assoc.category.model import CategoryModel, CategorySettings, batch_inputs, modality_rows
from assoc.errors import InputError


@dataclass
class TrainSettings:
    epochs: int = 40
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    patience: int = 15  # epochs without a better val score before stopping (val hit@1 is noisy while the
    # learning rate is high: at 5, bench runs stopped near epoch 15 of 40, 3-8 points below a full run)
    seed: int = 0


@dataclass
class CategoryTrainReport:
    examples: int = 0
    val_examples: int = 0
    epochs: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    val: dict = field(default_factory=dict)  # metrics at the best epoch
    history: list[dict] = field(default_factory=list)


def _dims(examples: Examples, settings: CategorySettings) -> dict[str, int]:
    dims = {}
    for m in settings.modalities:
        try:
            widths = {r.shape[1] for r in (modality_rows(f, m, settings.frame_colour) for f in examples.features)
                      if r.ndim == 2}
        except ValueError as e:
            raise InputError(f"modality '{m}': {e}") from e
        if len(widths) != 1:
            raise InputError(f"modality '{m}': rows of differing widths {sorted(widths)} in the training examples")
        dims[m] = widths.pop()
    return dims


def _val_score(metrics: dict) -> float:
    return metrics["hit@1"][2] + 0.5 * metrics["hit@1"][1] + 0.25 * metrics["hit@1"][0]


def train_category(train: Examples, val: Examples, settings: CategorySettings | None = None,
                   train_settings: TrainSettings | None = None, leaves: list | None = None,
                   progress: Callable[..., None] | None = None, info: dict | None = None
                   ) -> tuple[CategoryModel, CategoryTrainReport]:
    """Train one model; keep the epoch with the best val score; stop after `patience` epochs without."""
    settings = settings or CategorySettings()
    ts = train_settings or TrainSettings()
    if len(train) < 2:
        raise InputError(f"{len(train)} training examples: need at least 2")
    if len(val) == 0:
        raise InputError("no validation examples: early stopping needs some")
    t0 = time.time()
    torch.manual_seed(ts.seed)
    rng = np.random.default_rng(ts.seed)
    leaves = leaves or sorted(set(train.paths))
    model = CategoryModel(settings, _dims(train, settings), leaves, info=info)
    net, h = model.net, model.hierarchy
    unknown = sorted({p for p in train.paths if p not in h.leaf_pos})
    if unknown:
        raise InputError(f"training categories not in the taxonomy: {unknown[:3]}")
    labels = np.array([h.labels(p) for p in train.paths])  # N x 3
    counts = np.bincount(labels[:, 2], minlength=len(h.leaves))
    weights = 1.0 / counts[labels[:, 2]]  # class-balanced: every leaf drawn equally often
    weights /= weights.sum()
    opt = torch.optim.AdamW(net.parameters(), lr=ts.lr, weight_decay=ts.weight_decay)
    steps = max(1, len(train) // ts.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps * ts.epochs)
    report = CategoryTrainReport(examples=len(train), val_examples=len(val))
    best, best_state, waited = -1.0, None, 0
    n_mod = len(settings.modalities)
    for epoch in range(1, ts.epochs + 1):
        net.train()
        losses = []
        for _ in range(steps):
            idx = rng.choice(len(train), size=min(ts.batch_size, len(train)), p=weights)
            drop = rng.random((len(idx), n_mod)) < settings.modality_dropout
            drop[drop.all(1)] = False  # never every modality
            inputs = batch_inputs([train.features[i] for i in idx], settings.modalities, model.dims, drop=drop,
                                  frame_colour=settings.frame_colour)
            log_p = F.log_softmax(net(inputs), dim=1)
            y = torch.from_numpy(labels[idx])
            loss = sum(F.nll_loss(lp, y[:, level]) for level, lp in enumerate(h.torch_marginals(log_p)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        metrics = category_metrics(model.predict(val.features), val.paths)
        score = _val_score(metrics)
        report.history.append({"epoch": epoch, "loss": round(float(np.mean(losses)), 4),
                               "val_hit@1": [round(x, 4) for x in metrics["hit@1"]]})
        if progress:
            progress(epoch, ts.epochs, loss=float(np.mean(losses)), val=metrics["hit@1"][2])
        if score > best:
            best, waited, report.best_epoch, report.val = score, 0, epoch, metrics
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            waited += 1
            if waited >= ts.patience:
                break
    report.epochs = epoch
    net.load_state_dict(best_state)
    net.eval()
    report.seconds = round(time.time() - t0, 1)
    model.info = dict(model.info, training=asdict(report), train_settings=asdict(ts))
    return model, report


ABLATIONS = {  # name -> settings changes: the modality ladder and the mean-pool baseline
    "frames": {"modalities": ("frames",)},
    "frames+audio": {"modalities": ("frames", "audio")},
    "meanpool_lr": {"pooling": "mean"},
}


def ablation_settings(base: CategorySettings, name: str) -> CategorySettings:
    if name not in ABLATIONS:
        raise InputError(f"unknown ablation '{name}'; known: {', '.join(ABLATIONS)}")
    changes = dict(ABLATIONS[name])
    s = CategorySettings(**dict(base.as_dict(), **changes))
    if s.modalities != MODALITIES:
        s.modality_dropout = base.modality_dropout if len(s.modalities) > 1 else 0.0
    return s
