import json

import numpy as np
import pytest

from indexes.errors import IndexCorruptError
from indexes.keyframes import KeyframeTable
from indexes.manifest import atomic_directory, read_manifest, write_manifest


def test_atomic_directory_replaces_or_leaves_untouched(tmp_path):
    target = tmp_path / "index"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("crash while writing")
    assert (target / "a.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["index"]  # no temporary left behind


def test_manifest_detects_changed_missing_and_extra_files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.bin").write_bytes(b"abc")
    (tmp_path / "y.json").write_text("{}")
    m = write_manifest(tmp_path, {"counts": {"n": 1}})
    assert set(m["files"]) == {"sub/x.bin", "y.json"}
    assert read_manifest(tmp_path)["counts"] == {"n": 1}
    (tmp_path / "sub" / "x.bin").write_bytes(b"abd")
    with pytest.raises(IndexCorruptError, match="changed: sub/x.bin"):
        read_manifest(tmp_path)
    (tmp_path / "sub" / "x.bin").unlink()
    (tmp_path / "z").write_text("")
    with pytest.raises(IndexCorruptError, match=r"missing: sub/x.bin; unexpected: z"):
        read_manifest(tmp_path)
    read_manifest(tmp_path, verify=False)


def test_manifest_version_and_absence(tmp_path):
    with pytest.raises(IndexCorruptError, match="not an index directory"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(IndexCorruptError, match="format version 99"):
        read_manifest(tmp_path)


def test_keyframe_table_round_trip(tmp_path):
    t = KeyframeTable()
    a = t.add_episode("p1", "p1e01", np.array([0.0, 1.0]))
    b = t.add_episode("p2", "p2e01", np.array([0.5]))
    c = t.add_episode("p1", "p1e02", np.array([2.0]))
    assert list(a) == [0, 1] and list(b) == [2] and list(c) == [3]
    t.save(tmp_path)
    again = KeyframeTable.load(tmp_path)
    assert again.programs == ["p1", "p2"] and again.episodes == ["p1e01", "p2e01", "p1e02"]
    assert list(again.program_idx) == [0, 0, 1, 0] and list(again.episode_idx) == [0, 0, 1, 2]
    assert again.add_episode("p2", "p2e02", np.array([1.0]))[0] == 4 and again.programs == ["p1", "p2"]
