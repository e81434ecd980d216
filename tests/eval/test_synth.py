"""The tiny universe: deterministic, decodable, realistic in its structure."""

import json

import numpy as np
import pytest
import zhconv

from assoc.catalog import clip_video_path, load_catalog, load_queries
from assoc.errors import InputError
from assoc.media import extract_audio, sample_frames
from eval.synth.edits import ALL_EDITS, ClipEditor, choose_edits
from eval.synth.generate import synthesize
from eval.synth.names import MENTIONS, clip_text
from eval.synth.presets import get_preset
from eval.synth.universe import build_universe
from tests.conftest import TINY_SEED


def test_layout_and_stats(tiny_universe, taxonomy):
    stats = json.loads((tiny_universe / "stats.json").read_text())
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    assert not catalog.errors and len(catalog.programs) == stats["programs"]["catalog"] == 8
    test, errors = load_queries(tiny_universe / "clips" / "test.jsonl")
    assert not errors and len(test) == stats["clips"]["test"]["count"] == 10
    assert sum(c.program_id is None for c in test) / len(test) >= 0.2
    ids = {p.program_id for p in catalog.programs}
    for c in test:
        assert c.program_id is None or c.program_id in ids
        assert set(c.edits) <= set(ALL_EDITS) and c.mention in MENTIONS and c.category
        assert 0 <= c.start < c.end and clip_video_path(tiny_universe / "clips" / "test.jsonl", c).is_file()
    assert stats["failures"] == 0 and stats["bytes_on_disk"] > 0


def test_without_videos_the_same_catalog_and_clips_are_written(tiny_universe, tmp_path):
    out = tmp_path / "text-only"
    stats = synthesize(out, get_preset("tiny"), TINY_SEED, workers=1, videos=False)
    assert stats["videos"] is False and stats["failures"] == 0
    for name in ("catalog.jsonl", "clips/train.jsonl", "clips/val.jsonl", "clips/test.jsonl"):
        assert (out / name).read_bytes() == (tiny_universe / name).read_bytes(), name
    assert not list(out.rglob("*.mp4"))
    rendered = json.loads((tiny_universe / "stats.json").read_text())
    written = json.loads((out / "stats.json").read_text())
    assert {k: v for k, v in written.items() if k not in ("videos", "bytes_on_disk", "wall_seconds")} == \
        {k: v for k, v in rendered.items() if k not in ("videos", "bytes_on_disk", "wall_seconds")}


def test_videos_are_real_h264_with_aac(tiny_universe, taxonomy):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    ep = catalog.programs[0].episodes[0]
    s = sample_frames(catalog.video_path(ep.video), fps=1)
    assert s.frames.shape[1:] == (72, 128, 3) and s.duration >= 14
    assert extract_audio(catalog.video_path(ep.video)).status == "ok"


def test_same_seed_same_universe_other_seed_other(tiny_universe, tmp_path):
    again = tmp_path / "again"
    synthesize(again, get_preset("tiny"), 0, workers=1)
    for name in ("catalog.jsonl", "clips/train.jsonl", "clips/val.jsonl", "clips/test.jsonl"):
        assert (again / name).read_text() == (tiny_universe / name).read_text(), name
    first = sorted((tiny_universe / "videos").rglob("*.mp4"))[0]
    assert (again / first.relative_to(tiny_universe)).read_bytes() == first.read_bytes()
    other = build_universe(__import__("assoc.taxonomy").taxonomy.load_taxonomy(), 8, 1, (1, 1), (14, 18))
    assert [p.title for p in other] != [json.loads(line)["title"] for line in (tiny_universe / "catalog.jsonl").open()]


def test_universe_structure(taxonomy):
    programs = build_universe(taxonomy, 300, 5, (1, 2), (30, 40))
    relations = {p.relation for p in programs}
    assert {"original", "season", "spinoff", "lookalike"} <= relations
    by_id = {p.program_id: p for p in programs}
    season = next(p for p in programs if p.relation == "season")
    root = next(p for p in programs if p.franchise == season.franchise and p.relation == "original")
    assert set(season.spec.set_seeds) & set(root.spec.set_seeds)  # seasons share sets
    assert season.cast == root.cast and season.title.startswith(root.title) and "季" in season.title
    assert any(a != p.title and a != p.en_title for p in programs for a in p.aliases)  # traditional / short forms
    assert len(by_id) == 300 and len({p.title for p in programs}) == 300


def test_clip_text_mentions_what_it_says():
    program = {"title": "长安秘闻录", "en_title": "Chang'an Secret Files", "aliases": ["長安秘聞錄", "长安"],
               "characters": ["沈砚"], "cast": ["林晓"]}
    seen = set()
    for seed in range(200):
        text, _, mention = clip_text(program, 3, 1, np.random.default_rng(seed))
        seen.add(mention)
        if mention == "title":
            assert "长安秘闻录" in text or "Chang'an Secret Files" in text
        elif mention == "traditional":
            assert zhconv.convert("长安秘闻录", "zh-hant") in text
        elif mention == "character":
            assert "沈砚" in text
        elif mention == "cast":
            assert "林晓" in text
        elif mention == "episode":
            assert any(m in text for m in ("第3集", "EP3", "S1E3", "Part 3"))
    assert seen == set(MENTIONS)


def test_edits_change_frames_and_size():
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (144, 256, 3), dtype=np.uint8)
    vertical = ClipEditor(["vertical"], 256, 144, seed=1)
    assert vertical(frame, 0.0).shape == (256, 144, 3) and vertical.output_size() == (144, 256)
    for edit in ("color", "crop", "flip", "letterbox", "subtitles", "logo"):
        out = ClipEditor([edit], 256, 144, seed=2)(frame, 0.0)
        assert out.shape == frame.shape and not np.array_equal(out, frame), edit
    for _ in range(50):
        chosen = choose_edits(rng)
        assert 2 <= len(chosen) <= 5 and sum(e in chosen for e in ("letterbox", "pillarbox", "vertical")) <= 1


def test_unknown_preset_and_odd_size():
    with pytest.raises(InputError, match="known presets: tiny, small, bench"):
        get_preset("huge")
    with pytest.raises(InputError, match="even"):
        get_preset("tiny", width=129)
