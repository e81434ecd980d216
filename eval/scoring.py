"""Scoring one lookup run against ground truth: overall figures and breakdowns."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from assoc.schema import Clip, Result
from eval import metrics as M

KS = (1, 5, 10, 50)
# mention kinds reported together: what the text-path targets are stated over
MENTION_GROUPS = {"title or alias (title, alias, traditional, typo)": ("title", "alias", "traditional", "typo"),
                  "title with an episode marker": ("episode",), "person (character, cast)": ("character", "cast"),
                  "none": ("none",)}


def _retrieval(pairs: list[tuple[Clip, Result]]) -> dict:
    ranked = [[c.program_id for c in r.candidates] for _, r in pairs]
    truth = [c.program_id for c, _ in pairs]
    out: dict = {"n": len(pairs)}
    for k in KS:
        out[f"recall@{k}"] = M.recall_at_k(ranked, truth, k)
    out["mrr"] = M.mrr(ranked, truth)
    out["ndcg@10"] = M.ndcg_at_k(ranked, truth, 10)
    return out


def _localisation(pairs: list[tuple[Clip, Result]]) -> dict:
    correct = [(c, r) for c, r in pairs if r.candidates and r.candidates[0].program_id == c.program_id]
    top = lambda r: r.candidates[0] if r.candidates else None  # noqa: E731
    args = lambda ps: ([top(r).episode_id if top(r) else None for _, r in ps],  # noqa: E731
                       [top(r).start if top(r) else None for _, r in ps],
                       [c.episode_id for c, _ in ps], [c.start or 0.0 for c, _ in ps])
    return {"of_correct_top1": M.localisation_accuracy(*args(correct)), "n_correct_top1": len(correct),
            "of_all_in_catalog": M.localisation_accuracy(*args(pairs))}


def score_run(clips: Sequence[Clip], results: dict[str, Result]) -> dict:
    """Figures for one run. Clips without a result (decode failures) count as misses."""
    pairs = [(c, results.get(c.clip_id) or Result(clip_id=c.clip_id, error="no result")) for c in clips]
    inside = [(c, r) for c, r in pairs if c.program_id is not None]
    is_open = [c.program_id is None for c, _ in pairs]
    overall = _retrieval(inside)
    overall["localisation"] = _localisation(inside)
    overall["open_set"] = M.open_set_prf(is_open, [r.match is None for _, r in pairs])
    top_right = [bool(r.candidates) and c.program_id is not None and r.candidates[0].program_id == c.program_id
                 for c, r in pairs]
    overall["ece"] = M.expected_calibration_error([r.confidence for _, r in pairs], top_right)
    t, best = M.best_open_set_threshold(is_open, [r.confidence for _, r in pairs])
    overall["open_set_best_threshold"] = dict(best, threshold=t, note="tuned on these clips: optimistic")
    overall["n_open_set"] = sum(is_open)
    overall["failed"] = sum(r.error is not None for _, r in pairs)
    return {"overall": overall, "by_edit": _breakdown(inside, lambda c: c.edits or ["none"]),
            "by_mention": _breakdown(inside, lambda c: [c.mention or "unknown"]),
            "by_mention_group": _breakdown(inside, lambda c: [g for g, kinds in MENTION_GROUPS.items()
                                                              if c.mention in kinds]),
            "by_category": _breakdown(inside, lambda c: [c.category[0] if c.category else "unknown"])}


def _breakdown(pairs, keys_of) -> dict:
    groups: dict[str, list] = defaultdict(list)
    for c, r in pairs:
        for key in keys_of(c):
            groups[key].append((c, r))
    return {k: {m: v for m, v in _retrieval(g).items() if m in ("n", "recall@1", "recall@10", "mrr")}
            for k, g in sorted(groups.items(), key=lambda kv: -len(kv[1]))}
