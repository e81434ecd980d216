"""Candidate features, the learned re-ranker, calibration and the open-set threshold."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace

import numpy as np
import pytest

from assoc.catalog import load_queries
from assoc.errors import InputError, ModelError
from assoc.index_reader import open_index
from assoc.index_update import set_reranker
from assoc.lookup import Associator, LookupSettings
from assoc.rerank.calibration import (
    CenteredIsotonic,
    choose_threshold,
    expected_calibration_error,
    open_set_prf,
)
from assoc.rerank.features import (
    FEATURES,
    SEASON,
    TEXT_DERIVED,
    VERIFY,
    VERIFY_DETAIL,
    VERIFY_FRAMES,
    ClipSignals,
    all_features,
    candidate_pool,
    feature_rows,
    program_season,
    without_text,
)
from assoc.rerank.model import (
    MIN_CATEGORY_CLIPS,
    Reranker,
    RerankSettings,
    _top_confidence,
    feature_columns,
    fit_category_calibrator,
    fit_level_calibrators,
    load_reranker,
    training_set,
)
from assoc.rerank.train import AUTO, train_reranker
from assoc.schema import Episode, Program
from assoc.text.query import parse_title
from assoc.text.signal import TextCandidate
from assoc.verify import DETAIL_WIDTH, LEGACY, SCAN_PROGRAMS, Verification, VerifySettings
from assoc.visual import VisualCandidate
from eval.runner import evaluate

LOOKUP = LookupSettings(short_side=72)


def _program(pid: str, episodes: int) -> Program:
    return Program(program_id=pid, title=pid, category=["电视剧", "古装", "宫廷"],
                   episodes=[Episode(episode_id=f"{pid}e{n}", number=n, video="v.mp4") for n in range(1, episodes + 1)])


def _visual(pid: str, score: float) -> VisualCandidate:
    return VisualCandidate(pid, score, votes=8, frames=10, similarity=0.8, episode_id=f"{pid}e1", start=1.0, end=5.0,
                           raw_score=score + 0.1, consistency=0.9, coverage=0.8, max_similarity=0.95)


def test_feature_rows_mark_missing_evidence_and_episode_markers():
    programs = {"a": _program("a", 3), "b": _program("b", 1)}
    signals = ClipSignals("c", visual=[_visual("a", 0.6), _visual("b", 0.3)],
                          text=[TextCandidate("b", 0.9, bm25=12.0, bm25_rank=1, fuzzy=95.0, fuzzy_field="alias",
                                              semantic=0.4)],
                          parsed=parse_title("【某剧】第2集 名场面"))
    assert candidate_pool(signals, 1) == ["a", "b"] and candidate_pool(signals, 5) == ["a", "b"]
    rows = feature_rows(signals, ["a", "b"], programs)
    f = {name: rows[:, j] for j, name in enumerate(all_features())}
    assert rows.shape == (2, len(FEATURES) + len(SEASON)) and all_features()[: len(FEATURES)] == FEATURES
    assert f["vis_rank"].tolist() == [1, 2] and f["vis_score_ratio"][1] == pytest.approx(0.5)
    assert f["vis_margin"][0] == pytest.approx(0.3) and f["vis_margin"][1] == pytest.approx(-0.3)
    assert f["txt_present"].tolist() == [0, 1] and math.isnan(f["bm25"][0]) and f["bm25_ratio"][1] == 1.0
    assert f["fuzzy_alias"][1] == 1 and f["fuzzy_title"][1] == 0
    assert f["episode_marker"].tolist() == [1, 0]  # episode 2 exists in a (3 episodes), not in b (1)
    assert all(math.isnan(x) for x in f["cat_prior_1"])  # no category model ran
    assert f["rrf"][1] > f["rrf"][0]  # b is in both lists
    assert all(math.isnan(x) for x in f["season_marker"])  # the title names no season
    signals.aux_visual["hist"] = [_visual("c", 0.5), _visual("a", 0.25)]
    assert candidate_pool(signals, 5) == ["a", "b"] and candidate_pool(signals, 5, ("hist",)) == ["a", "b", "c"]
    rows = feature_rows(signals, ["a", "b", "c"], programs, ("hist",))
    g = {name: rows[:, j] for j, name in enumerate(all_features(("hist",)))}
    assert g["hist_present"].tolist() == [1, 0, 1] and g["hist_rank"][0] == 2 and g["hist_score_ratio"][0] == 0.5
    assert g["vis_present"].tolist() == [1, 1, 0]
    # verification: NaN throughout when it did not run; present 0 for a candidate it did not choose
    names = all_features(("hist",), verify=True)
    assert names[-len(VERIFY):] == VERIFY
    rows = feature_rows(signals, ["a", "b", "c"], programs, ("hist",), verify=True)
    assert np.isnan(rows[:, -len(VERIFY):]).all()
    signals.verified = True
    signals.verification = {"a": Verification("ae1", 0.9, 0.95, 0.96, 8, 1.0, False, 0.1),
                            "c": Verification("ce1", 0.5, 0.55, 0.8, 8, 0.32, True, -0.4)}
    rows = feature_rows(signals, ["a", "b", "c"], programs, ("hist",), verify=True)
    h = {name: rows[:, j] for j, name in enumerate(names)}
    assert h["ver_present"].tolist() == [1, 0, 1] and math.isnan(h["ver_fit_trimmed"][1])
    assert h["ver_fit_trimmed"][0] == pytest.approx(0.95) and h["ver_scale"][2] == pytest.approx(0.32)
    assert h["ver_margin"][0] == pytest.approx(0.4) and h["ver_margin"][2] == pytest.approx(-0.4)
    # the frames each verification compared: only with `frames`, after the verification columns
    signals.verification["c"] = replace(signals.verification["c"], frames=2)
    names = all_features(("hist",), verify=True, frames=True)
    assert names[-len(VERIFY_FRAMES) - len(VERIFY):-len(VERIFY_FRAMES)] == VERIFY and names[-len(VERIFY_FRAMES):] == VERIFY_FRAMES
    rows = feature_rows(signals, ["a", "b", "c"], programs, ("hist",), verify=True, frames=True)
    d = {name: rows[:, j] for j, name in enumerate(names)}
    assert d["ver_frames"][0] == 8 and math.isnan(d["ver_frames"][1]) and d["ver_frames"][2] == 2
    assert np.array_equal(rows[:, :-1], feature_rows(signals, ["a", "b", "c"], programs, ("hist",), verify=True), equal_nan=True)
    # the fit checked on the pictures' detail: only with `detail`, last; NaN where it was not checked
    signals.verification["a"] = replace(signals.verification["a"], detail=0.7)
    names = all_features(("hist",), verify=True, frames=True, detail=True)
    assert names[-len(VERIFY_DETAIL):] == VERIFY_DETAIL and names[:-len(VERIFY_DETAIL)] == all_features(("hist",), True, True)
    rows = feature_rows(signals, ["a", "b", "c"], programs, ("hist",), verify=True, frames=True, detail=True)
    assert rows[0, -1] == pytest.approx(0.7) and np.isnan(rows[1:, -1]).all()
    no_frames = all_features(("hist",), verify=True, detail=True)
    assert no_frames[-2:] == VERIFY[-1:] + VERIFY_DETAIL
    signals.verified_for_text = ["c"]  # verified only because the text ranked it first: the visual-only model never sees it
    assert set(without_text(signals).verification) == {"a"} and set(signals.verification) == {"a", "c"}
    # nor a category the title moved: the model's output without the text, or none at all when not computed
    signals.category, signals.category_without_text = "with the title", "without"
    assert without_text(signals).category == "without" and signals.category == "with the title"
    signals.category_without_text = None
    assert without_text(signals).category is None


def test_calibration_figures_by_hand():
    # two bins: [0.0-0.1) holds conf 0.05 (wrong); [0.9-1.0] holds 0.95 (right) and 0.95 (wrong)
    assert expected_calibration_error([0.05, 0.95, 0.95], [False, True, False]) == pytest.approx(
        (1 / 3) * 0.05 + (2 / 3) * abs(0.5 - 0.95))
    prf = open_set_prf([True, True, False, False], [True, False, True, False])
    assert (prf["precision"], prf["recall"], prf["tp"], prf["fp"], prf["fn"]) == (0.5, 0.5, 1, 1, 1)
    # 80 unknown clips at 0.1, then 5 unknown and 5 known at 0.5, then 20 known at 0.9
    conf = np.array([0.1] * 80 + [0.5] * 10 + [0.9] * 20)
    is_open = np.array([True] * 85 + [False] * 25)
    t, chosen = choose_threshold(conf, is_open, 0.95)  # conf < 0.5: 80 of 80, lower bound 80 / 82.7 = 0.967
    assert t == pytest.approx(0.5) and chosen["precision"] == 1.0 and chosen["reached_target"]
    assert chosen["precision_lower_bound"] == pytest.approx(80 / (80 + 1.645**2))
    t, chosen = choose_threshold(conf, is_open, 0.99)  # unreachable: the best-F1 threshold, flagged
    assert not chosen["reached_target"] and chosen["f1"] > 0
    # three lucky decisions are not "precision 1.0": the bound of 3 of 3 is 0.53
    conf = np.array([0.05] * 3 + [0.2] * 30 + [0.3] * 30)
    is_open = np.array([True] * 3 + [False] * 30 + [True] * 30)
    t, chosen = choose_threshold(conf, is_open, 0.95)
    assert not chosen["reached_target"] and chosen["recall"] == 1.0  # the best F1: everything below 0.3+


def test_centred_isotonic_keeps_the_order_isotonic_regression_ties():
    from sklearn.isotonic import IsotonicRegression

    x = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 0, 1, 1, 1])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
    assert iso.predict([0.4, 0.6]).tolist() == [0.5, 0.5]  # one plateau: a threshold cannot separate them
    cir = CenteredIsotonic().fit(x, y)  # plateaus 0 (centre 0.2), 0.5 (centre 0.5), 1 (centre 0.8)
    assert cir.levels_.tolist() == [0.0, 0.5, 1.0] and cir.centres_ == pytest.approx([0.2, 0.5, 0.8])
    assert cir.predict([0.4, 0.5, 0.6]) == pytest.approx([1 / 3, 0.5, 2 / 3])
    assert cir.predict([0.0, 0.15, 0.85, 1.0]).tolist() == [0.0, 0.0, 1.0, 1.0]  # flat beyond the end centres
    grid = np.linspace(0.2, 0.8, 61)
    assert (np.diff(cir.predict(grid)) > 0).all()  # strictly increasing between them
    # as calibrated as isotonic on its own data: the mean prediction per plateau is the plateau's rate
    assert cir.predict(x[:3]).mean() == pytest.approx(y[:3].mean(), abs=0.12)


def test_top_confidence_picks_each_clips_best_candidate():
    p = np.array([0.2, 0.7, 0.5, 0.1])
    group = np.array([0, 0, 2, 2])
    y = np.array([1, 0, 1, 0])
    conf, correct = _top_confidence(p, group, y, 3)
    assert conf.tolist() == [0.7, 0.0, 0.5] and correct.tolist() == [False, False, True]


def test_category_calibrator_learns_that_an_unsure_best_candidate_can_still_share_the_category():
    # 60 clips, one row each: the best candidate's calibrated probability of being the clip's program, and whether
    # its program has the clip's category. Low-probability best candidates (another season: no match) mostly share it.
    rng = np.random.default_rng(0)
    conf = np.concatenate([rng.uniform(0.0, 0.3, 30), rng.uniform(0.7, 1.0, 30)])
    same = np.concatenate([(rng.random(30) < 0.7), np.ones(30, bool)]).astype(np.int64)
    group = np.arange(60)
    cal, summary = fit_category_calibrator(conf, group, same)
    assert summary == {"clips": 60, "best_candidate_same_category": pytest.approx(same.mean())}
    low, high = cal.predict([0.15, 0.9])
    assert 0.45 < low < 0.9 and high == pytest.approx(1.0)  # far above the 0.15 the match calibration gives
    assert (np.diff(cal.predict(np.linspace(0, 1, 21))) >= 0).all()
    # only each clip's best candidate counts: a second, worse row of every clip (never the category) changes nothing
    both, _ = fit_category_calibrator(np.concatenate([conf, conf / 2]), np.concatenate([group, group]),
                                   np.concatenate([same, np.zeros(60, np.int64)]))
    assert both.predict([0.15, 0.9]) == pytest.approx(cal.predict([0.15, 0.9]))
    # clips without a category (-1) are left out; too few labelled clips, one outcome only, or no labels: none
    assert fit_category_calibrator(conf, group, np.where(group < 60 - MIN_CATEGORY_CLIPS + 1, -1, same)) == (None, None)
    assert fit_category_calibrator(conf, group, np.ones(60, np.int64)) == (None, None)
    assert fit_category_calibrator(conf, group, None) == (None, None)


def test_category_matches_fold_the_best_candidate_in_with_the_category_calibration(tmp_path):
    programs = {"a": _program("a", 1), "b": _program("b", 1).model_copy(update={"category": ["综艺", "真人秀", "户外"]})}
    ranked = [("a", 0.2), ("b", 0.1), ("gone", 0.05)]
    cal = CenteredIsotonic().fit([0.1, 0.2, 0.3, 0.9, 0.95], [0, 1, 1, 1, 1])
    model = Reranker(RerankSettings(), None, CenteredIsotonic().fit([0, 1], [0, 1]), 0.5, {}, category_calibrator=cal)
    (path, q), = model.category_matches(ranked, programs)
    assert path == ("电视剧", "古装", "宫廷") and q == pytest.approx(float(cal.predict([0.2])[0])) and q > 0.2
    assert model.category_matches([], programs) == []
    plain = Reranker(RerankSettings(), None, model.calibrator, 0.5, {})  # saved before it: every candidate, as before
    assert plain.category_matches(ranked, programs) == [(("电视剧", "古装", "宫廷"), 0.2), (("综艺", "真人秀", "户外"), 0.1)]
    # saved with the model and back; a model without one saves the same objects as before (older checksums hold)
    from sklearn.linear_model import LogisticRegression
    model.classifier = LogisticRegression().fit(np.eye(2, len(model.features)), [0, 1])
    model.save(tmp_path / "with")
    back = load_reranker(tmp_path / "with")
    assert back.checksum == model.checksum and back.category_calibrator.predict([0.2]) == pytest.approx(q)
    assert set(plain._saved()) == {"classifier", "calibrator"} and "category_calibrator" in model._saved()


def test_level_calibrators_learn_each_level_given_the_one_above():
    # 200 clips, one row each: the best candidate's probability and how many levels of the clip's category its
    # program shares. Unsure candidates share level 1 with most clips (a film's clip finds a film) and the leaf with few.
    rng = np.random.default_rng(1)
    conf = np.concatenate([rng.uniform(0.0, 0.3, 100), rng.uniform(0.7, 1.0, 100)])
    low = rng.choice([0, 1, 2, 3], 100, p=[0.1, 0.5, 0.2, 0.2])
    shared = np.concatenate([low, np.full(100, 3)])
    cals, summary = fit_level_calibrators(conf, np.arange(200), shared)
    assert summary == {"clips": 200, "best_candidate_same_level1": pytest.approx((shared >= 1).mean()),
                       "best_candidate_same_level2": pytest.approx((shared >= 2).mean()),
                       "best_candidate_same_level3": pytest.approx((shared >= 3).mean())}
    q1, q2, q3 = (float(c.predict([0.15])[0]) for c in cals)
    assert q1 == pytest.approx((low >= 1).mean(), abs=0.12)  # about 0.9
    assert q2 == pytest.approx((low >= 2).sum() / (low >= 1).sum(), abs=0.12)  # given level 1: about 0.44
    assert q3 == pytest.approx((low >= 3).sum() / (low >= 2).sum(), abs=0.15)  # given level 2: about 0.5
    assert q1 > 0.75 and q1 * q2 * q3 < 0.35  # level 1 is trusted where the leaf is not
    assert all(float(c.predict([0.9])[0]) == pytest.approx(1.0) for c in cals)
    # only each clip's best candidate counts; unlabelled clips (-1) are left out; too few clips or one outcome
    # at some level: none
    both, _ = fit_level_calibrators(np.concatenate([conf, conf / 2]), np.concatenate([np.arange(200)] * 2),
                                    np.concatenate([shared, np.zeros(200, np.int64)]))
    assert [c.predict([0.15])[0] for c in both] == pytest.approx([q1, q2, q3])
    assert fit_level_calibrators(conf, np.arange(200), np.where(np.arange(200) < 200 - MIN_CATEGORY_CLIPS + 1, -1,
                                                                 shared)) == (None, None)
    assert fit_level_calibrators(conf, np.arange(200), np.maximum(shared, 2)) == (None, None)  # level 1 always shared
    assert fit_level_calibrators(conf, np.arange(200), None) == (None, None)


def test_the_category_folds_by_the_leaf_or_level_by_level_when_the_model_has_level_calibrators(tmp_path):
    from assoc.category.model import CategoryOutput, Hierarchy

    leaves = [("电视剧", "古装", "宫廷"), ("电视剧", "古装", "武侠"), ("电视剧", "都市", "爱情"), ("综艺", "真人秀", "户外")]
    h = Hierarchy(leaves)
    category = CategoryOutput(h, [m[0] for m in h.marginals(np.array([[0.1, 0.1, 0.1, 0.7]], np.float32))])
    programs = {"a": _program("a", 1), "b": _program("b", 1).model_copy(update={"category": ["综艺", "真人秀", "户外"]})}
    ranked = [("gone", 0.3), ("a", 0.2), ("b", 0.1)]
    leaf_cal = CenteredIsotonic().fit([0.1, 0.2, 0.3, 0.9], [0, 0, 1, 1])
    cals = [CenteredIsotonic().fit([0.0, 0.1, 0.5, 1.0], [0, 1, 1, 1]), CenteredIsotonic().fit([0, 1], [0, 1]),
            CenteredIsotonic().fit([0, 1], [0, 1])]
    model = Reranker(RerankSettings(), None, CenteredIsotonic().fit([0, 1], [0, 1]), 0.5, {},
                     category_calibrator=leaf_cal, level_calibrators=cals)
    shares = [float(c.predict([0.2])[0]) for c in cals]
    out = model.fold_category(category, ranked, programs, by_level=True)  # the best candidate in the catalog: a
    assert out.levels[2] == pytest.approx(category.with_best_match(leaves[0], shares).levels[2])
    assert out.prediction().levels[0][0] == "电视剧"  # level 1 taken from the candidate; the leaf fold keeps 综艺
    leaf = model.fold_category(category, ranked, programs)  # the lookup's: the leaf fold
    assert leaf.levels[2] == pytest.approx(category.with_matches(model.category_matches(ranked, programs)).levels[2])
    assert leaf.prediction().levels[0][0] == "综艺"
    assert model.fold_category(category, [], programs, by_level=True).levels[2] == pytest.approx(category.levels[2])
    # a model without level calibrators (saved before them) folds as before
    older = Reranker(RerankSettings(), None, model.calibrator, 0.5, {}, category_calibrator=leaf_cal)
    assert older.fold_category(category, ranked, programs, by_level=True).levels[2] == pytest.approx(leaf.levels[2])
    # saved with the model and back; one without them saves the same objects as before
    from sklearn.linear_model import LogisticRegression
    model.classifier = LogisticRegression().fit(np.eye(2, len(model.features)), [0, 1])
    model.save(tmp_path / "levels")
    back = load_reranker(tmp_path / "levels")
    assert back.checksum == model.checksum
    assert back.fold_category(category, ranked, programs, by_level=True).levels[2] == pytest.approx(out.levels[2])
    assert "category_level_calibrators" in model._saved() and "category_level_calibrators" not in older._saved()


def test_training_set_marks_which_candidates_share_the_clips_category():
    programs = {"a": _program("a", 1), "b": _program("b", 1).model_copy(update={"category": ["综艺", "真人秀", "户外"]})}
    sig = ClipSignals("c", visual=[_visual("a", 0.6), _visual("b", 0.3)], text=[])
    data = training_set([(sig, None), (sig, "a"), (sig, "b")], programs, depth=5,
                        categories=[("电视剧", "古装", "宫廷"), None, ("综艺", "真人秀", "户外")])
    by_clip = {g: dict(zip(data.pids[g], data.same_category[data.group == g].tolist())) for g in range(3)}
    assert by_clip == {0: {"a": 1, "b": 0}, 1: {"a": -1, "b": -1}, 2: {"a": 0, "b": 1}}
    levels = {g: dict(zip(data.pids[g], data.shared_levels[data.group == g].tolist())) for g in range(3)}
    assert levels == {0: {"a": 3, "b": 0}, 1: {"a": -1, "b": -1}, 2: {"a": 0, "b": 3}}
    near = training_set([(sig, None)], programs, depth=5, categories=[("电视剧", "古装", "武侠")])
    assert dict(zip(near.pids[0], near.shared_levels.tolist())) == {"a": 2, "b": 0}
    assert near.same_category.tolist() == [0, 0]
    assert training_set([(sig, "a")], programs, depth=5).same_category is None
    assert training_set([(sig, "a")], programs, depth=5).shared_levels is None


@pytest.fixture(scope="module")
def trained(tiny_index, tiny_universe, tmp_path_factory):
    """A re-ranker fitted on the tiny universe's test clips (a behaviour test, not a measurement)."""
    out = tmp_path_factory.mktemp("reranker") / "model"
    report = train_reranker(tiny_index, tiny_universe / "clips" / "test.jsonl", out,
                            RerankSettings(folds=3, depth=10, aux_visual=AUTO, verify=True, verify_frames=True,
                                           verify_detail=True, season_marker=True),
                            verify_channels=("luma", "value"))  # value opt-in: exercised here
    return out, report


def test_saved_reranker_loads_without_flags_and_refuses_damage(trained, tmp_path):
    out, report = trained
    model = load_reranker(out)
    config = json.loads((out / "config.json").read_text())
    assert config["checksum"] == model.checksum and 0 <= model.threshold <= 1.0 + 1e-6
    # the tiny index has no category model, and three hand-made visual baselines the re-ranker reads too (auto)
    hand_made = ("color_histogram", "luma_thumbnail", "relative_histogram")
    assert model.settings.aux_visual == hand_made
    assert model.features == [f for f in all_features(hand_made, verify=True, frames=True, detail=True)
                              if not f.startswith("cat_")] and model.features[-2:] == VERIFY_FRAMES + VERIFY_DETAIL
    assert "season_marker" in model.features and config["settings"]["season_marker"] is True
    assert "season_marker" not in load_reranker(out / "ablations" / "no_season_marker").features
    assert config["settings"]["verify"] is True and config["settings"]["verify_frames"] is True
    assert config["settings"]["verify_detail"] is True
    # its calibration keeps the classifier's order: confidences are not tied in plateaus
    assert isinstance(model.calibrator, CenteredIsotonic)
    # the verification settings it was trained with are saved with it, and a lookup through it verifies that way
    # (with the detail check's width: it reads the check)
    as_trained = VerifySettings(detail_width=DETAIL_WIDTH, scan=SCAN_PROGRAMS, channels=("luma", "value"))
    assert VerifySettings(**config["settings"]["verify_settings"]) == as_trained
    assert VerifySettings.from_config(model.settings.verify_settings) == as_trained
    # one saved before they were recorded (no verify_settings in its config) verifies as verification then did
    legacy = load_reranker(out)
    legacy.settings, legacy._checksum = replace(legacy.settings, verify_settings=None), None
    legacy.save(tmp_path / "legacy")
    assert "verify_settings" not in json.loads((tmp_path / "legacy" / "config.json").read_text())["settings"]
    assert VerifySettings.from_config(load_reranker(tmp_path / "legacy").settings.verify_settings) == LEGACY
    without = load_reranker(out / "ablations" / "no_verify")  # listed only when on: older re-rankers keep checksums
    assert not without.settings.verify and not set(without.features) & set(VERIFY)
    assert not {"verify", "verify_settings", "verify_frames", "verify_detail"} & set(
        json.loads((out / "ablations" / "no_verify" / "config.json").read_text())["settings"])
    no_frames = load_reranker(out / "ablations" / "no_verify_frames")  # every verification feature but the frames
    assert no_frames.features == [f for f in model.features if f not in VERIFY_FRAMES]
    assert "verify_frames" not in json.loads((out / "ablations" / "no_verify_frames" / "config.json").read_text())["settings"]
    no_detail = load_reranker(out / "ablations" / "no_verify_detail")  # reads what stop 17's re-rankers read
    assert no_detail.features == [f for f in model.features if f not in VERIFY_DETAIL]
    assert "verify_detail" not in json.loads((out / "ablations" / "no_verify_detail" / "config.json").read_text())["settings"]
    assert VerifySettings.from_config(no_detail.settings.verify_settings) == VerifySettings(scan=SCAN_PROGRAMS, channels=("luma", "value"))  # no decode for it
    assert load_reranker(out / "ablations" / "no_aux_visual").settings.aux_visual == ()
    assert "use_text" not in config["settings"]  # listed only when off: older re-rankers keep their checksums
    visual_only = load_reranker(out / "ablations" / "no_text")
    assert not visual_only.settings.use_text and not set(visual_only.features) & set(TEXT_DERIVED)
    assert report["models"]["model"]["clips"] == 10 and report["models"]["model"]["out_of_fold"]["ece"] >= 0
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "model.joblib").write_bytes(b"junk")
    with pytest.raises(ModelError, match="model.joblib"):
        load_reranker(broken)
    with pytest.raises(InputError, match="unknown re-ranker kind"):
        RerankSettings(kind="forest")


def test_index_with_reranker_scores_lookups_with_calibrated_probabilities(trained, tiny_index, tiny_universe,
                                                                          tmp_path):
    out, _ = trained
    index_dir = tmp_path / "idx"
    shutil.copytree(tiny_index, index_dir)
    section = set_reranker(index_dir, out)
    assert open_index(index_dir).manifest["reranker"]["checksum"] == section["checksum"]
    assoc = Associator.open(index_dir, LOOKUP)
    assert assoc.reranker is not None and assoc.threshold == assoc.reranker.threshold
    assert assoc.verifier.settings == VerifySettings.from_config(assoc.reranker.settings.verify_settings) == VerifySettings(
        detail_width=DETAIL_WIDTH, scan=SCAN_PROGRAMS, channels=("luma", "value"))
    clips, _ = load_queries(tiny_universe / "clips" / "test.jsonl")
    results, failures = assoc.lookup_clips(tiny_universe / "clips" / "test.jsonl", clips)
    assert not failures
    for r in results:
        scores = [c.score for c in r.candidates]
        assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
        assert (r.match is None) == (r.confidence < assoc.threshold)
        assert "rerank" in r.timings_ms and {"visual_color_histogram", "visual_luma_thumbnail",
                                         "visual_relative_histogram", "verify"} <= set(r.timings_ms)
        for c in r.candidates:  # the histogram's evidence is shown, and localises what only it found
            if c.evidence.aux_visual:
                assert set(c.evidence.aux_visual) <= {"color_histogram", "luma_thumbnail", "relative_histogram"} and c.episode_id is not None
            else:
                assert "aux_visual" not in c.evidence.model_dump()
    assert any(c.evidence.aux_visual for r in results for c in r.candidates)
    verified = [c for r in results for c in r.candidates if c.evidence.verification is not None]
    assert verified and all(-1 <= c.evidence.verification.fit <= 1 for c in verified)
    assert {c.evidence.verification.channel for c in verified} <= {"luma", "value"}
    assert all("verification" not in c.evidence.model_dump() for r in results for c in r.candidates
               if c.evidence.verification is None)
    # the verified candidates of in-catalog clips: the right program fits its episode better than the others
    truth = {c.clip_id: c.program_id for c in clips}
    right = [c.evidence.verification.fit for r in results for c in r.candidates
             if c.evidence.verification is not None and c.program_id == truth[r.clip_id]]
    wrong = [c.evidence.verification.fit for r in results for c in r.candidates
             if c.evidence.verification is not None and c.program_id != truth[r.clip_id]]
    assert right and wrong and np.mean(right) > np.mean(wrong)
    # the re-ranker reads the detail check, so its figure is shown too, and tells the right program better still
    detail = {True: [], False: []}
    for r in results:
        for c in r.candidates:
            if c.evidence.verification is not None and c.evidence.verification.detail is not None:
                detail[c.program_id == truth[r.clip_id]].append(c.evidence.verification.detail)
    assert detail[True] and detail[False] and np.mean(detail[True]) > np.mean(detail[False])
    rrf = Associator.open(index_dir, LOOKUP, scorer="rrf").lookup_clips(tiny_universe / "clips" / "test.jsonl",
                                                                        clips[:1])[0][0]
    assert "rerank" not in rrf.timings_ms
    report = evaluate(index_dir, tiny_universe / "clips" / "test.jsonl", tmp_path / "rep", LookupSettings(short_side=72))
    assert {"fused", "fused_rrf", "fused_no_aux_visual", "fused_no_text", "fused_no_verify"} <= set(report["runs"]) and report["reranker"]["checksum"] == section["checksum"]
    assert "ece" in report["runs"]["fused"]["overall"]
    assert "fused_rrf: reciprocal rank fusion" in (tmp_path / "rep" / "report.md").read_text()
    assert "fused_no_verify: without the verification" in (tmp_path / "rep" / "report.md").read_text()
    visual_only = [json.loads(line) for line in (tmp_path / "rep" / "results_fused_no_text.jsonl").open()]
    assert visual_only and all(c["evidence"].get("text") is None for r in visual_only for c in r["candidates"])


def test_lookups_in_worker_processes_export_their_scan_caches_added_up(trained, tiny_index, tiny_universe, tmp_path):
    """ASSOC_SERVE_PROCESSES: each process keeps its own scan cache; the service's /metrics shows them summed, each
    as of that process's latest lookup, and the lookups answer as one process does."""
    from prometheus_client import generate_latest

    from assoc.catalog import clip_video_path
    from assoc.service.metrics import ServiceMetrics
    from assoc.service.pool import PooledAssociator, sum_stats

    out, _ = trained
    index_dir = tmp_path / "idx"
    shutil.copytree(tiny_index, index_dir)
    set_reranker(index_dir, out)
    queries = tiny_universe / "clips" / "test.jsonl"
    clips = [c for c in load_queries(queries)[0] if c.program_id][:3]
    local = Associator.open(index_dir, LOOKUP)
    alone = {c.clip_id: local.lookup_video(clip_video_path(queries, c), c.clip_id, c.title) for c in clips}
    pooled = PooledAssociator(local, 2, LOOKUP, None, "cpu")
    try:
        assert pooled.scan_cache_stats() is None  # no process has looked anything up yet
        for c in clips * 2:
            r = pooled.lookup_video(clip_video_path(queries, c), c.clip_id, c.title)
            assert r.match == alone[c.clip_id].match and r.confidence == pytest.approx(alone[c.clip_id].confidence)
        stats = pooled.scan_cache_stats()
        assert stats["misses"] >= 1 and stats["bytes"] > 0 and 1 <= stats["processes"] <= 2
        assert stats == sum_stats(pooled._stats)
        text = generate_latest(ServiceMetrics(lambda: pooled).registry).decode()
        assert f"assoc_scan_cache_misses {float(stats['misses'])}" in text
        assert f"assoc_scan_cache_bytes {float(stats['bytes'])}" in text
    finally:
        pooled.close()
    two = sum_stats({1: {"hits": 1, "misses": 2, "episodes": 2, "bytes": 2**20}, 2: None,
                     3: {"hits": 0, "misses": 3, "episodes": 3, "bytes": 2**20}})
    assert two == {"hits": 1, "misses": 5, "episodes": 5, "bytes": 2**21, "mb": 2.0, "processes": 2}
    assert sum_stats({}) is None and sum_stats({1: None}) is None


def test_reranker_for_another_encoder_is_refused(trained, tiny_index, tmp_path):
    out, _ = trained
    other = tmp_path / "other"
    shutil.copytree(out, other)
    config = json.loads((other / "config.json").read_text())
    config["info"]["index"]["encoder"] = "0000000000000000"
    (other / "config.json").write_text(json.dumps(config))
    index_dir = tmp_path / "idx"
    shutil.copytree(tiny_index, index_dir)
    with pytest.raises(InputError, match="trained with encoder 0000000000000000"):
        set_reranker(index_dir, other)
    with pytest.raises(InputError, match="has no re-ranker"):
        Associator.open(index_dir, LOOKUP, scorer="rerank")


def test_text_rebuild_removes_the_reranker_that_learned_the_old_text_scores(trained, tiny_index, tmp_path):
    from assoc.index_build import RERANKER_DIR
    from assoc.index_update import rebuild_text

    out, _ = trained
    index_dir = tmp_path / "idx"
    shutil.copytree(tiny_index, index_dir)
    checksum = set_reranker(index_dir, out)["checksum"]
    section = rebuild_text(index_dir)
    assert section["dropped_reranker"] == checksum and not (index_dir / RERANKER_DIR).exists()
    assert "reranker" not in open_index(index_dir).manifest
    assert Associator.open(index_dir, LOOKUP).reranker is None  # auto falls back to RRF


def test_the_season_marker_says_whether_the_title_names_the_programs_season():
    programs = {
        "s1": Program(program_id="s1", title="紫禁人家记", aliases=["Forbidden Household Records"],
                      category=["电视剧", "古装", "宫廷"], episodes=[Episode(episode_id="s1e1", number=1, video="v.mp4")]),
        "s2": Program(program_id="s2", title="紫禁人家记 第二季", aliases=["Forbidden Household Records Season 2"],
                      category=["电视剧", "古装", "宫廷"], episodes=[Episode(episode_id="s2e1", number=1, video="v.mp4")]),
        # the season only in an English alias
        "e3": Program(program_id="e3", title="樱花战记", aliases=["Sakura War Chronicle Season 3"],
                      category=["动漫", "热血", "冒险"], episodes=[Episode(episode_id="e3e1", number=1, video="v.mp4")]),
    }
    assert program_season("紫禁人家记") == 1 and program_season("紫禁人家记 第二季") == 2
    assert program_season("樱花战记", ("樱花战记", "Sakura War Chronicle Season 3")) == 3
    pool = ["s1", "s2", "e3"]

    def marker(title):
        signals = ClipSignals("c", visual=[_visual(p, 0.5) for p in pool], parsed=parse_title(title))
        rows = feature_rows(signals, pool, programs)
        return rows[:, all_features().index("season_marker")].tolist()

    # a later season, not in the catalog: neither of the franchise's programs (whose title the text finds) is it;
    # the marker compares seasons only, the text features say whose title it is
    assert marker("【紫禁人家记 第三季】Part 1 必看") == [0.0, 0.0, 1.0]
    assert marker("Forbidden Household Records Season 2 S2E1 reaction")[:2] == [0.0, 1.0]
    assert marker("樱花战记 第三季 名场面")[2] == 1.0
    assert all(math.isnan(x) for x in marker("紫禁人家记 名场面"))  # no marker: no evidence either way
    # read only by a model trained with it; the visual-only ablation never reads it
    assert "season_marker" in feature_columns(RerankSettings(season_marker=True))[0]
    assert "season_marker" not in feature_columns(RerankSettings())[0]
    assert "season_marker" not in feature_columns(RerankSettings(season_marker=True, use_text=False))[0]
