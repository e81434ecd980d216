"""Query understanding of clip titles, case by case."""

import pytest

from assoc.text.normalize import compact, normalize
from assoc.text.query import cn_to_int, parse_title


@pytest.mark.parametrize("title,names,episode,season,part,text", [
    ("【长安秘闻录】第3集 名场面", ["长安秘闻录"], 3, None, None, "长安秘闻录"),
    ("《長安秘聞錄》高能", ["长安秘闻录"], None, None, None, "长安秘闻录"),
    ("Chang'an Secret Files EP12 reaction", ["Chang'an Secret Files"], 12, None, None, "Chang'an Secret Files"),
    ("Grace Love Song S2E5", ["Grace Love Song Season 2"], 5, 2, None, "Grace Love Song 第二季 season 2"),
    ("长安秘闻录 第二季 第十二集 cut", ["长安秘闻录 第二季"], 12, 2, None, "长安秘闻录 第二季 season 2"),
    ("【樱花战记传 第三季】混剪", ["樱花战记传 第三季"], None, 3, None, "樱花战记传 第三季 season 3"),
    ("Longing Voices Season 2 EP1", ["Longing Voices Season 2"], 1, 2, None, "Longing Voices 第二季 season 2"),
    ("【风华恋歌】Part 3 花絮", ["风华恋歌"], None, None, 3, "风华恋歌"),
    ("“星际行动”太好哭了 #名场面 #必看", ["星际行动"], None, None, None, "星际行动"),
    ("沈砚 名场面", [], None, None, None, "沈砚"),
    ("绝了绝了", [], None, None, None, ""),
    ("高能|风华人家记", [], None, None, None, "风华人家记"),
])
def test_parse_title(title, names, episode, season, part, text):
    p = parse_title(title)
    assert (p.names, p.episode, p.season, p.part, p.text) == (names, episode, season, part, text)


def test_description_joins_the_text():
    assert parse_title("沈砚", "#长安秘闻录").text == "沈砚 长安秘闻录"


@pytest.mark.parametrize("s,n", [("3", 3), ("三", 3), ("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("x", None)])
def test_chinese_numbers(s, n):
    assert cn_to_int(s) == n


def test_normalisation():
    assert normalize("甄嬛傳　ＥＰ３") == "甄嬛传 EP3"
    assert compact("Chang'an  Secret Files") == "changansecretfiles"
