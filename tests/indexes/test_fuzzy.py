"""The fuzzy matcher's character prefilter against brute-force WRatio over every choice."""

import numpy as np
from rapidfuzz import fuzz, process

from indexes.fuzzy import FuzzyTitleMatcher

CHARS = list("长安秘闻录恋歌星际行动风华人家记铁血孤岛梦想大会少年奇缘地球工匠巴学堂乐园追暴")


def test_prefilter_keeps_every_strong_match():
    rng = np.random.default_rng(3)
    titles = ["".join(rng.choice(CHARS, int(rng.integers(3, 8)))) for _ in range(2000)]
    aliases = [[t[:2], t[::-1]] for t in titles]
    ids = [f"p{i}" for i in range(len(titles))]
    matcher = FuzzyTitleMatcher(ids, titles, aliases)
    for q in [titles[5], titles[7][1:], titles[9][:3] + "录", "长安秘闻录"]:
        got = matcher.search([q], k=5)
        brute = process.cdist([q], matcher.choices, scorer=fuzz.WRatio, processor=None)[0]
        per_program = {}
        for c, s in enumerate(brute):
            pid = ids[matcher.owner[c]]
            per_program[pid] = max(per_program.get(pid, 0), s)
        best = max(per_program.values())
        assert got[0].score == best  # the prefilter never loses the best-scoring program
        assert got[0].program_id in {p for p, s in per_program.items() if s == best}


def test_field_and_length_floor():
    m = FuzzyTitleMatcher(["p1", "p2"], ["长安秘闻录", "星际行动"], [["changansecretfiles"], []])
    hit = m.search(["changansecertfiles"], 2)[0]
    assert hit.program_id == "p1" and hit.field == "alias" and hit.score >= 90
    assert m.search(["长"], 2) == []  # one character is too short to compare
