"""The category model: NeXtVLAD per modality -> concatenation -> context gating -> MoE over leaves.

One softmax over the taxonomy's leaves; a level-2 or level-1 probability is the sum of its
leaves', so a child's probability never exceeds its parent's. A missing modality (no audio, an
empty title) is replaced by a learned vector; training drops modalities at random so that works.
Saved as a self-describing directory: config.json (settings, taxonomy leaves, input sizes,
training report, checksum) + model.safetensors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from assoc.category.features import MAX_ROWS, MODALITIES, ClipFeatures
from assoc.category.layers import ContextGating, MixtureOfExperts, NeXtVLAD
from assoc.errors import InputError, ModelError
from assoc.schema import CategoryPrediction
from indexes.manifest import atomic_directory, sha256_file

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


@dataclass
class CategorySettings:
    modalities: tuple[str, ...] = MODALITIES
    pooling: str = "nextvlad"  # nextvlad | mean (the ablation baseline: mean-pool + a linear layer)
    hidden: int = 256  # per-modality pooled size
    clusters: int = 16
    groups: int = 8
    expansion: int = 2
    experts: int = 4
    dropout: float = 0.3
    modality_dropout: float = 0.3
    frame_colour: bool = True  # frames' colour statistics beside their vectors (models saved before it: False)

    def as_dict(self) -> dict:
        return asdict(self)


class MeanPool(nn.Module):
    """The baseline's pooling: the mean of the rows, then one linear layer (logistic regression)."""

    def __init__(self, feature_dim: int, out_dim: int, **_):
        super().__init__()
        self.fc = nn.Linear(feature_dim, out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        s = (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return self.fc(s)


class CategoryNet(nn.Module):
    def __init__(self, dims: dict[str, int], n_leaves: int, s: CategorySettings):
        super().__init__()
        self.modalities = list(s.modalities)
        self.mean_pool = s.pooling == "mean"
        self.input_norm = nn.ModuleDict({m: nn.LayerNorm(dims[m], elementwise_affine=False) for m in self.modalities})
        if self.mean_pool:
            self.pool = nn.ModuleDict({m: MeanPool(dims[m], n_leaves) for m in self.modalities})
            self.missing = nn.ParameterDict({m: nn.Parameter(torch.zeros(n_leaves)) for m in self.modalities})
            return
        self.pool = nn.ModuleDict({m: NeXtVLAD(dims[m], s.clusters, s.groups, s.expansion, s.hidden, s.dropout)
                                   for m in self.modalities})
        self.missing = nn.ParameterDict({m: nn.Parameter(torch.zeros(s.hidden)) for m in self.modalities})
        width = s.hidden * len(self.modalities)
        self.gating = ContextGating(width)
        self.moe = MixtureOfExperts(width, n_leaves, s.experts)

    def forward(self, inputs: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        """inputs: modality -> (N x M x F rows, N x M mask). Returns N x leaves logits."""
        pooled = []
        for m in self.modalities:
            x, mask = inputs[m]
            present = mask.sum(1, keepdim=True) > 0  # N x 1
            v = self.pool[m](self.input_norm[m](x), mask)
            pooled.append(torch.where(present, v, self.missing[m].expand_as(v)))
        if self.mean_pool:  # logistic regression over the concatenated means: a sum of per-modality logits
            return torch.stack(pooled).sum(0)
        return self.moe(self.gating(torch.cat(pooled, dim=1)))


@dataclass
class Hierarchy:
    """Leaf paths and, per leaf, the index of its level-1 and level-2 ancestors."""

    leaves: list[tuple[str, str, str]]
    level_names: list[list[tuple[str, ...]]] = field(init=False)
    parent: list[np.ndarray] = field(init=False)  # level 1 and level 2: leaf -> ancestor index

    def __post_init__(self) -> None:
        self.leaves = [tuple(p) for p in self.leaves]
        self.level_names, self.parent = [], []
        for depth in (1, 2):
            names = list(dict.fromkeys(p[:depth] for p in self.leaves))
            pos = {n: i for i, n in enumerate(names)}
            self.level_names.append(names)
            self.parent.append(np.array([pos[p[:depth]] for p in self.leaves], np.int64))
        self.level_names.append(list(self.leaves))
        self.leaf_pos = {p: i for i, p in enumerate(self.leaves)}

    def marginals(self, leaf_p: np.ndarray) -> list[np.ndarray]:
        """[level-1, level-2, leaf] probabilities (N x n_level each) from leaf probabilities."""
        out = []
        for depth in (0, 1):
            m = np.zeros((len(leaf_p), len(self.level_names[depth])), leaf_p.dtype)
            np.add.at(m.T, self.parent[depth], leaf_p.T)
            out.append(m)
        return out + [leaf_p]

    def torch_marginals(self, log_p: torch.Tensor) -> list[torch.Tensor]:
        """Log-probabilities per level from leaf log-probabilities (differentiable)."""
        out = []
        for depth in (0, 1):
            idx = torch.from_numpy(self.parent[depth]).to(log_p.device)
            n = len(self.level_names[depth])
            mx = log_p.max(1, keepdim=True).values
            summed = torch.zeros(len(log_p), n, device=log_p.device).index_add(1, idx, (log_p - mx).exp())
            out.append(summed.clamp(min=1e-30).log() + mx)
        return out + [log_p]

    def labels(self, path) -> tuple[int, int, int]:
        leaf = self.leaf_pos[tuple(path)]
        return int(self.parent[0][leaf]), int(self.parent[1][leaf]), leaf

    def path_prediction(self, levels: list[np.ndarray]) -> list[tuple[str, float]]:
        """Top-down: the best level-1 node, the best level-2 node under it, the best leaf under that."""
        l1 = int(np.argmax(levels[0]))
        under1 = np.flatnonzero(np.array([p[0] == self.level_names[0][l1][0] for p in self.level_names[1]]))
        l2 = int(under1[np.argmax(levels[1][under1])])
        under2 = np.flatnonzero(self.parent[1] == l2)
        l3 = int(under2[np.argmax(levels[2][under2])])
        path = self.leaves[l3]
        return [(path[0], float(levels[0][l1])), (path[1], float(levels[1][l2])), (path[2], float(levels[2][l3]))]


def modality_rows(f: ClipFeatures, modality: str, frame_colour: bool) -> np.ndarray:
    return f.frame_rows(frame_colour) if modality == "frames" else f.get(modality)


def batch_inputs(feats: list[ClipFeatures], modalities, dims: dict[str, int], drop: np.ndarray | None = None,
                 frame_colour: bool = False) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Pad each modality's rows into N x M x F with a mask; `drop` (N x modalities bool) hides some."""
    out = {}
    for j, m in enumerate(modalities):
        rows = [modality_rows(f, m, frame_colour)[: MAX_ROWS[m]] for f in feats]
        width = max([len(r) for r in rows] + [1])
        x = np.zeros((len(feats), width, dims[m]), np.float32)
        mask = np.zeros((len(feats), width), np.float32)
        for i, r in enumerate(rows):
            if len(r) and not (drop is not None and drop[i, j]):
                x[i, : len(r)] = r
                mask[i, : len(r)] = 1
        out[m] = (torch.from_numpy(x), torch.from_numpy(mask))
    return out


class CategoryModel:
    """A trained category model with its taxonomy: leaf probabilities, level marginals, priors."""

    def __init__(self, settings: CategorySettings, dims: dict[str, int], leaves: list,
                 net: CategoryNet | None = None, info: dict | None = None):
        self.settings, self.dims = settings, dims
        self.hierarchy = Hierarchy(leaves)
        self.net = net or CategoryNet(dims, len(self.hierarchy.leaves), settings)
        self.info = info or {}
        self.net.eval()

    @torch.no_grad()
    def leaf_probabilities(self, feats: list[ClipFeatures], batch_size: int = 64) -> np.ndarray:
        self.net.eval()
        out = []
        for i in range(0, len(feats), batch_size):
            chunk = feats[i : i + batch_size]
            inputs = batch_inputs(chunk, self.settings.modalities, self.dims, frame_colour=self.settings.frame_colour)
            out.append(torch.softmax(self.net(inputs), dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.hierarchy.leaves)), np.float32)

    def predict(self, feats: list[ClipFeatures]) -> list["CategoryOutput"]:
        leaf_p = self.leaf_probabilities(feats)
        levels = self.hierarchy.marginals(leaf_p)
        return [CategoryOutput(self.hierarchy, [lv[i] for lv in levels]) for i in range(len(feats))]

    def require_encoder(self, source: str | Path, checksum: str, hint: str) -> None:
        """Refuse to read frame vectors of another encoder than the one the model was trained on (or of any
        encoder, when the model does not say which)."""
        trained_on = self.info.get("encoder")
        if trained_on != checksum:
            raise InputError(f"{source}: the category model was trained on frames of encoder "
                             f"{trained_on or '(not recorded)'}, not of encoder {checksum}; {hint}")

    # saving and loading -------------------------------------------------------------------------
    def config(self) -> dict:
        return {"kind": "category", "format_version": 1, "settings": self.settings.as_dict(), "dims": self.dims,
                "leaves": [list(p) for p in self.hierarchy.leaves], "info": self.info}

    @property
    def checksum(self) -> str:
        h = hashlib.sha256(json.dumps({k: v for k, v in self.config().items() if k != "info"}, sort_keys=True,
                                      ensure_ascii=False).encode())
        for k, v in sorted(self.net.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().tobytes())
        return h.hexdigest()[:16]

    def save(self, directory: str | Path) -> str:
        """Write atomically (a temporary sibling renamed into place); return the checksum."""
        from safetensors.torch import save_file

        with atomic_directory(Path(directory)) as tmp:
            save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(tmp / WEIGHTS))
            config = dict(self.config(), checksum=self.checksum, files={WEIGHTS: sha256_file(tmp / WEIGHTS)})
            (tmp / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
        return config["checksum"]


def load_category_model(directory: str | Path) -> CategoryModel:
    """Load a saved category model; the config beside the weights says everything (no flags)."""
    from safetensors.torch import load_file

    directory = Path(directory)
    try:
        config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{directory}: not a category model directory ({CONFIG}: {e})") from e
    if config.get("kind") != "category":
        raise ModelError(f"{directory}: {CONFIG} is not a category model's (kind {config.get('kind')!r})")
    weights = directory / WEIGHTS
    if not weights.is_file() or sha256_file(weights) != config.get("files", {}).get(WEIGHTS):
        raise ModelError(f"{directory}: {WEIGHTS} is missing or does not match its checksum")
    s = config["settings"]
    settings = CategorySettings(**dict(dict(s, frame_colour=s.get("frame_colour", False)), modalities=tuple(s["modalities"])))
    model = CategoryModel(settings, config["dims"], config["leaves"], info=config.get("info"))
    try:
        model.net.load_state_dict(load_file(str(weights)))
    except RuntimeError as e:
        raise ModelError(f"{directory}: weights do not fit the configured model: {e}") from e
    model.net.eval()
    return model


@dataclass
class CategoryOutput:
    """One clip's category distribution: per-level probabilities, a path, and priors for programs."""

    hierarchy: Hierarchy
    levels: list[np.ndarray]  # level-1, level-2, leaf probabilities

    def prediction(self) -> CategoryPrediction:
        return CategoryPrediction(levels=[(n, round(p, 4)) for n, p in self.hierarchy.path_prediction(self.levels)])

    def prior(self, path) -> tuple[float, float, float]:
        """The probability of a program's category at each level (0 for a path not in the taxonomy)."""
        if tuple(path) not in self.hierarchy.leaf_pos:
            return (0.0, 0.0, 0.0)
        l1, l2, l3 = self.hierarchy.labels(path)
        return (float(self.levels[0][l1]), float(self.levels[1][l2]), float(self.levels[2][l3]))

    def with_matches(self, matches: list[tuple[tuple, float]]) -> "CategoryOutput":
        """The clip's category given its candidate programs: each candidate's calibrated probability of being the
        clip's program moves that much mass onto its category; the rest stays with the model's distribution.

        P(leaf) = sum_i p_i [leaf_i = leaf] + (1 - sum_i p_i) P_model(leaf), with the p_i scaled down to sum to at
        most 1 (each is calibrated on its own). A confident match names the category; a clip that matches
        nothing keeps the model's prediction (cold start)."""
        leaf = self.levels[2].astype(np.float64).copy()
        known = [(self.hierarchy.leaf_pos[tuple(path)], p) for path, p in matches if tuple(path) in self.hierarchy.leaf_pos]
        total = sum(p for _, p in known)
        scale = 1.0 / total if total > 1.0 else 1.0
        leaf *= 1.0 - total * scale
        for i, p in known:
            leaf[i] += p * scale
        return CategoryOutput(self.hierarchy, [m[0] for m in self.hierarchy.marginals(leaf[None, :].astype(np.float32))])

    def with_best_match(self, path, shares: tuple[float, float, float]) -> "CategoryOutput":
        """The clip's category given its best candidate's category `path`, level by level: `shares` are q1 = P(the
        clip's level 1 is the path's), q2 = P(its level 2 is too | level 1 is), q3 = P(its leaf is too | level 2 is).

        P(level 1) = q1 [c1] + (1 - q1) P_model(level 1); under c1, P(level 2 | c1) = q2 [c2] + (1 - q2)
        P_model(level 2 | c1); under c2, P(leaf | c2) = q3 [c3] + (1 - q3) P_model(leaf | c2); elsewhere the model's
        own conditionals. That is a mixture of the model's leaf distribution (weight 1 - q1), the model given c1
        (q1 (1 - q2)), the model given c2 (q1 q2 (1 - q3)) and the path's leaf (q1 q2 q3), so a child never exceeds
        its parent. A conditional the model gives no mass to is uniform over the subtree's leaves. A path not in
        the taxonomy changes nothing."""
        path = tuple(path)
        if path not in self.hierarchy.leaf_pos:
            return self
        q1, q2, q3 = (float(np.clip(q, 0.0, 1.0)) for q in shares)
        c1, c2, c3 = self.hierarchy.labels(path)
        model = self.levels[2].astype(np.float64)
        leaf = (1.0 - q1) * model + q1 * q2 * q3 * (np.arange(len(model)) == c3)
        for weight, under in ((q1 * (1.0 - q2), self.hierarchy.parent[0] == c1),
                              (q1 * q2 * (1.0 - q3), self.hierarchy.parent[1] == c2)):
            mass = model[under].sum()
            leaf[under] += weight * (model[under] / mass if mass > 1e-12 else 1.0 / under.sum())
        return CategoryOutput(self.hierarchy, [m[0] for m in self.hierarchy.marginals(leaf[None, :].astype(np.float32))])
