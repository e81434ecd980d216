"""assoc index add / remove on a real tiny index: vectors, text and embeddings change together."""

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from assoc.catalog import load_catalog
from assoc.encoders import create_encoder
from assoc.errors import InputError
from assoc.index_build import BuildSettings, build_index
from assoc.index_reader import open_index
from assoc.index_update import add_programs, remove_programs
from assoc.lookup import Lookup
from cli.main import app


@pytest.fixture
def split_index(tiny_universe, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    first = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    first.programs = catalog.programs[:5]
    build_index(first, tmp_path / "idx", create_encoder("test_efficientnet", dim=32, image_size=64, seed=0),
                BuildSettings(keyframe_fps=2.0, short_side=72))
    rest = tmp_path / "rest.jsonl"
    lines = (tiny_universe / "catalog.jsonl").read_text().splitlines()[5:]
    rest.write_text("\n".join(lines) + "\n")
    shutil.copy(rest, tiny_universe / "rest.jsonl")  # video paths are relative to the catalog file
    return tmp_path / "idx", load_catalog(tiny_universe / "rest.jsonl", taxonomy), catalog


def test_add_then_remove(split_index):
    path, rest, catalog = split_index
    before = open_index(path).manifest["counts"]["keyframes"]
    report = add_programs(path, rest)
    assert report.added == [p.program_id for p in rest.programs] and report.keyframes_added > 0 and not report.failures
    index = open_index(path)
    assert set(index.programs) == {p.program_id for p in catalog.programs}
    assert index.manifest["counts"]["keyframes"] == before + report.keyframes_added
    new = rest.programs[0]
    text = Lookup(index, signals=["text"]).lookup_video(None, "c", title=f"【{new.title}】")
    assert text.candidates[0].program_id == new.program_id

    report = remove_programs(path, [new.program_id])
    assert report.keyframes_removed > 0
    index = open_index(path)
    assert new.program_id not in index.programs
    text = Lookup(index, signals=["text"]).lookup_video(None, "c", title=f"【{new.title}】")
    assert all(c.program_id != new.program_id for c in text.candidates)
    removed_ids = np.flatnonzero(index.table.program_idx == index.table.programs.index(new.program_id))
    vectors = index.visual.vectors
    probe = np.random.default_rng(0).normal(size=(20, vectors.dim)).astype(np.float32)
    _, I = vectors.search(probe / np.linalg.norm(probe, axis=1, keepdims=True), vectors.ntotal)
    assert len(removed_ids) > 0 and not np.isin(I, removed_ids).any()
    assert vectors.ntotal == index.manifest["counts"]["keyframes"]


def test_remove_unknown_changes_nothing(split_index):
    path, _, _ = split_index
    before = (path / "manifest.json").read_text()
    with pytest.raises(InputError, match="not in index .*: p999999"):
        remove_programs(path, ["p000001", "p999999"])
    assert (path / "manifest.json").read_text() == before


def test_cli_add_and_remove(split_index, tiny_universe):
    path, _, catalog = split_index
    a, b = catalog.programs[0].program_id, catalog.programs[1].program_id
    runner = CliRunner()
    r = runner.invoke(app, ["index", "add", "--index", str(path), "--catalog", str(tiny_universe / "rest.jsonl")])
    assert r.exit_code == 0 and "added 3 programs" in r.output, r.output
    r = runner.invoke(app, ["index", "remove", "--index", str(path), "--program", a, "--program", b])
    assert r.exit_code == 0 and "removed 2 programs" in r.output, r.output
    r = runner.invoke(app, ["index", "remove", "--index", str(path), "--program", "nope"])
    assert r.exit_code == 2 and f"error: not in index {path}: nope" in r.output
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["counts"]["programs"] == 6 and manifest["updates"][-1]["removed"] == [a, b]


def test_text_rebuild_keeps_the_vectors_and_models(tiny_index, tmp_path):
    from assoc.index_build import VISUAL_DIR
    from assoc.text.signal import TANTIVY_DIR

    path = tmp_path / "idx"
    shutil.copytree(tiny_index, path)
    before = json.loads((path / "manifest.json").read_text())
    vectors = {f.name: f.read_bytes() for f in (path / VISUAL_DIR).iterdir() if f.is_file()}
    segments = {f.name for f in (path / TANTIVY_DIR).iterdir()}
    r = CliRunner().invoke(app, ["index", "text", "--index", str(path)])
    assert r.exit_code == 0 and f"text of {path} rebuilt (tantivy, semantic" in r.output, r.output
    after = json.loads((path / "manifest.json").read_text())
    assert {f.name: f.read_bytes() for f in (path / VISUAL_DIR).iterdir() if f.is_file()} == vectors
    assert after["signals"] == before["signals"] and after.get("category") == before.get("category")
    assert {f.name for f in (path / TANTIVY_DIR).iterdir()} != segments  # a new tantivy index was written
    index = open_index(path)  # verifies every file's checksum
    program = next(iter(index.programs.values()))
    top = Lookup(index, signals=["text"]).lookup_video(None, "c", title=f"《{program.title}》").candidates[0]
    assert top.program_id == program.program_id


def test_text_rebuild_of_an_index_without_text_is_refused(tmp_path, tiny_universe, taxonomy):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    catalog.programs = catalog.programs[:1]
    build_index(catalog, tmp_path / "vis", create_encoder("test_efficientnet", dim=32, image_size=64, seed=0),
                BuildSettings(keyframe_fps=1.0, short_side=72, signals=("visual",)))
    r = CliRunner().invoke(app, ["index", "text", "--index", str(tmp_path / "vis")])
    assert r.exit_code == 2 and "was built without the text signal" in r.output, r.output


def test_check_names_the_episodes_whose_video_changed_or_went_missing_since_indexing(tiny_universe, taxonomy,
                                                                                    tmp_path):
    """video stamps: recorded at build, compared by `assoc index check`; a catalog of the changed programs re-adds
    them (`assoc index add`), after which they check clean; removing a program drops its stamps."""
    import os

    from assoc import video_stamps
    from assoc.index_update import _manifest_body
    from indexes.manifest import read_manifest, write_manifest

    universe = tmp_path / "universe"  # a copy whose videos this test may change
    lines = (tiny_universe / "catalog.jsonl").read_text().splitlines()[:3]
    programs = [json.loads(line) for line in lines]
    for p in programs:
        for e in p["episodes"]:
            (universe / e["video"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tiny_universe / e["video"], universe / e["video"])
    (universe / "catalog.jsonl").write_text("\n".join(lines) + "\n")
    catalog = load_catalog(universe / "catalog.jsonl", taxonomy)
    path = tmp_path / "idx"
    build_index(catalog, path, create_encoder("test_efficientnet", dim=32, image_size=64, seed=0),
                BuildSettings(signals=("visual",), keyframe_fps=1.0, short_side=72))
    episodes = [(p["program_id"], e["episode_id"], universe / e["video"]) for p in programs for e in p["episodes"]]
    report = video_stamps.check(path)
    assert report.summary() == {"episodes": len(episodes), "unchanged": len(episodes), "changed": 0, "missing": 0,
                                "unrecorded": 0, "stale_programs": []}
    runner = CliRunner()
    r = runner.invoke(app, ["index", "check", "--index", str(path)])
    assert r.exit_code == 0 and f"{len(episodes)} episodes: {len(episodes)} unchanged, 0 changed" in r.output, r.output

    # one video re-encoded (other bytes), one gone
    (pid_a, eid_a, video_a), (pid_b, eid_b, video_b) = episodes[0], next(e for e in episodes if e[0] != episodes[0][0])
    video_a.write_bytes(video_a.read_bytes() + b"\0" * 16)
    hidden = video_b.with_suffix(".hidden")
    video_b.rename(hidden)
    report = video_stamps.check(path)
    assert [c["episode_id"] for c in report.changed] == [eid_a] and report.stale_programs == [pid_a]
    assert report.changed[0]["now"]["size"] == report.changed[0]["indexed"]["size"] + 16
    assert [m["episode_id"] for m in report.missing] == [eid_b]
    assert report.unchanged == len(episodes) - 2
    stale = tmp_path / "elsewhere" / "stale.jsonl"
    r = runner.invoke(app, ["index", "check", "--index", str(path), "--write-catalog", str(stale)])
    assert r.exit_code == 1, r.output
    assert f"changed: {eid_a} ({video_a})" in r.output and f"missing: {eid_b} ({video_b}): cannot be read" in r.output
    assert f"programs to add again: {pid_a}" in r.output and f"programs with a missing video: {pid_b}" in r.output
    # the catalog written elsewhere points at the same videos, and re-adding from it makes the program check clean
    written = load_catalog(stale, taxonomy)
    assert [p.program_id for p in written.programs] == [pid_a] and not written.errors
    original = catalog.by_id()[pid_a].episodes
    assert [written.video_path(e.video) for e in written.programs[0].episodes] == [
        catalog.video_path(e.video) for e in original] and catalog.video_path(original[0].video) == video_a.resolve()
    r = runner.invoke(app, ["index", "add", "--index", str(path), "--catalog", str(stale)])
    assert r.exit_code == 0, r.output
    hidden.rename(video_b)
    assert video_stamps.check(path).summary()["unchanged"] == len(episodes)
    # a removed program's stamps go with it
    remove_programs(path, [pid_b])
    stamps = video_stamps.read(path / "visual")
    assert stamps and all(s["program_id"] != pid_b for s in stamps.values())
    assert {s["program_id"] for s in stamps.values()} == {p["program_id"] for p in programs} - {pid_b}
    # an index built before stamps: every episode unrecorded, said so, exit 0
    (path / "visual" / video_stamps.FILE).unlink()
    manifest = read_manifest(path, verify=False)
    write_manifest(path, _manifest_body(manifest))
    r = runner.invoke(app, ["index", "check", "--index", str(path)])
    assert r.exit_code == 0 and "built before video stamps were recorded" in r.output, r.output
    os.utime(video_a, ns=(0, 0))  # unrecorded stays unrecorded, whatever the video
    assert video_stamps.check(path).summary()["unrecorded"] == len(episodes) - len(
        [e for e in episodes if e[0] == pid_b])
