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


@pytest.mark.parametrize("title,names,season,text", [
    ("云海祖师传 二季 笑死", ["云海祖师传 第二季"], 2, "云海祖师传 第二季 season 2"),  # 第 dropped
    ("抢先看|向往好声音季 问二季", ["向往好声音季 第二季"], 2, "向往好声音季 第二季 season 2"),  # 第 replaced
    ("【星辰物语 第二问】花絮", ["星辰物语 第二季"], 2, "星辰物语 第二季 season 2"),  # 季 replaced
    ("乘风挑战 第季 名场面", ["乘风挑战 第二季", "乘风挑战 第三季", "乘风挑战 第四季"], 0, "乘风挑战"),  # number lost
    ("【灵笼赐福传 第安季】太好哭了", ["灵笼赐福传 第二季", "灵笼赐福传 第三季", "灵笼赐福传 第四季"], 0, "灵笼赐福传"),
    ("四季 名场面", [], None, "四季"),  # a first token is a name, never a marker
    ("星光 第二名", [], None, "星光 第二名"),  # 第二名 counts something else
])
def test_season_markers_one_typo_away(title, names, season, text):
    p = parse_title(title)
    assert (p.names, p.season, p.text) == (names, season, text)


def test_title_words_that_are_noise_words_survive_as_variants():
    p = parse_title("Arena Highlights highlights")
    assert p.text == "Arena" and p.variants == ["Arena Highlights highlights", "Arena Highlights"]
    assert parse_title("名场面|高能 演技").variants == []  # nothing but noise
    assert parse_title("Froest China cut", "#reaction #best moments").text == "Froest China"  # hashtag spacing
