"""Episodes' verification frames stored in the index (assoc.episode_frames) on the real tiny universe: the same pixels
as a lookup decodes, the same lookups, lookups without the videos, updates, failures named."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict

import numpy as np
import pytest
from typer.testing import CliRunner

from assoc.catalog import clip_video_path, load_catalog, load_queries
from assoc.episode_frames import FRAMES_DIR, META_FILE, EpisodeFrames, read_tracks, tracks_for
from assoc.errors import InputError
from assoc.index_build import BuildSettings, build_index
from assoc.index_reader import open_index
from assoc.index_update import add_programs, remove_programs, set_episode_frames
from assoc.lookup import Associator, LookupSettings
from assoc.verify import VerifySettings, _slice, read_scan, read_window
from cli.main import app


@pytest.fixture(scope="module")
def stored_index(tiny_index, tmp_path_factory):
    """A copy of the tiny index with every track stored."""
    path = tmp_path_factory.mktemp("stored") / "index"
    shutil.copytree(tiny_index, path)
    section = set_episode_frames(path, "all")
    return path, section


def test_stored_tracks_are_the_pixels_a_lookup_decodes(tiny_universe, taxonomy, monkeypatch):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    rng = np.random.default_rng(0)
    for program in catalog.programs[:3]:
        path = catalog.video_path(program.episodes[0].video)
        got = read_tracks(path, tuple(tracks_for("all")))
        frames, gap = read_scan(path, 32, 0.5)
        assert np.array_equal(got["scan"][0], frames) and got["scan"][1] == gap
        every, fps = got["window"]
        for _ in range(4):
            t0 = float(rng.uniform(0, 10))
            t1 = t0 + float(rng.uniform(0.5, 5))
            want = read_window(path, t0, t1, 64)
            have = _slice((every, fps, 0), t0, t1)
            assert have[1:] == want[1:] and np.array_equal(have[0], want[0])
    # a long episode is decoded in chunks: the same frames
    import assoc.episode_frames as ef

    whole = read_tracks(path, tuple(tracks_for("all")))["window"]
    monkeypatch.setattr(ef, "CHUNK", 7)
    chunked = read_tracks(path, tuple(tracks_for("all")))["window"]
    assert len(whole[0]) > 7 and np.array_equal(chunked[0], whole[0]) and chunked[1] == whole[1]
    for mode in ("scan", "all"):
        assert read_tracks(tiny_universe / "no-such.mp4", tuple(tracks_for(mode))).startswith("episode video not found")
    with pytest.raises(InputError, match="unknown episode-frames mode 'some'"):
        tracks_for("some")


def test_lookups_read_the_stored_frames_and_need_no_videos(stored_index, tiny_universe, tmp_path):
    path, section = stored_index
    index = open_index(path)  # every stored file is in the manifest's checksums
    episodes = sum(len(p.episodes) for p in index.programs.values())
    assert section["episodes"] == episodes and section["tracks"] == ["scan", "window"] and not section["failures"]
    assert index.manifest["episode_frames"]["mode"] == "all" and index.manifest["settings"]["episode_frames"] == "all"
    verify = VerifySettings(scan=2)

    def open_(**kw):
        return Associator.open(path, LookupSettings(short_side=72, **kw), signals=["visual"], verify=verify)

    stored, videos = open_(), open_(episode_frames=False)
    assert stored.verifier.stored is not None and videos.verifier.stored is None
    novideo = tmp_path / "elsewhere"
    novideo.mkdir()
    alone, blind = open_(catalog_root=str(novideo)), open_(catalog_root=str(novideo), episode_frames=False)
    queries = tiny_universe / "clips" / "test.jsonl"
    clips = [c for c in load_queries(queries)[0] if c.program_id][:4]
    verified = 0
    for clip in clips:
        video = clip_video_path(queries, clip)
        a, b, c = (x.video_signals(video, clip.clip_id) for x in (stored, videos, alone))
        assert {p: asdict(v) for p, v in a.verification.items()} == {p: asdict(v) for p, v in b.verification.items()}
        assert {p: asdict(v) for p, v in c.verification.items()} == {p: asdict(v) for p, v in b.verification.items()}
        assert not any("no video" in d or "not found" in d for d in c.degraded)  # nothing was missing
        verified += len(a.verification)
        dump = [x.lookup_video(video, clip.clip_id).model_dump(exclude={"timings_ms"}) for x in (stored, alone, videos)]
        assert dump[0] == dump[1] == dump[2]
        # without the stored frames and without the videos, verification says what it could not read
        lost = blind.video_signals(video, clip.clip_id)
        assert not lost.verification and any("has no video" in d or "not found" in d for d in lost.degraded)
    assert verified > 0
    # a track at other settings is not used: the videos are read
    frames = EpisodeFrames.open(path)
    eid = next(iter(frames.episodes))
    assert frames.window(eid, 64) is not None and frames.window(eid, 128) is None
    assert frames.scan(eid, 32, 0.5) is not None and frames.scan(eid, 32, 0.25) is None
    assert frames.scan(eid, 32, 0.5, "value") is None and frames.window("no-such-episode", 64) is None


def test_add_replaces_and_remove_drops_a_programs_stored_frames(tiny_universe, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    from tests.conftest import tiny_encoder

    path = tmp_path / "idx"
    build_index(catalog, path, tiny_encoder(), BuildSettings(keyframe_fps=2.0, short_side=72, episode_frames="scan"))
    meta = json.loads((path / FRAMES_DIR / META_FILE).read_text())
    assert open_index(path).manifest["episode_frames"]["episodes"] == len(meta["episodes"]) > 0
    assert all("window" not in e for e in meta["episodes"].values())
    again = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    again.programs = catalog.programs[:1]
    target = again.programs[0]
    before = {e: meta["episodes"][e]["file"] for e in (x.episode_id for x in target.episodes)}
    opened = EpisodeFrames.open(path)  # a lookup that opened the index before the update in place
    other = next(e for e, entry in meta["episodes"].items() if entry["program_id"] != target.program_id)
    add_programs(path, again)
    meta = json.loads((path / FRAMES_DIR / META_FILE).read_text())
    after = {e: meta["episodes"][e]["file"] for e in before}
    assert all(after[e] != before[e] for e in before)  # stored again
    assert not any((path / FRAMES_DIR / f"{n}.scan.npy").exists() for n in before.values())
    assert open_index(path).manifest["episode_frames"]["episodes"] == len(meta["episodes"])
    # it finds the frames it expects, or none (and reads the video): never another episode's
    assert all(opened.scan(e, 32, 0.5) is None for e in before)
    assert np.array_equal(opened.scan(other, 32, 0.5)[0], EpisodeFrames.open(path).scan(other, 32, 0.5)[0])
    remove_programs(path, [target.program_id])
    meta = json.loads((path / FRAMES_DIR / META_FILE).read_text())
    assert not set(before) & set(meta["episodes"])
    assert not any((path / FRAMES_DIR / f"{n}.scan.npy").exists() for n in after.values())
    assert open_index(path).manifest["episode_frames"]["episodes"] == len(meta["episodes"])


def test_the_cli_stores_every_readable_episode_and_names_each_it_cannot_read(tiny_index, tiny_universe, tmp_path):
    path = tmp_path / "index"
    shutil.copytree(tiny_index, path)
    root = tmp_path / "videos-copy"
    shutil.copytree(tiny_universe / "videos", root / "videos")
    gone = sorted((root / "videos").rglob("*.mp4"))[0]
    gone.unlink()
    runner = CliRunner()
    result = runner.invoke(app, ["index", "frames", "--index", str(path), "--mode", "scan", "--catalog-root", str(root)])
    assert result.exit_code == 1, result.output
    assert f"({gone})" in result.output and "not found" in result.output
    manifest = open_index(path).manifest
    episodes = sum(len(p.episodes) for p in open_index(path).programs.values())
    assert manifest["episode_frames"]["episodes"] == episodes - 1
    assert [f["stage"] for f in manifest["failures"]] == ["episode_frames"]
    result = runner.invoke(app, ["index", "frames", "--index", str(path), "--mode", "none"])
    assert result.exit_code == 0, result.output
    manifest = open_index(path).manifest
    assert "episode_frames" not in manifest and not manifest["failures"] and not (path / FRAMES_DIR).exists()
    result = runner.invoke(app, ["index", "frames", "--index", str(path), "--mode", "every"])
    assert result.exit_code != 0 and "unknown episode-frames mode 'every'" in result.output
