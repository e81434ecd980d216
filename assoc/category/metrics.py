"""Category metrics: hit@1 per level, GAP@20 (YouTube-8M), hierarchical precision/recall/F."""

from __future__ import annotations

import numpy as np

HIER_THRESHOLD = 0.5  # a predicted path stops at the first level below this probability (level 1 always kept)


def gap_at_k(scores: np.ndarray, truth: np.ndarray, k: int = 20) -> float:
    """Global average precision (YouTube-8M): each example's top-k (label, score) pairs are pooled
    and sorted by score; AP over that list, with every true label of every example in the denominator.

    scores: N x C, truth: N x C (0/1).
    """
    n, c = scores.shape
    k = min(k, c)
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    s = np.take_along_axis(scores, top, 1).ravel()
    hit = np.take_along_axis(truth, top, 1).ravel().astype(np.float64)
    positives = truth.sum()
    if positives == 0:
        return 0.0
    order = np.argsort(-s, kind="stable")
    hit = hit[order]
    precision = np.cumsum(hit) / np.arange(1, len(hit) + 1)
    return float((precision * hit).sum() / positives)


def hierarchical_prf(pred_paths: list[list[str]], true_paths: list[tuple[str, ...]]) -> tuple[float, float, float]:
    """Kiritchenko et al.: sets of ancestors-and-self; micro-averaged precision, recall and F."""
    inter = n_pred = n_true = 0
    for p, t in zip(pred_paths, true_paths):
        ps = {tuple(p[: i + 1]) for i in range(len(p))}
        ts = {tuple(t[: i + 1]) for i in range(len(t))}
        inter += len(ps & ts)
        n_pred += len(ps)
        n_true += len(ts)
    hp = inter / n_pred if n_pred else 0.0
    hr = inter / n_true if n_true else 0.0
    return hp, hr, (2 * hp * hr / (hp + hr) if hp + hr else 0.0)


def category_metrics(outputs: list, true_paths: list[tuple[str, ...]]) -> dict:
    """outputs: CategoryOutput per example (per-level probabilities over one hierarchy)."""
    if not outputs:
        return {"n": 0, "hit@1": [0.0, 0.0, 0.0], "gap@20": 0.0, "gap@20_all_levels": 0.0, "hP": 0.0, "hR": 0.0,
                "hF": 0.0}
    h = outputs[0].hierarchy
    hits = np.zeros(3)
    pred_paths = []
    for out, truth in zip(outputs, true_paths):
        path = h.path_prediction(out.levels)
        hits += [tuple(n for n, _ in path[: i + 1]) == tuple(truth[: i + 1]) for i in range(3)]
        kept = [path[0][0]] + [n for i, (n, p) in enumerate(path[1:], 1) if all(q >= HIER_THRESHOLD for _, q in path[1: i + 1])]
        pred_paths.append(kept)
    n = len(outputs)
    leaf_scores = np.stack([o.levels[2] for o in outputs])
    leaf_truth = np.zeros_like(leaf_scores)
    all_scores = np.stack([np.concatenate(o.levels) for o in outputs])
    all_truth = np.zeros_like(all_scores)
    offsets = np.cumsum([0] + [len(x) for x in outputs[0].levels])
    for i, t in enumerate(true_paths):
        if tuple(t) in h.leaf_pos:
            labels = h.labels(t)
            leaf_truth[i, labels[2]] = 1
            for level, j in enumerate(labels):
                all_truth[i, offsets[level] + j] = 1
    hp, hr, hf = hierarchical_prf(pred_paths, true_paths)
    return {"n": n, "hit@1": [float(x) for x in hits / n], "gap@20": gap_at_k(leaf_scores, leaf_truth, 20),
            "gap@20_all_levels": gap_at_k(all_scores, all_truth, 20), "hP": hp, "hR": hr, "hF": hf}
