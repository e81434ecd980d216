"""The open-set decision and calibration figures, shared by training (on val) and `assoc eval` (on test)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


class CenteredIsotonic:
    """Centred isotonic regression (Oron & Flournoy, 2017): isotonic regression with each of its plateaus
    replaced by straight lines through the plateaus' centres (the mean score of the points in each).

    As well calibrated as isotonic regression, but strictly increasing between the first and the last
    plateau's centres: two clips the classifier told apart keep their order, so the open-set threshold can
    fall between two clips that isotonic regression would have given one value (a plateau can hold a
    tenth of the clips). Below the first centre and above the last, it is flat."""

    def fit(self, scores, labels) -> "CenteredIsotonic":
        from sklearn.isotonic import IsotonicRegression

        x = np.asarray(scores, float)
        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, labels).predict(x)
        self.levels_ = np.unique(fitted)  # isotonic: each level is one contiguous run of scores
        self.centres_ = np.array([x[fitted == level].mean() for level in self.levels_])
        return self

    def predict(self, scores) -> np.ndarray:
        return np.interp(np.asarray(scores, float), self.centres_, self.levels_)


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


def wilson_lower(successes: int, trials: int, z: float = 1.645) -> float:
    """One-sided lower confidence bound of a proportion (Wilson score; z = 1.645: 95 %)."""
    if trials == 0:
        return 0.0
    p = successes / trials
    centre = p + z * z / (2 * trials)
    spread = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return float((centre - spread) / (1 + z * z / trials))


def choose_threshold(conf: np.ndarray, is_open: np.ndarray, target: float) -> tuple[float, dict]:
    """The largest threshold whose no-match decision (conf < t) reaches precision `target` with 95 %
    confidence (the Wilson lower bound of tp / (tp + fp)), or the best no-match F1 if none does.

    The bound keeps a handful of lucky decisions (3 of 3 correct at 2 % recall) from passing as
    "precision 1.0": such a threshold would call almost every unknown clip a match."""
    candidates = np.unique(np.concatenate([np.asarray(conf, float), [0.0, 1.0 + 1e-9]]))
    best_t, best, best_f1 = None, None, (-1.0, 0.0, None)
    for t in candidates:
        prf = open_set_prf(is_open, conf < t)
        lower = wilson_lower(prf["tp"], prf["tp"] + prf["fp"])
        if prf["tp"] and lower >= target:
            best_t, best = float(t), dict(prf, precision_lower_bound=lower)
        if prf["f1"] > best_f1[0]:
            best_f1 = (prf["f1"], float(t), dict(prf, precision_lower_bound=lower))
    if best_t is None:
        return best_f1[1], dict(best_f1[2], reached_target=False)
    return best_t, dict(best, reached_target=True)
