"""The clip's top-level category from the category model and the programs its signals found, fitted on val.

The category model alone gets a clip's level 1 right about 0.86 of the time on the bench (0.77 on open-set clips: a
program the catalog lacks). The lookup folds the best candidate's category in (Reranker.fold_category), which names
the category of a clip that matches; a clip that matches nothing keeps the model's. Yet even when no candidate is the
clip's program, the programs its signals rank first are often of its kind: a variety show's clip finds variety shows
by its look and its title's words. The refiner reads that: a multinomial logistic regression over

    log P_model(level 1) (one column a level-1 class)  +  per candidate list (the main encoder's, each auxiliary
    visual list the re-ranker reads, the text's when it reads text), the share of each level-1 class among the
    list's first LIST_DEPTH programs, weighted 1 / (1 + rank)

fitted on the val clips (the re-ranker's training clips; open-set clips included: they have categories too). Its
level-1 distribution replaces the model's, each level-1 class's leaves scaled together, so the model's split within
a class stays and a child never exceeds its parent; the matches are folded in after it, as before.

It is kept only when it beats the model's level 1 out of fold on val (FOLDS folds); a re-ranker without it (too few
clips, or no gain, or saved before it) folds the model's category as before.
"""

from __future__ import annotations

import numpy as np

from assoc.errors import ModelError
from assoc.rerank.features import ClipSignals
from assoc.schema import Program

LIST_DEPTH = 10  # a list's first programs that vote
MIN_CLIPS = 20  # fewer labelled clips than this: no refiner
FOLDS = 5
C = 1.0  # the logistic regression's inverse regularisation (sklearn's default)


def candidate_lists(signals: ClipSignals, aux_visual: tuple[str, ...], use_text: bool) -> dict[str, list[str]]:
    """The program ids of each candidate list the refiner reads, best first (an empty list where a signal did not run)."""
    lists = {"visual": [c.program_id for c in signals.visual or []]}
    for name in aux_visual:
        lists[name] = [c.program_id for c in signals.aux_visual.get(name) or []]
    if use_text:
        lists["text"] = [c.program_id for c in signals.text or []]
    return lists


def level1_features(model_level1: np.ndarray, lists: dict[str, list[str]], programs: dict[str, Program],
                    level1: dict[str, int]) -> np.ndarray:
    """One clip's row: the model's level-1 log-probabilities, then each list's rank-weighted level-1 shares, in the
    lists' order (candidate_lists gives the same lists in the same order for the same settings)."""
    cols = [np.log(np.clip(np.asarray(model_level1, np.float64), 1e-6, 1.0))]
    for listed in lists.values():
        share = np.zeros(len(level1))
        for rank, pid in enumerate(listed[:LIST_DEPTH]):
            program = programs.get(pid)
            if program is not None and program.category and program.category[0] in level1:
                share[level1[program.category[0]]] += 1.0 / (1 + rank)
        cols.append(share / share.sum() if share.sum() > 0 else share)
    return np.concatenate(cols)


class Level1Refiner:
    """The fitted regression, the lists it reads and the level-1 classes it was fitted over."""

    def __init__(self, classifier, level1_names: list[str], use_text: bool, aux_visual: tuple[str, ...]):
        self.classifier, self.level1_names = classifier, list(level1_names)
        self.use_text, self.aux_visual = use_text, tuple(aux_visual)

    def level1(self, category, signals: ClipSignals, programs: dict[str, Program]) -> np.ndarray:
        """The clip's level-1 distribution, over the taxonomy's level-1 classes in order."""
        names = [n[0] for n in category.hierarchy.level_names[0]]
        if names != self.level1_names:
            raise ModelError(f"the category refiner was fitted over level-1 classes {self.level1_names}, "
                             f"the category model has {names}")
        model = np.asarray(category.levels[0], np.float64)
        x = level1_features(model, candidate_lists(signals, self.aux_visual, self.use_text), programs,
                            {n: i for i, n in enumerate(names)})
        fitted = self.classifier.predict_proba(x[None, :])[0]
        # classes val never showed keep the model's probability; the fitted ones share the rest
        seen = np.asarray(self.classifier.classes_, np.int64)
        unseen = np.setdiff1d(np.arange(len(names)), seen)
        out = model.copy()
        out[seen] = fitted * max(0.0, 1.0 - model[unseen].sum())
        return out / out.sum() if out.sum() > 0 else model

    def refine(self, category, signals: ClipSignals, programs: dict[str, Program]):
        """`category` (a CategoryOutput) with its level 1 replaced by the refiner's, each class's leaves scaled together."""
        from assoc.category.model import CategoryOutput

        hierarchy = category.hierarchy
        p1 = self.level1(category, signals, programs)
        leaf = np.asarray(category.levels[2], np.float64)
        parent = hierarchy.parent[0]
        mass = hierarchy.marginals(leaf[None, :])[0][0]  # the model's level 1, from its leaves
        counts = np.bincount(parent, minlength=len(p1))
        # within a class the model's split stays; a class the model gave nothing is split evenly
        within = np.where(mass[parent] > 1e-12, leaf / np.maximum(mass[parent], 1e-300), 1.0 / counts[parent])
        refined = (p1[parent] * within).astype(np.float32)
        return CategoryOutput(hierarchy, [m[0] for m in hierarchy.marginals(refined[None, :])])


def fit_level1_refiner(examples: list[tuple[ClipSignals, str | None]], categories: list, programs: dict[str, Program],
                       aux_visual: tuple[str, ...], use_text: bool, seed: int = 0):
    """Fit on the labelled clips (signals with the category model's output, and each clip's category path); return
    (refiner or None, summary or None). None when fewer than MIN_CLIPS clips have both, when they show one level-1
    class only, or when out of fold it does not beat the model's level 1 (the summary says which)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    rows = [(sig, cat) for (sig, _), cat in zip(examples, categories) if cat and sig.category is not None]
    if len(rows) < MIN_CLIPS:
        return None, None
    names = [n[0] for n in rows[0][0].category.hierarchy.level_names[0]]
    level1 = {n: i for i, n in enumerate(names)}
    rows = [(sig, cat) for sig, cat in rows if cat[0] in level1]
    X = np.array([level1_features(np.asarray(s.category.levels[0]), candidate_lists(s, aux_visual, use_text),
                                  programs, level1) for s, _ in rows])
    y = np.array([level1[cat[0]] for _, cat in rows])
    if len(rows) < MIN_CLIPS or len(np.unique(y)) < 2:
        return None, None
    model_hit = float((X[:, :len(names)].argmax(1) == y).mean())
    summary = {"clips": len(rows), "lists": list(candidate_lists(rows[0][0], aux_visual, use_text)),
               "level1_hit_model": model_hit}
    classifier = LogisticRegression(C=C, max_iter=5000)
    smallest = int(np.bincount(y)[np.unique(y)].min())
    cv = (StratifiedKFold(FOLDS, shuffle=True, random_state=seed) if smallest >= FOLDS  # else a fold lacks a class
          else KFold(FOLDS, shuffle=True, random_state=seed))
    oof = cross_val_predict(classifier, X, y, cv=cv)
    summary["level1_hit_refined_out_of_fold"] = float((oof == y).mean())
    if summary["level1_hit_refined_out_of_fold"] <= model_hit:
        summary["kept"] = False
        return None, summary
    summary["kept"] = True
    return Level1Refiner(classifier.fit(X, y), names, use_text, aux_visual), summary


__all__ = ["Level1Refiner", "candidate_lists", "fit_level1_refiner", "level1_features"]
