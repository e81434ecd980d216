"""The category refiner: the clip's level 1 from the category model and the programs its candidate lists name."""

from __future__ import annotations

import numpy as np
import pytest

from assoc.category.model import CategoryOutput, Hierarchy
from assoc.errors import ModelError
from assoc.rerank.calibration import CenteredIsotonic
from assoc.rerank.category_refine import LIST_DEPTH, candidate_lists, fit_level1_refiner, level1_features
from assoc.rerank.features import ClipSignals
from assoc.rerank.model import Reranker, RerankSettings, load_reranker
from assoc.schema import Episode, Program
from assoc.text.signal import TextCandidate
from assoc.visual import VisualCandidate

LEAVES = [("电视剧", "古装", "宫廷"), ("电视剧", "古装", "武侠"), ("电视剧", "都市", "职场"),
          ("综艺", "真人秀", "旅行"), ("综艺", "音乐", "选秀"), ("动漫", "热血", "格斗")]
H = Hierarchy(LEAVES)
LEVEL1 = ["电视剧", "综艺", "动漫"]


def _program(pid: str, leaf: int) -> Program:
    return Program(program_id=pid, title=pid, category=list(LEAVES[leaf]),
                   episodes=[Episode(episode_id=f"{pid}e1", number=1, video="v.mp4")])


# five programs of each leaf
PROGRAMS = {f"p{leaf}{n}": _program(f"p{leaf}{n}", leaf) for leaf in range(len(LEAVES)) for n in range(5)}


def _category(leaf_p) -> CategoryOutput:
    return CategoryOutput(H, [m[0] for m in H.marginals(np.asarray([leaf_p], np.float32))])


def _visual(pid: str) -> VisualCandidate:
    return VisualCandidate(pid, 0.5, votes=4, frames=8, similarity=0.8, episode_id=f"{pid}e1", start=0.0, end=4.0)


def _clip(rng, leaf: int, informative: bool) -> ClipSignals:
    """A clip of `leaf`'s level 1 (an open-set clip: none of its candidates is its program). The model's level 1 is
    right one time in three, at random; the candidate lists name mostly programs of the clip's level 1 when
    `informative`, programs drawn at random else."""
    noisy = rng.dirichlet(np.ones(len(LEAVES)))
    if rng.random() < 1 / 3:
        noisy[leaf] += 1.0
    own = [p for p, prog in PROGRAMS.items() if prog.category[0] == LEAVES[leaf][0]]
    others = sorted(PROGRAMS)

    def listing():
        return [rng.choice(own) if informative and rng.random() < 0.8 else rng.choice(others) for _ in range(8)]

    return ClipSignals(clip_id=f"c{rng.integers(1 << 30)}", visual=[_visual(p) for p in listing()],
                       text=[TextCandidate(p, 0.5) for p in listing()], category=_category(noisy / noisy.sum()),
                       aux_visual={"luma_thumbnail": [_visual(p) for p in listing()]})


def _clips(n: int, informative: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    leaves = rng.integers(0, len(LEAVES), n)
    return [(_clip(rng, int(leaf), informative), None) for leaf in leaves], [LEAVES[int(leaf)] for leaf in leaves]


def test_level1_features_are_the_model_log_probabilities_then_each_lists_rank_weighted_shares():
    level1 = {n: i for i, n in enumerate(LEVEL1)}
    lists = {"visual": ["p30", "p00", "p31", "gone"], "text": []}
    x = level1_features(np.array([0.5, 0.25, 0.25]), lists, PROGRAMS, level1)
    assert x[:3] == pytest.approx(np.log([0.5, 0.25, 0.25]))
    votes = np.array([1 / 2, 1 + 1 / 3, 0.0])  # p00 at rank 1 (电视剧); p30, p31 at ranks 0 and 2 (综艺)
    assert x[3:6] == pytest.approx(votes / votes.sum())
    assert x[6:] == pytest.approx(np.zeros(3))  # an empty list votes for nothing
    deep = level1_features(np.ones(3) / 3, {"visual": ["p00"] * LIST_DEPTH + ["p50"] * 5}, PROGRAMS, level1)
    assert deep[3:] == pytest.approx([1.0, 0.0, 0.0])  # only the first LIST_DEPTH vote


def test_the_refiner_learns_the_level1_the_candidate_lists_name_and_keeps_the_taxonomy_consistent():
    examples, categories = _clips(240, informative=True)
    refiner, summary = fit_level1_refiner(examples, categories, PROGRAMS, ("luma_thumbnail",), True)
    assert summary["kept"] and refiner is not None
    assert summary["lists"] == ["visual", "luma_thumbnail", "text"]
    assert summary["level1_hit_refined_out_of_fold"] > summary["level1_hit_model"] + 0.2
    test, truth = _clips(120, informative=True, seed=1)
    model_hits = refined_hits = 0
    for (signals, _), path in zip(test, truth):
        out = refiner.refine(signals.category, signals, PROGRAMS)
        c1 = LEVEL1.index(path[0])
        model_hits += int(np.argmax(signals.category.levels[0]) == c1)
        refined_hits += int(np.argmax(out.levels[0]) == c1)
        leaf = np.asarray(out.levels[2])
        assert leaf.sum() == pytest.approx(1.0, abs=1e-5)
        assert (np.asarray(out.levels[1])[H.parent[1]] + 1e-6 >= leaf).all()  # a child never exceeds its parent
        assert (np.asarray(out.levels[0])[H.parent[0]] + 1e-6 >= leaf).all()
        # within a level-1 class the model's split of its leaves stays
        before = np.asarray(signals.category.levels[2])
        assert leaf[0] / leaf[1] == pytest.approx(before[0] / before[1], rel=1e-3)
    assert refined_hits > model_hits + 0.2 * len(test)


def test_a_refiner_that_does_not_beat_the_model_out_of_fold_is_not_kept():
    examples, categories = _clips(240, informative=False)
    for (signals, _), path in zip(examples, categories):  # the model is always right; the lists say nothing
        signals.category = _category(np.eye(len(LEAVES))[LEAVES.index(path)] * 0.9 + 0.1 / len(LEAVES))
    refiner, summary = fit_level1_refiner(examples, categories, PROGRAMS, ("luma_thumbnail",), True)
    assert refiner is None and summary["kept"] is False and summary["level1_hit_model"] == 1.0
    # too few labelled clips, or clips without a category: no refiner and nothing to say
    assert fit_level1_refiner(examples[:10], categories[:10], PROGRAMS, (), True) == (None, None)
    assert fit_level1_refiner(examples, [None] * len(examples), PROGRAMS, (), True) == (None, None)


def test_the_lists_read_follow_the_model_settings():
    examples, _ = _clips(1, informative=True)
    signals = examples[0][0]
    assert list(candidate_lists(signals, (), False)) == ["visual"]
    lists = candidate_lists(signals, ("luma_thumbnail", "relative_histogram"), True)
    assert list(lists) == ["visual", "luma_thumbnail", "relative_histogram", "text"]
    assert lists["relative_histogram"] == [] and lists["text"] == [c.program_id for c in signals.text]


def test_the_reranker_folds_the_refined_category_saves_the_refiner_and_refuses_another_taxonomy(tmp_path):
    from sklearn.linear_model import LogisticRegression

    examples, categories = _clips(240, informative=True)
    refiner, _ = fit_level1_refiner(examples, categories, PROGRAMS, ("luma_thumbnail",), True)
    model = Reranker(RerankSettings(), None, CenteredIsotonic().fit([0, 1], [0, 1]), 0.5, {},
                     category_calibrator=CenteredIsotonic().fit([0.1, 0.9], [0, 1]), category_refiner=refiner)
    model.classifier = LogisticRegression().fit(np.eye(2, len(model.features)), [0, 1])
    signals = examples[0][0]
    ranked = [("p00", 0.05)]
    folded = model.fold_category(signals.category, ranked, PROGRAMS, signals=signals)
    refined = refiner.refine(signals.category, signals, PROGRAMS)
    assert folded.levels[2] == pytest.approx(refined.with_matches(model.category_matches(ranked, PROGRAMS)).levels[2])
    # without the clip's signals (or without a refiner) the model's category is folded as before
    plain = model.fold_category(signals.category, ranked, PROGRAMS)
    assert plain.levels[2] == pytest.approx(
        signals.category.with_matches(model.category_matches(ranked, PROGRAMS)).levels[2])
    model.save(tmp_path / "refined")
    back = load_reranker(tmp_path / "refined")
    assert back.checksum == model.checksum
    assert back.fold_category(signals.category, ranked, PROGRAMS, signals=signals).levels[2] == pytest.approx(
        folded.levels[2])
    older = Reranker(RerankSettings(), model.classifier, model.calibrator, 0.5, {})
    assert "category_refiner" in model._saved() and "category_refiner" not in older._saved()
    other = Hierarchy([("电影", "动作", "警匪"), *LEAVES[1:]])
    category = CategoryOutput(other, [m[0] for m in other.marginals(np.full((1, len(LEAVES)), 1 / len(LEAVES),
                                                                              np.float32))])
    with pytest.raises(ModelError, match="level-1 classes"):
        refiner.refine(category, signals, PROGRAMS)
