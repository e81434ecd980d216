"""Scoring saved re-rankers on labelled clips from the clips' signals, without lookups.

The signals a re-ranker reads (every signal's candidates, the verification of the best ones, the category prior)
are nearly all of a lookup's time; the re-ranker's own scoring takes milliseconds. With the clips' signals kept in a
signals cache (assoc.rerank.signals_cache: computed once, with the re-rankers' signal settings, resumable), any
number of re-rankers fitted on the val split (other seeds, kinds, bags, features read) are compared on the test
split in seconds each, every clip scored as a lookup through an index holding that re-ranker scores it: the same
candidate pool, features, calibration and threshold (`assoc eval --reranker`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from assoc.errors import InputError
from assoc.rerank.calibration import expected_calibration_error
from assoc.rerank.model import Reranker, load_reranker
from assoc.rerank.signals_cache import cache_key, open_signals_cache
from assoc.rerank.train import clip_signals, index_identity, open_for_training

RECALLS = (0.80, 0.85, 0.90, 0.95)


def _compatible(model: Reranker, signals: Reranker) -> str | None:
    """Why `model` cannot be scored from signals computed for `signals`'s settings (None: it can)."""
    s, t = model.settings, signals.settings
    if s.depth != t.depth:
        return f"candidate depth {s.depth}, not {t.depth}"
    if not set(s.aux_visual) <= set(t.aux_visual):
        return f"auxiliary visual lists {list(s.aux_visual)}, not among {list(t.aux_visual)}"
    if s.verify and (not t.verify or s.verify_settings != t.verify_settings):
        return "other verification settings"
    return None


def no_match_precision_at(confidence: np.ndarray, is_open: np.ndarray, recall: float) -> float | None:
    """The no-match precision where the no-match recall first reaches `recall`: the clips at or below the lowest
    confidence that takes in that share of the open-set clips (ties included), and the share of them that are
    open-set."""
    if not is_open.any():
        return None
    open_conf = np.sort(confidence[is_open])
    cut = open_conf[min(len(open_conf) - 1, int(np.ceil(recall * len(open_conf))) - 1)]
    flagged = confidence <= cut
    return float(is_open[flagged].mean())


def figures(ranked: list[list[tuple[str, float]]], truth: list[str | None], threshold: float) -> dict:
    """Ranking, calibration and open-set figures of one re-ranker's scoring of the clips."""
    is_open = np.array([t is None for t in truth])
    top = [r[0][0] if r else None for r in ranked]
    confidence = np.array([r[0][1] if r else 0.0 for r in ranked], float)
    correct = np.array([t is not None and p == t for p, t in zip(top, truth)])
    inside = ~is_open
    in_top10 = np.array([t is not None and t in [pid for pid, _ in r[:10]] for r, t in zip(ranked, truth)])
    flagged = confidence < threshold  # what a lookup says "no match" to
    out = {"clips": len(truth), "open_set_clips": int(is_open.sum()),
           "recall@1": float(correct[inside].mean()) if inside.any() else None,
           "recall@10": float(in_top10[inside].mean()) if inside.any() else None,
           "ece": expected_calibration_error(confidence, correct),
           "no_match_precision_at_recall": {f"{r:.2f}": no_match_precision_at(confidence, is_open, r)
                                            for r in RECALLS},
           "at_threshold": {"threshold": threshold,
                            "no_match_precision": float(is_open[flagged].mean()) if flagged.any() else None,
                            "no_match_recall": float(flagged[is_open].mean()) if is_open.any() else None,
                            "answered_in_catalog": float((correct & ~flagged)[inside].mean()) if inside.any()
                            else None}}
    return out


def score_rerankers(models: dict[str, str | Path], index_path: str | Path, queries_path: str | Path,
                    signals_cache: str | Path, es: dict | None = None,
                    progress: Callable[[int, int], None] | None = None, catalog_root: str | None = None,
                    workers: int = 1) -> dict:
    """Score each saved re-ranker (name -> directory) on the labelled clips of `queries_path`.

    The clips' signals are computed with the first re-ranker's signal settings over `index_path` (the index the
    re-rankers were trained on) and kept in `signals_cache`, or read back from it; the others must read signals of
    the same kind (same candidate depth, auxiliary lists among the first's, no other verification)."""
    if not models:
        raise InputError("no re-ranker to score")
    loaded = {name: load_reranker(directory) for name, directory in models.items()}
    first_name, first = next(iter(loaded.items()))
    for name, model in loaded.items():
        why = _compatible(model, first)
        if why:
            raise InputError(f"re-ranker {name} ({models[name]}) reads other signals than {first_name}: {why}")
    assoc = open_for_training(index_path, first.settings, es, catalog_root)
    identity = index_identity(assoc.index.manifest)
    for name, model in loaded.items():
        trained_on = model.info.get("index")
        if trained_on is not None and trained_on != identity:
            raise InputError(f"re-ranker {name} ({models[name]}) was trained on another index's encoder or category "
                             f"model than {index_path}'s ({trained_on} against {identity})")
    s = first.settings
    key = cache_key(assoc.index.manifest, s.depth, assoc.aux_visual, s.verify_settings if s.verify else False)
    cache = open_signals_cache(signals_cache, key)
    examples, _, failures, counts = clip_signals(assoc, queries_path, cache, progress, workers,
                                                  (index_path, s, es, catalog_root))
    if not examples:
        raise InputError(f"{queries_path}: no clip could be scored")
    truth = [program_id for _, program_id in examples]
    report = {"index": str(index_path), "queries": str(queries_path), "failures": failures,
              "signals_cache": {"directory": str(cache.directory), **counts}, "models": {}}
    for name, model in loaded.items():
        ranked = [model.score(signals, assoc.index.programs) for signals, _ in examples]
        report["models"][name] = {"directory": str(models[name]), "checksum": model.checksum,
                                  **figures(ranked, truth, model.threshold),
                                  # each clip's best candidate and its confidence (a lookup's match and confidence)
                                  "top": [{"clip_id": signals.clip_id, "program_id": r[0][0] if r else None,
                                           "confidence": r[0][1] if r else 0.0}
                                          for (signals, _), r in zip(examples, ranked)]}
    return report
