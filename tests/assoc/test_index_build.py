"""assoc index build in worker processes: the same index as one process builds, failures reported by episode."""

import json
import shutil

import numpy as np
import pytest

from assoc.catalog import load_catalog
from assoc.errors import InputError
from assoc.index_build import BuildSettings, build_index
from assoc.index_reader import open_index
from assoc.index_update import add_programs
from tests.conftest import tiny_encoder

SETTINGS = dict(keyframe_fps=2.0, short_side=72)  # the tiny_index fixture's


def _same_index(a, b, counts: bool = True) -> None:
    """Two index directories hold the same keyframes (table) and, id for id, the same vectors in every run."""
    x, y = open_index(a), open_index(b)
    if counts:
        assert x.manifest["counts"] == y.manifest["counts"]
    assert x.manifest["encoder"]["checksum"] == y.manifest["encoder"]["checksum"]
    assert x.table.programs == y.table.programs and x.table.episodes == y.table.episodes
    np.testing.assert_array_equal(x.table.program_idx, y.table.program_idx)
    np.testing.assert_array_equal(x.table.episode_idx, y.table.episode_idx)
    np.testing.assert_array_equal(x.table.t, y.table.t)
    assert sorted(x.baselines) == sorted(y.baselines) and len(x.baselines) > 0
    ids = np.arange(len(x.table), dtype=np.int64)
    for vx, vy in [(x.visual, y.visual)] + [(x.baselines[n], y.baselines[n]) for n in x.baselines]:
        found_x, ex = vx.vectors.vectors(ids)
        found_y, ey = vy.vectors.vectors(ids)
        np.testing.assert_array_equal(found_x, ids)
        np.testing.assert_array_equal(found_y, ids)
        # workers run torch single-threaded, which sums in another order: equal within float noise
        np.testing.assert_allclose(ex, ey, atol=1e-5)


def test_two_workers_build_the_index_one_process_builds(tiny_universe, tiny_index, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    report = build_index(catalog, tmp_path / "idx", tiny_encoder(), BuildSettings(**SETTINGS), workers=2)
    assert report.episodes == sum(len(p.episodes) for p in catalog.programs) and not report.failures
    _same_index(tiny_index, tmp_path / "idx")


def test_workers_report_an_episode_that_does_not_decode_and_index_the_rest(tiny_universe, taxonomy, tmp_path):
    shutil.copytree(tiny_universe / "videos", tmp_path / "videos")
    lines = (tiny_universe / "catalog.jsonl").read_text(encoding="utf-8").splitlines()[:3]
    (tmp_path / "catalog.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    catalog = load_catalog(tmp_path / "catalog.jsonl", taxonomy)
    broken = catalog.programs[1].episodes[0]
    catalog.video_path(broken.video).write_bytes(b"not a video at all" * 100)
    episodes = sum(len(p.episodes) for p in catalog.programs)

    progress = []
    report = build_index(catalog, tmp_path / "two", tiny_encoder(), BuildSettings(**SETTINGS), workers=2,
                         progress=lambda n, total, what: progress.append((n, total, what)))
    assert [f["episode_id"] for f in report.failures] == [broken.episode_id]
    assert str(catalog.video_path(broken.video)) == report.failures[0]["video"] and report.failures[0]["reason"]
    assert report.episodes == episodes - 1
    assert [p[0] for p in progress] == list(range(1, episodes + 1))  # every episode, in the catalog's order
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert [f["episode_id"] for f in manifest["failures"]] == [broken.episode_id]
    assert broken.episode_id not in open_index(tmp_path / "two").table.episodes

    one = build_index(catalog, tmp_path / "one", tiny_encoder(), BuildSettings(**SETTINGS))
    assert one.failures == report.failures
    _same_index(tmp_path / "one", tmp_path / "two")


def test_programs_added_by_two_workers_are_those_one_process_adds(tiny_universe, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    first = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    first.programs = catalog.programs[:4]
    build_index(first, tmp_path / "one", tiny_encoder(), BuildSettings(**SETTINGS))
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    rest = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    rest.programs = catalog.programs[4:]
    one = add_programs(tmp_path / "one", rest)
    two = add_programs(tmp_path / "two", rest, workers=2)
    assert not two.failures and two.added == [p.program_id for p in rest.programs]
    assert two.keyframes_added == one.keyframes_added > 0
    _same_index(tmp_path / "one", tmp_path / "two")


def test_workers_must_be_positive(tiny_universe, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    with pytest.raises(InputError, match="workers"):
        build_index(catalog, tmp_path / "idx", tiny_encoder(), BuildSettings(**SETTINGS), workers=0)
    assert not (tmp_path / "idx").exists()
