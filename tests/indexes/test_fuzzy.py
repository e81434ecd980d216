"""The fuzzy matcher's character prefilter against brute-force scoring of every choice; its length rule."""

import numpy as np

from indexes.fuzzy import FuzzyTitleMatcher, score_choices

CHARS = list("长安秘闻录恋歌星际行动风华人家记铁血孤岛梦想大会少年奇缘地球工匠巴学堂乐园追暴")


def test_prefilter_keeps_every_strong_match():
    rng = np.random.default_rng(3)
    titles = ["".join(rng.choice(CHARS, int(rng.integers(3, 8)))) for _ in range(2000)]
    aliases = [[t[:2], t[::-1]] for t in titles]
    ids = [f"p{i}" for i in range(len(titles))]
    matcher = FuzzyTitleMatcher(ids, titles, aliases)
    for q in [titles[5], titles[7][1:], titles[9][:3] + "录", "长安秘闻录"]:
        got = matcher.search([q], k=5)
        brute = score_choices(q, matcher.choices)
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


def test_short_alias_inside_a_longer_name_is_not_a_match():
    # 冠运风暴 is a typo of 冠军风暴; the short alias 风暴 of another program is contained in it
    m = FuzzyTitleMatcher(["p1", "p2"], ["冠军风暴", "风暴危机"], [["冠军"], ["风暴"]])
    hits = m.search(["冠运风暴"], 2)
    assert hits[0].program_id == "p1" and hits[0].query == "冠运风暴"
    assert {h.program_id: h.score for h in hits}["p2"] < 70
    # a name shorter than the title keeps partial credit (an uploader writes part of a title)
    assert m.search(["冠军风"], 1)[0].score >= 85
