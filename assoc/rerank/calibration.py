"""The open-set decision and calibration figures, shared by training (on val) and `assoc eval` (on test)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def open_set_prf(is_open: Sequence[bool], said_no_match: Sequence[bool]) -> dict:
    """Precision, recall and F1 of the "no match" decision (positive = the clip is not in the catalog)."""
    o = np.asarray(is_open, bool)
    n = np.asarray(said_no_match, bool)
    tp = int((o & n).sum())
    fp = int((~o & n).sum())
    fn = int((o & ~n).sum())
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE over equal-width confidence bins: sum over bins of (share of clips) x |accuracy - mean confidence|."""
    conf = np.asarray(confidence, float)
    ok = np.asarray(correct, float)
    if len(conf) == 0:
        return float("nan")
    which = np.minimum((conf * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(ok[sel].mean() - conf[sel].mean())
    return float(ece)


def choose_threshold(conf: np.ndarray, is_open: np.ndarray, target: float) -> tuple[float, dict]:
    """The largest threshold whose no-match decision (conf < t) has precision >= target (best F1 if none does)."""
    candidates = np.unique(np.concatenate([np.asarray(conf, float), [0.0, 1.0 + 1e-9]]))
    best_t, best, best_f1 = None, None, (-1.0, 0.0, None)
    for t in candidates:
        prf = open_set_prf(is_open, conf < t)
        if prf["tp"] and prf["precision"] >= target:
            best_t, best = float(t), prf
        if prf["f1"] > best_f1[0]:
            best_f1 = (prf["f1"], float(t), prf)
    if best_t is None:
        return best_f1[1], dict(best_f1[2], reached_target=False)
    return best_t, dict(best, reached_target=True)
