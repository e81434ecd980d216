"""Each metric on a hand-computed case, and recall@k / MRR cross-checked against ranx."""

import math

import numpy as np
import pytest

from eval import metrics as M

RANKED = [["a", "b", "c"], ["b", "a", "c"], ["c", "b", "a"], ["x", "y", "z"]]
TRUTH = ["a", "a", "a", "a"]  # ranks 1, 2, 3, absent


def test_recall_at_k_hand_computed():
    assert M.recall_at_k(RANKED, TRUTH, 1) == pytest.approx(1 / 4)
    assert M.recall_at_k(RANKED, TRUTH, 2) == pytest.approx(2 / 4)
    assert M.recall_at_k(RANKED, TRUTH, 10) == pytest.approx(3 / 4)
    assert math.isnan(M.recall_at_k([], [], 1))


def test_mrr_hand_computed():
    assert M.mrr(RANKED, TRUTH) == pytest.approx((1 + 1 / 2 + 1 / 3 + 0) / 4)


def test_ndcg_hand_computed():
    expected = (1 + 1 / math.log2(3) + 1 / math.log2(4) + 0) / 4
    assert M.ndcg_at_k(RANKED, TRUTH, 10) == pytest.approx(expected)
    assert M.ndcg_at_k(RANKED, TRUTH, 2) == pytest.approx((1 + 1 / math.log2(3)) / 4)


def test_open_set_prf_hand_computed():
    is_open = [True, True, True, False, False]
    said_no = [True, True, False, True, False]  # tp 2, fn 1, fp 1
    r = M.open_set_prf(is_open, said_no)
    assert (r["tp"], r["fp"], r["fn"]) == (2, 1, 1)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 / 3)
    assert M.open_set_prf([False], [False])["f1"] == 0.0


def test_best_threshold_separates_when_possible():
    t, r = M.best_open_set_threshold([True, True, False, False], [0.1, 0.2, 0.8, 0.9])
    assert 0.2 < t <= 0.8 and r["f1"] == 1.0


def test_localisation_hand_computed():
    acc = M.localisation_accuracy(["e1", "e1", "e2", None], [10.0, 20.0, 10.0, None],
                                  ["e1", "e1", "e1", "e1"], [12.5, 10.0, 10.0, 10.0], tolerance=3.0)
    assert acc == pytest.approx(1 / 4)


def test_recall_and_mrr_agree_with_ranx():
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(7)
    programs = [f"p{i}" for i in range(30)]
    ranked, truth, qrels, run = [], [], {}, {}
    for q in range(60):
        lst = list(rng.choice(programs, 12, replace=False))
        t = str(rng.choice(programs))
        ranked.append(lst)
        truth.append(t)
        qrels[f"q{q}"] = {t: 1}
        run[f"q{q}"] = {p: float(12 - i) for i, p in enumerate(lst)}
    scores = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10"])
    assert M.recall_at_k(ranked, truth, 1) == pytest.approx(scores["recall@1"])
    assert M.recall_at_k(ranked, truth, 5) == pytest.approx(scores["recall@5"])
    assert M.recall_at_k(ranked, truth, 10) == pytest.approx(scores["recall@10"])
    assert M.mrr(ranked, truth) == pytest.approx(scores["mrr"])
    assert M.ndcg_at_k(ranked, truth, 10) == pytest.approx(scores["ndcg@10"])
