"""MoCo v2 (momentum contrast) for the frame encoder, sized for one machine.

- query encoder: timm backbone + MLP head; key encoder: its momentum copy (no gradients);
- a queue of keys as negatives, no larger than half the training frames, so a frame is not among
  its own negatives; queue entries remember their group (episode or program), time and shot;
  `mask` says which are no negatives of a query: "shot" (its own shot, and its episode within
  `dedup_seconds`), "episode" (its whole episode) or "program" (every episode of its program).
  An episode returns to its few sets again and again, and a program's episodes share them, so a
  frame of another shot of the same set is a near-copy, not a negative. The program is catalog
  structure, not a label: no frame is labelled, and no positive is drawn from another episode;
- positives: two views of one frame, or (`episode_positive_p`, `temporal_positive_p`, in
  train_encoder) a frame and another frame of its episode or the next frame of its shot;
- InfoNCE with temperature 0.2;
- optionally only the backbone's last stages train (`train_stages`), its batch norms keep their
  starting statistics (`freeze_bn`), and the pooled features are standardised before the head
  (`head_norm`): a start from a network that already ranks near-copies (docs/visual.md);
- batch-norm leakage without multi-GPU shuffle-BN: split-BN by forward passes over sub-batches
  (each normalised on its own), with the keys shuffled before splitting, so no key sub-batch has
  the same members as a query sub-batch. Sub-batches must not be small: at 4 x 32 the batch
  statistics alone put one frame's two passes at cosine 0.83 at initialisation, barely above the
  closest other frame (0.81), and the encoder did not learn even without augmentation (docs/visual.md);
  2 x 64 is the default.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from assoc.errors import InputError
from assoc.training.augment import AugmentSettings

MASKS = ("shot", "episode", "program")


@dataclass
class MocoSettings:
    arch: str = "efficientnet_b0"
    head_dim: int = 128
    embed_dim: int = 256  # the saved encoder's output (PCA of backbone features)
    queue: int = 0  # 0: min(16384, frames // 2)
    momentum: float = 0.99
    temperature: float = 0.2
    optimizer: str = "sgd"  # MoCo v2's (momentum 0.9, lr scaled by batch / 256), or "adamw"
    lr: float = 0.0  # 0: 1e-3 for adamw, 0.03 x batch / 256 for sgd
    weight_decay: float = 1e-4
    batch_size: int = 128
    epochs: int = 10
    splits: int = 2  # split-BN sub-batches (each batch_size / splits frames)
    temporal_positive_p: float = 0.3  # the key view from the next frame of the same shot
    episode_positive_p: float = 0.0  # the key view from another frame of the same episode
    dedup_seconds: float = 2.0
    mask: str = "shot"  # which queue entries are no negatives: shot | episode | program (see above)
    attention: bool = True
    p_crop: float = 0.25
    p_drop: float = 0.25
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    train_fps: float = 1.0
    seed: int = 0
    weights: str | None = None  # a local timm weight file to start from
    freeze_bn: bool = False  # batch norm keeps its starting statistics (initial, or the weight file's) throughout
    train_stages: int = 0  # 0: the whole backbone; N: only its last N stages and what follows them (head conv)
    head_norm: bool = False  # standardise the pooled features before the MLP head (statistics fixed at the start)

    def as_dict(self) -> dict:
        return asdict(self)


class ProjectedBackbone(nn.Module):
    """backbone -> [standardisation] -> MLP head (C -> C -> head_dim) -> L2 normalisation.

    `norm`: the pooled features are standardised before the head (the saved encoder standardises them
    too, `EmbeddingNet.feature_norm`), by statistics estimated once on training frames
    (`calibrate_head_norm`) and then fixed. A random backbone whose batch norms keep their initial
    statistics gives tiny pooled features that share one direction; without this the head's outputs
    for all frames are near-copies of each other and the loss teaches little. Batch statistics there
    fail: the features vary so little that each sub-batch's own standardisation moves one frame's
    query and key apart (docs/visual.md)."""

    def __init__(self, backbone: nn.Module, width: int, head_dim: int, norm: bool = False):
        super().__init__()
        self.backbone = backbone
        self.norm = nn.BatchNorm1d(width, affine=False) if norm else nn.Identity()
        self.head = nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True), nn.Linear(width, head_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.norm(self.backbone(x))), dim=1)  # N x head_dim


def is_batch_norm(m: nn.Module) -> bool:
    return isinstance(m, nn.modules.batchnorm._BatchNorm)


def freeze_early_stages(backbone: nn.Module, train_stages: int) -> list[str]:
    """Freeze every parameter of the backbone before its last `train_stages` stages (timm
    EfficientNet-family `blocks`); the stages kept and what follows them (head conv and its batch
    norm) stay trainable. Returns the names of the trainable top-level parts. 0 freezes nothing."""
    if train_stages <= 0:
        return [n for n, _ in backbone.named_children()]
    blocks = getattr(backbone, "blocks", None)
    if not isinstance(blocks, nn.Sequential) or train_stages > len(blocks):
        have = len(blocks) if isinstance(blocks, nn.Sequential) else 0
        raise InputError(f"cannot train the last {train_stages} stages: the backbone has {have}")
    names = [n for n, _ in backbone.named_children()]
    after = names[names.index("blocks") + 1:]
    first = len(blocks) - train_stages
    for p in backbone.parameters():
        p.requires_grad = False
    for k in range(first, len(blocks)):
        for p in blocks[k].parameters():
            p.requires_grad = True
    for n in after:
        for p in getattr(backbone, n).parameters():
            p.requires_grad = True
    return [f"blocks.{k}" for k in range(first, len(blocks))] + after


def frozen_norms(encoder: nn.Module, freeze_bn: bool) -> list[str]:
    """Names of the batch-norm modules that stay in eval mode while training: the backbone's, all of
    them with `freeze_bn`, else those of frozen stages (their statistics are part of what is frozen);
    and the head's standardisation, whose statistics `calibrate_head_norm` fixed."""
    names = [f"backbone.{n}" for n, m in encoder.backbone.named_modules()
             if is_batch_norm(m) and (freeze_bn or not any(p.requires_grad for p in m.parameters()))]
    return names + (["norm"] if is_batch_norm(encoder.norm) else [])


@torch.no_grad()
def calibrate_head_norm(encoder: nn.Module, batches) -> None:
    """Set the head's standardisation to the mean and variance of the pooled features of `batches`
    (preprocessed N x 3 x H x W tensors), computed with the backbone as it is used in training."""
    if not is_batch_norm(encoder.norm):
        return
    feats = torch.cat([encoder.backbone(x).float() for x in batches])
    encoder.norm.running_mean.copy_(feats.mean(0))
    encoder.norm.running_var.copy_(feats.var(0))


def set_train_mode(model: "MoCo", frozen: list[str]) -> None:
    """Both encoders in train mode except the named batch norms, in eval mode with their statistics."""
    model.train()
    for enc in (model.encoder_q, model.encoder_k):
        modules = dict(enc.named_modules())
        for n in frozen:
            modules[n].eval()


def split_forward(encoder: nn.Module, x: torch.Tensor, splits: int) -> torch.Tensor:
    """Batch norm sees each sub-batch on its own (split-BN)."""
    return torch.cat([encoder(chunk) for chunk in x.chunk(max(1, min(splits, len(x))))])


class MoCo(nn.Module):
    def __init__(self, encoder_q: ProjectedBackbone, queue_size: int, momentum: float, temperature: float,
                 splits: int, dedup_seconds: float, mask_group: bool = False):
        """`mask_group`: no negatives from the query's own group (the ids passed as `group` to
        forward); off: only from its shot and from its group within `dedup_seconds`."""
        super().__init__()
        self.encoder_q = encoder_q
        self.encoder_k = copy.deepcopy(encoder_q)
        for p in self.encoder_k.parameters():
            p.requires_grad = False
        self.m, self.T, self.splits, self.dedup = momentum, temperature, splits, dedup_seconds
        self.mask_group = mask_group
        dim = encoder_q.head[-1].out_features
        self.register_buffer("queue", F.normalize(torch.randn(dim, queue_size), dim=0))  # C x K
        self.register_buffer("queue_group", torch.full((queue_size,), -1, dtype=torch.long))  # K
        self.register_buffer("queue_t", torch.zeros(queue_size))  # K
        self.register_buffer("queue_shot", torch.full((queue_size,), -1, dtype=torch.long))  # K
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def _momentum_update(self) -> None:
        for pq, pk in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            pk.mul_(self.m).add_(pq.detach(), alpha=1 - self.m)

    @torch.no_grad()
    def _enqueue(self, k: torch.Tensor, group: torch.Tensor, t: torch.Tensor, shot: torch.Tensor) -> None:
        n, size = len(k), self.queue.shape[1]
        ptr = int(self.queue_ptr)
        idx = (torch.arange(n, device=k.device) + ptr) % size
        self.queue[:, idx] = k.T
        self.queue_group[idx] = group
        self.queue_t[idx] = t
        self.queue_shot[idx] = shot
        self.queue_ptr[0] = (ptr + n) % size

    def forward(self, im_q: torch.Tensor, im_k: torch.Tensor, group: torch.Tensor, t: torch.Tensor,
                shot: torch.Tensor | None = None):
        """`group`: an episode (or program) id per frame; `t`: its time in the episode; `shot`: a
        shot id per frame (-1: unknown); by default every frame is its own shot."""
        q = split_forward(self.encoder_q, im_q, self.splits)  # N x C
        with torch.no_grad():
            self._momentum_update()
            order = torch.randperm(len(im_k), device=im_k.device)
            k = split_forward(self.encoder_k, im_k[order], self.splits)[torch.argsort(order)]  # N x C
        l_pos = (q * k).sum(1, keepdim=True)  # N x 1
        l_neg = q @ self.queue.clone().detach()  # N x K
        near = self.queue_group[None, :] == group[:, None]  # N x K: not negatives
        if not self.mask_group:
            near &= (self.queue_t[None, :] - t[:, None]).abs() < self.dedup
        if shot is not None:
            near |= (self.queue_shot[None, :] == shot[:, None]) & (shot[:, None] >= 0)
        else:
            shot = torch.full_like(group, -1)
        l_neg = l_neg.masked_fill(near, float("-inf"))
        logits = torch.cat([l_pos, l_neg], dim=1) / self.T  # N x (1 + K)
        labels = torch.zeros(len(q), dtype=torch.long, device=q.device)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == 0).float().mean()
        self._enqueue(k, group, t, shot)
        return loss, acc
