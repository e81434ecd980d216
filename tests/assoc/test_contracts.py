"""The catalog, query and result contracts of design.md, and line-numbered errors."""

import json

import pytest

from assoc.catalog import load_catalog, load_queries
from assoc.errors import InputError
from assoc.jsonl import read_jsonl, read_jsonl_strict
from assoc.schema import Clip, Program, Result

DESIGN_PROGRAM = {"program_id": "p000123", "title": "长安秘闻录", "aliases": ["Chang'an Secret Files", "长安秘闻"],
                  "category": ["电视剧", "古装", "宫廷"], "cast": ["林晓", "周启明"], "characters": ["沈砚", "柳如烟"],
                  "year": 2021, "description": "...",
                  "episodes": [{"episode_id": "p000123e01", "number": 1, "video": "videos/p000123/e01.mp4"}]}
DESIGN_CLIP = {"clip_id": "c004711", "video": "clips/test/c004711.mp4", "title": "【长安秘闻录】第3集 名场面",
               "description": "", "program_id": "p000123", "episode_id": "p000123e03", "start": 812.0, "end": 851.5,
               "edits": ["crop", "subtitles", "logo"], "mention": "title", "category": ["电视剧", "古装", "宫廷"]}
DESIGN_RESULT = {"clip_id": "c004711", "match": "p000123", "confidence": 0.97,
                 "candidates": [{"program_id": "p000123", "title": "长安秘闻录", "score": 0.97,
                                 "episode_id": "p000123e03", "start": 811.0, "end": 852.0,
                                 "evidence": {"visual": {"votes": 14, "frames": 16, "similarity": 0.83},
                                              "text": {"bm25": 12.1, "fuzzy": 100, "field": "title"},
                                              "category": {"agree_levels": 3}}}],
                 "category": {"levels": [["电视剧", 0.98], ["古装", 0.91], ["宫廷", 0.80]]},
                 "degraded": [], "timings_ms": {"decode": 0, "embed": 0, "vector": 0, "text": 0, "rerank": 0}}


def write_lines(path, lines):
    path.write_text("".join((json.dumps(x, ensure_ascii=False) if isinstance(x, dict) else x) + "\n" for x in lines),
                    encoding="utf-8")
    return path


def test_design_examples_parse_and_round_trip():
    assert Program.model_validate(DESIGN_PROGRAM).episodes[0].number == 1
    assert Clip.model_validate(DESIGN_CLIP).edits == ["crop", "subtitles", "logo"]
    result = Result.model_validate(DESIGN_RESULT)
    dumped = json.loads(result.model_dump_json())
    assert dumped["candidates"][0]["evidence"]["visual"] == {"votes": 14, "frames": 16, "similarity": 0.83}
    assert dumped["category"]["levels"][0] == ["电视剧", 0.98]
    assert dumped["match"] == "p000123"


def test_open_set_clip_has_null_program():
    clip = Clip.model_validate(dict(DESIGN_CLIP, program_id=None, episode_id=None))
    assert clip.program_id is None and clip.category == ["电视剧", "古装", "宫廷"]


def test_bad_lines_name_line_number_and_field(tmp_path):
    bad_category = dict(DESIGN_PROGRAM, program_id="p2", category=["电视剧"])
    no_title = {k: v for k, v in DESIGN_PROGRAM.items() if k != "title"} | {"program_id": "p3"}
    path = write_lines(tmp_path / "catalog.jsonl", [DESIGN_PROGRAM, "{not json", "", bad_category, no_title, "[1, 2]"])
    items, errors = read_jsonl(path, Program)
    assert [p.program_id for p in items] == ["p000123"]
    by_line = {e.line: e.reason for e in errors}
    assert set(by_line) == {2, 4, 5, 6}
    assert "invalid JSON" in by_line[2]
    assert "field 'category'" in by_line[4]
    assert "field 'title'" in by_line[5]
    assert "expected a JSON object" in by_line[6]
    assert str(errors[0]).startswith(f"{path}:2: ")


def test_strict_reader_lists_every_rejected_line(tmp_path):
    path = write_lines(tmp_path / "c.jsonl", ["oops", DESIGN_CLIP, dict(DESIGN_CLIP, start=5.0, end=1.0)])
    with pytest.raises(InputError) as e:
        read_jsonl_strict(path, Clip)
    assert ":1: invalid JSON" in str(e.value) and ":3: " in str(e.value) and "end must not be before start" in str(e.value)


def test_catalog_rejects_duplicates_and_unknown_categories_by_line(tmp_path, taxonomy):
    other = dict(DESIGN_PROGRAM, program_id="p2", category=["电视剧", "古装", "不存在"])
    path = write_lines(tmp_path / "catalog.jsonl", [DESIGN_PROGRAM, DESIGN_PROGRAM, other])
    catalog = load_catalog(path, taxonomy)
    assert [p.program_id for p in catalog.programs] == ["p000123"]
    reasons = {e.line: e.reason for e in catalog.errors}
    assert "duplicate program_id 'p000123'" in reasons[2]
    assert "not in the taxonomy" in reasons[3]
    assert catalog.video_path("videos/x.mp4") == (tmp_path / "videos/x.mp4").resolve()


def test_unknown_field_is_rejected(tmp_path):
    path = write_lines(tmp_path / "q.jsonl", [dict(DESIGN_CLIP, colour="red")])
    clips, errors = load_queries(path)
    assert not clips and "field 'colour'" in errors[0].reason


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot open"):
        read_jsonl(tmp_path / "absent.jsonl", Clip)
