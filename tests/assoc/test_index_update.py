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
