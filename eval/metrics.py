"""Retrieval, open-set and localisation metrics: pure functions over ranked lists and arrays.

One relevant program per in-catalog clip. `ranked[i]` is clip i's ranked program ids.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from assoc.rerank.calibration import expected_calibration_error, open_set_prf  # noqa: F401 (re-exported)


def rank_of(ranked: Sequence[str], truth: str) -> int | None:
    """1-based rank of `truth` in `ranked`, or None when absent."""
    for i, p in enumerate(ranked, 1):
        if p == truth:
            return i
    return None


def recall_at_k(ranked: Sequence[Sequence[str]], truth: Sequence[str], k: int) -> float:
    if not truth:
        return float("nan")
    return float(np.mean([(r := rank_of(rk, t)) is not None and r <= k for rk, t in zip(ranked, truth)]))


def mrr(ranked: Sequence[Sequence[str]], truth: Sequence[str]) -> float:
    if not truth:
        return float("nan")
    return float(np.mean([1.0 / r if (r := rank_of(rk, t)) else 0.0 for rk, t in zip(ranked, truth)]))


def ndcg_at_k(ranked: Sequence[Sequence[str]], truth: Sequence[str], k: int = 10) -> float:
    """With one relevant item the ideal DCG is 1, so nDCG = 1 / log2(rank + 1) within k."""
    if not truth:
        return float("nan")
    return float(np.mean([1.0 / math.log2(r + 1) if (r := rank_of(rk, t)) and r <= k else 0.0
                          for rk, t in zip(ranked, truth)]))


def best_open_set_threshold(is_open: Sequence[bool], confidence: Sequence[float]) -> tuple[float, dict]:
    """The threshold with the best no-match F1 (tuned on the data it is measured on: optimistic)."""
    conf = np.asarray(confidence, float)
    best_t, best = 0.0, open_set_prf(is_open, conf < 0.0)
    for t in np.unique(conf):
        prf = open_set_prf(is_open, conf < t)
        if prf["f1"] > best["f1"]:
            best_t, best = float(t), prf
    return best_t, best


def localisation_accuracy(pred_episode: Sequence[str | None], pred_start: Sequence[float | None],
                          true_episode: Sequence[str], true_start: Sequence[float], tolerance: float = 3.0) -> float:
    """Fraction with the right episode and a start within `tolerance` seconds."""
    if not true_episode:
        return float("nan")
    ok = [pe == te and ps is not None and abs(ps - ts) <= tolerance
          for pe, ps, te, ts in zip(pred_episode, pred_start, true_episode, true_start)]
    return float(np.mean(ok))
