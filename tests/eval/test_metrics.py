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


def test_title_clips_are_broken_down_by_whether_other_programs_share_their_name():
    from assoc.schema import Candidate, Clip, Episode, Program, Result
    from eval.report import breakdown_table
    from eval.scoring import score_run

    def program(pid, title, aliases):
        return Program(program_id=pid, title=title, aliases=aliases, category=["a", "b", "c"],
                       episodes=[Episode(episode_id=f"{pid}e1", number=1, video=f"v/{pid}.mp4")])

    programs = {p.program_id: p for p in [program("p1", "汪汪探险", ["Woof Adventure", "汪汪"]),
                                          program("p2", "汪汪出没", ["汪汪出沒", "汪汪"]),
                                          program("p3", "星光挑战", ["星光"])]}
    clips = [Clip(clip_id="c1", video="c1.mp4", title="【汪汪】cut", program_id="p1", mention="alias"),
             Clip(clip_id="c2", video="c2.mp4", title="汪汪出沒 高能", program_id="p2", mention="traditional"),
             Clip(clip_id="c3", video="c3.mp4", title="星光跳战", program_id="p3", mention="typo"),
             Clip(clip_id="c4", video="c4.mp4", title="张三", program_id="p3", mention="cast"),
             Clip(clip_id="c5", video="c5.mp4", title="《星光》", program_id=None, mention="alias"),
             Clip(clip_id="c6", video="c6.mp4", title="星星 cut", program_id="p3", mention="alias")]
    top = lambda cid, pid: Result(clip_id=cid, match=pid, confidence=0.9,  # noqa: E731
                                  candidates=[Candidate(program_id=pid, title="t", score=0.9)])
    results = {"c1": top("c1", "p2"), "c2": top("c2", "p2"), "c3": top("c3", "p3"), "c4": top("c4", "p3"),
               "c5": top("c5", "p3"), "c6": top("c6", "p3")}
    by_name = score_run(clips, results, programs)["by_name"]
    shared, unique, typo = ("title or alias: a name other programs have too", "title or alias: a name no other "
                            "program has", "title or alias: named with a typo")
    unfound = "title or alias: no name of its program found whole"
    assert set(by_name) == {shared, unique, typo, unfound}  # the person-only and open-set clips are in no group
    assert by_name[unfound]["n"] == 1 and by_name[unfound]["chance@1"] is None
    assert by_name[shared]["n"] == 1 and by_name[shared]["recall@1"] == 0.0 and by_name[shared]["chance@1"] == 0.5
    assert by_name[unique]["chance@1"] == 1.0 and by_name[unique]["recall@1"] == 1.0  # 汪汪出沒 is p2's own
    assert by_name[typo]["chance@1"] is None and by_name[typo]["recall@1"] == 1.0
    assert "chance R@1" in breakdown_table({"text": {"by_name": by_name}}, "by_name")
    assert "by_name" not in score_run(clips, results)  # without the catalog, no such breakdown
