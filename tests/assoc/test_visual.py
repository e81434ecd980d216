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
