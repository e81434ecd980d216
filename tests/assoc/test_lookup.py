"""A real end-to-end visual lookup on the tiny universe: decode, embed, FAISS search, vote."""

import shutil

import numpy as np
import pytest

from assoc.catalog import load_catalog, load_queries
from assoc.encoders import create_encoder
from assoc.errors import IndexMismatchError, InputError
from assoc.index_build import prune_near_duplicates
from assoc.index_reader import check_encoder, open_index
from assoc.lookup import Lookup, LookupSettings
from assoc.media import sample_frames
from assoc.videoio import write_video


@pytest.fixture(scope="module")
def verbatim_clip(tiny_universe, taxonomy, tmp_path_factory):
    """A clip cut from an episode with no edit at all: the visual path must find it."""
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    program = catalog.programs[3]
    episode = program.episodes[0]
    s = sample_frames(catalog.video_path(episode.video), fps=8, max_frames=10_000)
    start = 4.0
    frames = s.frames[int(start * 8) : int(start * 8) + 40]  # 5 s from t = 4 s
    path = tmp_path_factory.mktemp("clips") / "verbatim.mp4"
    write_video(path, list(frames), 8)
    return path, program.program_id, episode.episode_id, start


def test_verbatim_clip_is_found_and_localised(tiny_index, verbatim_clip):
    path, program_id, episode_id, start = verbatim_clip
    result = Lookup(open_index(tiny_index), LookupSettings(short_side=72), signals=["visual"]).lookup_video(path, "c1")
    top = result.candidates[0]
    assert top.program_id == program_id and top.episode_id == episode_id
    assert abs(top.start - start) <= 1.0
    assert top.evidence.visual.votes == top.evidence.visual.frames == 10
    assert result.clip_id == "c1" and set(result.timings_ms) >= {"decode", "embed", "vector"}
    assert top.title and 0 < result.confidence <= 1.0


def test_batch_lookup_reports_failures_and_goes_on(tiny_index, tiny_universe, tmp_path):
    clips, _ = load_queries(tiny_universe / "clips" / "test.jsonl")
    queries = tiny_universe / "clips" / "test.jsonl"
    broken = clips[0].model_copy(update={"clip_id": "broken", "video": str(tmp_path / "missing.mp4")})
    results, failures = Lookup(open_index(tiny_index)).lookup_clips(queries, [broken] + clips[:3])
    assert len(results) == 4 and len(failures) == 1
    assert "broken" in failures[0] and "file not found" in failures[0]
    assert results[0].error and all(r.error is None and r.candidates for r in results[1:])


def test_unavailable_signal_is_an_error(tiny_index):
    index = open_index(tiny_index)
    with pytest.raises(InputError, match="signal 'category' is not available"):
        Lookup(index, signals=["category"])
    with pytest.raises(InputError, match="unknown signal 'smell'"):
        Lookup(index, signals=["smell"])


def test_index_refuses_another_encoder(tiny_index, tmp_path):
    index = open_index(tiny_index)
    with pytest.raises(IndexMismatchError, match="refusing encoder"):
        check_encoder(index, create_encoder("test_efficientnet", dim=32, image_size=64, seed=99))
    swapped = tmp_path / "swapped"
    shutil.copytree(tiny_index, swapped)
    other = create_encoder("test_efficientnet", dim=32, image_size=64, seed=99)
    shutil.rmtree(swapped / "encoder")
    other.save(swapped / "encoder")
    with pytest.raises(IndexMismatchError, match="do not match the manifest"):
        open_index(swapped)


def test_tampered_index_is_refused(tiny_index, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_index, copy)
    with open(copy / "visual" / "keyframes.npz", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(IndexMismatchError, match="changed: visual/keyframes.npz"):
        open_index(copy)


def test_index_manifest_counts(tiny_index):
    m = open_index(tiny_index).manifest
    assert m["counts"]["programs"] == 8 and m["counts"]["episodes"] == 8
    assert m["counts"]["keyframes"] > 0 and m["encoder"]["calibrated"] is True
    assert m["dimensions"] == {"visual": 32, "color_histogram": 512, "luma_thumbnail": 256, "relative_histogram": 768}


def test_prune_near_duplicates():
    v = np.array([[1, 0], [1, 0], [0.99, 0.141], [0, 1], [0, 1]], np.float32)
    assert list(prune_near_duplicates(v, 0.97)) == [0, 3]
    assert list(prune_near_duplicates(v, 0.999)) == [0, 2, 3]


def test_trained_encoder_index_carries_untrained_baseline(tiny_universe, taxonomy, tmp_path):
    from assoc.index_build import BuildSettings, build_index
    from eval.runner import evaluate

    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    catalog.programs = catalog.programs[:4]
    trained = create_encoder("test_efficientnet", dim=16, image_size=48, seed=5, trained=True)
    ablation = create_encoder("test_efficientnet", dim=8, image_size=48, seed=6, trained=True)
    ablation.save(tmp_path / "ablation")
    build_index(catalog, tmp_path / "idx", trained,
                BuildSettings(short_side=72, compare_encoders={"moco_standard": str(tmp_path / "ablation")}))
    index = open_index(tmp_path / "idx")
    assert set(index.baselines) == {"color_histogram", "luma_thumbnail", "relative_histogram", "untrained_encoder",
                                   "moco_standard"}
    assert index.baselines["moco_standard"].encoder.checksum == ablation.checksum
    assert index.baselines["moco_standard"].vectors.ntotal == index.visual.vectors.ntotal  # the same keyframes
    untrained = index.baselines["untrained_encoder"].encoder
    assert untrained.checksum != index.visual.encoder.checksum and untrained.calibrated and not untrained.trained
    report = evaluate(tmp_path / "idx", tiny_universe / "clips" / "test.jsonl", tmp_path / "report")
    assert set(report["runs"]) == {"visual", "color_histogram", "luma_thumbnail", "relative_histogram", "untrained_encoder",
                                   "moco_standard", "text", "fused"}
    assert report["runs"]["moco_standard"]["by_edit"].keys() == report["runs"]["visual"]["by_edit"].keys()
    assert not report["notes"]
    # --no-baselines drops the reference baselines, not the ablation runs the index was built to compare
    assert set(index.comparisons) == {"moco_standard"}
    lean = evaluate(tmp_path / "idx", tiny_universe / "clips" / "test.jsonl", tmp_path / "report-lean", baselines=False)
    assert set(lean["runs"]) == {"visual", "moco_standard", "text", "fused"}
    for k in ("recall@1", "recall@10", "mrr"):
        assert lean["runs"]["moco_standard"]["overall"][k] == report["runs"]["moco_standard"]["overall"][k]


def test_comparison_encoder_cannot_take_a_reference_baselines_name(tiny_universe, taxonomy, tmp_path):
    from assoc.index_build import BuildSettings, build_index

    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    create_encoder("test_efficientnet", dim=8, image_size=48, seed=6, trained=True).save(tmp_path / "ablation")
    settings = BuildSettings(short_side=72, thumbnail_baseline=False,  # the name is free in this index, still refused
                             compare_encoders={"luma_thumbnail": str(tmp_path / "ablation")})
    with pytest.raises(InputError, match="luma_thumbnail"):
        build_index(catalog, tmp_path / "idx", create_encoder("luma_thumbnail"), settings)
    assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize("codec,refine", [("Flat", 0), ("PQ4x4fs", 8)])
def test_ivf_index_is_trained_from_the_keyframes(tiny_universe, taxonomy, tmp_path, verbatim_clip, codec, refine):
    from assoc.index_build import BuildSettings, build_index
    from assoc.index_update import remove_programs

    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    settings = BuildSettings(signals=("visual",), keyframe_fps=2.0, short_side=72, vector_backend="ivf",
                             vector_params={"nlist": 4, "codec": codec, "nprobe": 4, "refine": refine})
    build_index(catalog, tmp_path / "ivf", create_encoder("test_efficientnet", dim=32, image_size=64, seed=0), settings)
    index = open_index(tmp_path / "ivf")
    assert index.visual.vectors.name == "ivf" and index.manifest["backends"]["vector"]["name"] == "ivf"
    path, program_id, _, _ = verbatim_clip
    top = Lookup(index, LookupSettings(short_side=72)).lookup_video(path).candidates[0]
    assert top.program_id == program_id
    assert ("raw_vectors.npy" in {f.name for f in (tmp_path / "ivf" / "visual").iterdir()}) == bool(refine)
    other = next(p.program_id for p in catalog.programs if p.program_id != program_id)
    remove_programs(tmp_path / "ivf", [other])  # the refined index is rewritten, its files verified on open
    again = Lookup(open_index(tmp_path / "ivf"), LookupSettings(short_side=72)).lookup_video(path)
    assert again.candidates[0].program_id == program_id and other not in {c.program_id for c in again.candidates}


def test_time_range_comes_from_the_visual_signal_that_aligned_most_frames():
    from types import SimpleNamespace

    from assoc.lookup import build_result
    from assoc.visual import VisualCandidate

    def cand(episode, start, coverage):
        return VisualCandidate(program_id="p1", score=0.5, votes=8, frames=16, similarity=0.9, episode_id=episode,
                               start=start, end=None if start is None else start + 10, coverage=coverage,
                               consistency=1.0)

    index = SimpleNamespace(programs={})
    main, aux_good, aux_none = cand("p1e01", 40.0, 0.25), cand("p1e02", 12.0, 0.9), cand(None, None, 1.0)
    r = build_result("c", index, 0.5, {}, 5, [main], None, [], ranked=[("p1", 0.9)],
                     aux={"luma_thumbnail": [aux_good], "color_histogram": [aux_none]})
    assert (r.candidates[0].episode_id, r.candidates[0].start) == ("p1e02", 12.0)
    r = build_result("c", index, 0.5, {}, 5, [cand("p1e01", 40.0, 0.95)], None, [], ranked=[("p1", 0.9)],
                     aux={"luma_thumbnail": [aux_good]})
    assert (r.candidates[0].episode_id, r.candidates[0].start) == ("p1e01", 40.0)
    r = build_result("c", index, 0.5, {}, 5, None, None, [], ranked=[("p1", 0.9)])
    assert r.candidates[0].episode_id is None and r.candidates[0].start is None  # text only: no time range


def test_a_text_only_candidate_takes_its_episode_and_times_from_the_search_of_its_own_keyframes(tiny_index):
    from assoc.lookup import build_result
    from assoc.text.signal import TextCandidate
    from assoc.visual import VisualCandidate

    index = open_index(tiny_index)
    named, seen = sorted(index.programs)[:2]
    text = [TextCandidate(named, 0.9), TextCandidate(seen, 0.5)]
    visual = [VisualCandidate(seen, 0.8, 8, 8, 0.9, f"{seen}-e", 1.0, 5.0, coverage=1.0)]
    searched = {named: [VisualCandidate(named, 0.4, 8, 8, 0.7, f"{named}-e", 12.0, 16.0, coverage=0.75)]}
    ranked = [(named, 0.9), (seen, 0.6)]
    with_search = build_result("c", index, 0.5, {}, 5, visual, text, [], ranked=ranked, searched=searched)
    first = with_search.candidates[0]
    assert first.program_id == named and (first.episode_id, first.start, first.end) == (f"{named}-e", 12.0, 16.0)
    assert with_search.candidates[1].episode_id == f"{seen}-e"  # a visual list's alignment is its own
    without = build_result("c", index, 0.5, {}, 5, visual, text, [], ranked=ranked)
    assert without.candidates[0].episode_id is None and without.candidates[0].start is None


def test_a_verifications_evidence_says_which_picture_confirmed_it():
    from assoc.lookup import _verification_evidence
    from assoc.verify import Verification

    v = Verification("e1", 0.80, 0.91234, 0.95, 8, 0.6, True, 0.123, detail=None, channel="value")
    shown = _verification_evidence(v).model_dump()
    assert shown == {"episode_id": "e1", "fit": 0.9123, "frames": 8, "scale": 0.6, "flipped": True, "offset": 0.12,
                     "detail": None, "channel": "value"}
    assert _verification_evidence(Verification("e1", 0.8, 0.8, 0.9, 4, 1.0, False, 0.0)).channel == "luma"
    assert _verification_evidence(None) is None
