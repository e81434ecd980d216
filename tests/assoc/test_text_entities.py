"""Exact character and cast names in clip text: the dictionary lookup behind a name-only title."""

from assoc.schema import Episode, Program
from assoc.text.entities import EntityMatcher


def _program(pid: str, characters: list[str], cast: list[str]) -> Program:
    return Program(program_id=pid, title=f"节目{pid}", category=["电视剧", "古装", "宫廷"], characters=characters,
                   cast=cast, episodes=[Episode(episode_id=f"{pid}e1", number=1, video="v.mp4")])


PROGRAMS = [_program("p1", ["叶诺", "沈砚之"], ["赵宇雨"]), _program("p2", ["叶诺", "苏"], ["Ann Lee"]),
            _program("p3", ["魏启"], ["叶诺"])]


def test_chinese_names_are_found_inside_unspaced_text_with_their_share():
    hits = {h.program_id: h for h in EntityMatcher(PROGRAMS).search("沈砚之名场面 太好哭了")}
    assert set(hits) == {"p1"} and hits["p1"].field == "characters" and hits["p1"].share == 1
    hits = {(h.program_id, h.field, h.share) for h in EntityMatcher(PROGRAMS).search("叶诺 必看")}
    # a character of two programs and an actor of a third: every owner, each with its field's share
    assert hits == {("p1", "characters", 2), ("p2", "characters", 2), ("p3", "cast", 1)}


def test_traditional_spelling_and_latin_word_boundaries():
    m = EntityMatcher(PROGRAMS)
    assert [h.program_id for h in m.search("魏啓 cut")] == ["p3"]  # 啓 is the traditional 启
    assert [h.program_id for h in m.search("ANN LEE reaction")] == ["p2"]
    assert m.search("annlee annabelle lee") == []  # a Latin name is whole words, never a substring


def test_one_character_names_identify_nothing():
    assert EntityMatcher(PROGRAMS).search("苏 高能") == []
