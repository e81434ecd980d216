"""Per-program voting and localisation on hand-made neighbour lists."""

import numpy as np
import pytest

from assoc.visual import vote
from indexes.keyframes import KeyframeTable


@pytest.fixture
def table():
    t = KeyframeTable()
    t.add_episode("pA", "pAe01", np.arange(0, 10, 1.0))  # ids 0-9, t = 0..9
    t.add_episode("pA", "pAe02", np.arange(0, 10, 1.0))  # ids 10-19
    t.add_episode("pB", "pBe01", np.arange(0, 10, 1.0))  # ids 20-29
    return t


def test_votes_rank_programs_and_localise(table):
    q_times = np.array([0.0, 1.0, 2.0, 3.0])
    # frames match pAe02 at t = 5, 6, 7, 8 (offset 5 s); pB appears twice, less similar
    I = np.array([[15, 20, -1], [16, 21, 15], [17, 3, -1], [18, 19, 22]])  # noqa: E741
    D = np.array([[0.9, 0.5, -np.inf], [0.8, 0.4, 0.7], [0.9, 0.3, -np.inf], [0.7, 0.6, 0.2]], np.float32)
    cands = vote(D, I, table, q_times, clip_duration=4.0, top_k=5)
    assert [c.program_id for c in cands] == ["pA", "pB"]
    a, b = cands
    assert a.votes == 4 and a.frames == 4  # each frame votes once per program (its best neighbour)
    assert a.score == pytest.approx((0.9 + 0.8 + 0.9 + 0.7) / 4)
    assert a.episode_id == "pAe02" and a.start == pytest.approx(5.0) and a.end == pytest.approx(9.0)
    assert b.votes == 3 and b.score == pytest.approx((0.5 + 0.4 + 0.2) / 4)


def test_no_neighbours_gives_no_candidates(table):
    I = -np.ones((2, 3), np.int64)  # noqa: E741
    assert vote(np.full((2, 3), -np.inf, np.float32), I, table, np.zeros(2), 1.0, 5) == []


@pytest.fixture
def long_table():
    t = KeyframeTable()
    t.add_episode("pA", "pAe01", np.arange(0, 120, 1.0))  # ids 0-119, t = 0..119
    t.add_episode("pB", "pBe01", np.arange(0, 120, 1.0))  # ids 120-239
    return t


def _lists(times_by_frame, sims):
    I = np.array([[i] for i in times_by_frame], np.int64)  # noqa: E741
    D = np.array([[s] for s in sims], np.float32)
    return D, I


def test_sped_up_clip_is_localised_with_its_speed(long_table):
    q = np.arange(0, 16) * 0.5  # 16 frames over 8 s of clip at 1.5x: source 40 + 1.5 q
    D, I = _lists([int(round(40 + 1.5 * x)) for x in q], [0.9] * 16)  # noqa: E741
    (a,) = vote(D, I, long_table, q, clip_duration=8.0, top_k=5)
    assert a.speed == pytest.approx(1.5, abs=0.1)
    assert a.start == pytest.approx(40.0, abs=1.0) and a.end == pytest.approx(52.0, abs=1.5)
    assert a.consistency == 1.0 and a.score == pytest.approx(0.9)


def test_scattered_matches_lose_to_a_consistent_line(long_table):
    q = np.arange(0, 8, 1.0)
    rng = np.random.default_rng(0)
    scattered = 120 + rng.permutation(120)[:8]  # pB: similar frames at unrelated times
    I = np.stack([10 + np.arange(8), scattered], axis=1)  # noqa: E741
    D = np.array([[0.80, 0.85]] * 8, np.float32)
    cands = vote(D, I, long_table, q, clip_duration=8.0, top_k=5)
    assert [c.program_id for c in cands] == ["pA", "pB"]
    assert cands[1].raw_score > cands[0].raw_score  # unaligned, pB would have won
    assert cands[1].consistency < 0.5


def test_spliced_clip_gets_two_segments(long_table):
    q = np.arange(0, 12, 1.0)  # first 6 s from t = 10, then 6 s from t = 80
    src = [10 + x for x in q[:6]] + [80 + x - 6 for x in q[6:]]
    D, I = _lists([int(s) for s in src], [0.9] * 12)  # noqa: E741
    (a,) = vote(D, I, long_table, q, clip_duration=12.0, top_k=5)
    assert len(a.segments) == 2 and a.coverage == 1.0 and a.score == pytest.approx(0.9)
    starts = sorted(s.start for s in a.segments)
    assert starts[0] == pytest.approx(10.0, abs=1.0) and starts[1] == pytest.approx(80.0, abs=1.0)
    assert sorted(s.frames for s in a.segments) == [6, 6]
