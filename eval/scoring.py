"""Scoring one lookup run against ground truth: overall figures and breakdowns."""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from assoc.schema import Clip, Program, Result
from assoc.text.normalize import compact
from eval import metrics as M

KS = (1, 5, 10, 50)
# mention kinds reported together: what the text-path targets are stated over
TITLE_GROUP = "title or alias (title, alias, traditional, typo)"
MENTION_GROUPS = {TITLE_GROUP: ("title", "alias", "traditional", "typo"),
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


def name_owners(programs: Sequence[Program]) -> dict[str, set[str]]:
    """Each title and alias, compacted (assoc.text.normalize.compact), -> the catalog programs that have it."""
    owners: dict[str, set[str]] = defaultdict(set)
    for p in programs:
        for name in (p.title, *p.aliases):
            if compact(name):
                owners[compact(name)].add(p.program_id)
    return owners


def named_by(clip: Clip, owners: dict[str, set[str]], programs: dict[str, Program]) -> set[str] | None:
    """The catalog programs that have the title or alias of the clip's own program that its title names (the longest
    one found whole in the compacted title); None when it names none whole (a typo, a person, nothing)."""
    p = programs.get(clip.program_id) if clip.program_id else None
    if p is None:
        return None
    text = compact(clip.title or "")
    found = [n for n in {compact(x) for x in (p.title, *p.aliases)} if n and n in text]
    return owners[max(found, key=len)] if found else None


def _name_group(clip: Clip, owners, programs) -> tuple[str, set[str] | None] | None:
    """A title-or-alias clip's by_name group, with the programs that have the name it uses (None: not named whole)."""
    if clip.mention not in MENTION_GROUPS[TITLE_GROUP]:
        return None
    if clip.mention == "typo":  # a typo'd title may still hold a short alias whole: grouped by its mention
        return "title or alias: named with a typo", None
    shared = named_by(clip, owners, programs)
    if shared is None:
        return "title or alias: no name of its program found whole", None
    return ("title or alias: a name no other program has" if len(shared) == 1
            else "title or alias: a name other programs have too"), shared


def score_run(clips: Sequence[Clip], results: dict[str, Result],
              programs: dict[str, Program] | None = None) -> dict:
    """Figures for one run. Clips without a result (decode failures) count as misses. With the catalog's `programs`,
    the title-or-alias clips are also broken down by whether the name they use is one other programs have too
    (`by_name`, with `chance@1`: the recall@1 of picking one of the programs that have it at random, the most the
    text alone can expect)."""
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
    out = {"overall": overall, "by_edit": _breakdown(inside, lambda c: c.edits or ["none"]),
           "by_mention": _breakdown(inside, lambda c: [c.mention or "unknown"]),
           "by_mention_group": _breakdown(inside, lambda c: [g for g, kinds in MENTION_GROUPS.items()
                                                             if c.mention in kinds]),
           "by_category": _breakdown(inside, lambda c: [c.category[0] if c.category else "unknown"])}
    if programs is not None:
        owners = name_owners(list(programs.values()))
        named = {c.clip_id: _name_group(c, owners, programs) for c, _ in inside}
        out["by_name"] = _breakdown(inside, lambda c: [named[c.clip_id][0]] if named[c.clip_id] else [])
        chance: dict[str, list[float]] = defaultdict(list)  # per exactly named group: 1 / (programs with the name)
        for group, shared in filter(None, named.values()):
            if shared:
                chance[group].append(1.0 / len(shared))
        for key, group in out["by_name"].items():
            group["chance@1"] = round(sum(chance[key]) / len(chance[key]), 3) if chance[key] else None
    return out


def _breakdown(pairs, keys_of) -> dict:
    groups: dict[str, list] = defaultdict(list)
    for c, r in pairs:
        for key in keys_of(c):
            groups[key].append((c, r))
    return {k: {m: v for m, v in _retrieval(g).items() if m in ("n", "recall@1", "recall@10", "mrr")}
            for k, g in sorted(groups.items(), key=lambda kv: -len(kv[1]))}
