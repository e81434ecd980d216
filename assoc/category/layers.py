"""NeXtVLAD pooling, context gating and a Mixture-of-Experts classifier (PyTorch).

NeXtVLAD (Lin et al., 2018): each frame feature (F) is expanded by `expansion` (lambda) and
split into `groups` (G) lower-dimensional vectors; each group vector is soft-assigned to
`clusters` (K) centres and weighted by a per-group attention; residuals are aggregated per
cluster over groups and frames, intra-normalised, and reduced to `out_dim`. Output size before
the reduction is K * lambda * F / G.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NeXtVLAD(nn.Module):
    def __init__(self, feature_dim: int, clusters: int = 16, groups: int = 8, expansion: int = 2,
                 out_dim: int = 256, dropout: float = 0.2):
        super().__init__()
        if (expansion * feature_dim) % groups:
            raise ValueError(f"expansion x feature_dim ({expansion * feature_dim}) must divide into {groups} groups")
        self.K, self.G = clusters, groups
        self.group_dim = expansion * feature_dim // groups
        self.expand = nn.Linear(feature_dim, expansion * feature_dim)
        self.attention = nn.Linear(expansion * feature_dim, groups)
        self.assign = nn.Linear(expansion * feature_dim, groups * clusters, bias=False)
        self.assign_bn = nn.BatchNorm1d(groups * clusters)
        self.centres = nn.Parameter(torch.randn(1, self.group_dim, clusters) * 0.01)
        self.vlad_bn = nn.BatchNorm1d(clusters * self.group_dim)
        self.dropout = nn.Dropout(dropout)
        self.reduce = nn.Linear(clusters * self.group_dim, out_dim)
        self.reduce_bn = nn.BatchNorm1d(out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: N x M x F frames, mask: N x M (1 where a frame is real). Returns N x out_dim."""
        n, m, _ = x.shape
        x = self.expand(x)  # N x M x lambda F
        att = torch.sigmoid(self.attention(x)) * mask[..., None]  # N x M x G
        a = self.assign(x).reshape(n * m, -1)
        a = self.assign_bn(a).reshape(n, m * self.G, self.K)
        a = F.softmax(a, dim=-1) * att.reshape(n, m * self.G, 1)  # N x MG x K
        xg = x.reshape(n, m * self.G, self.group_dim)  # N x MG x F~
        vlad = torch.einsum("nik,nif->nfk", a, xg) - a.sum(1, keepdim=True) * self.centres  # N x F~ x K
        vlad = F.normalize(vlad, dim=1).reshape(n, -1)  # intra-normalisation
        vlad = self.vlad_bn(vlad)
        return self.reduce_bn(self.reduce(self.dropout(vlad)))


class ContextGating(nn.Module):
    """y = sigmoid(BN(x W)) * x."""

    def __init__(self, dim: int):
        super().__init__()
        self.fc = nn.Linear(dim, dim, bias=False)
        self.bn = nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.bn(self.fc(x))) * x


class MixtureOfExperts(nn.Module):
    """Per class, `experts` linear experts and a softmax gate over them; returns class logits.

    (YouTube-8M's MoE mixes per-class sigmoids for multi-label data; a category path is one label,
    so the experts here mix logits and the caller applies one softmax over the leaves.)
    """

    def __init__(self, dim: int, classes: int, experts: int = 4):
        super().__init__()
        self.classes, self.experts = classes, experts
        self.gate = nn.Linear(dim, classes * experts)
        self.expert = nn.Linear(dim, classes * experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gates = F.softmax(self.gate(x).reshape(-1, self.classes, self.experts), dim=-1)
        logits = self.expert(x).reshape(-1, self.classes, self.experts)
        return (gates * logits).sum(-1)
