"""Clip-like edits of training segments: each edit moves the features the way the edit does, and segments are
cut the same with or without them."""

import json
import shutil

import numpy as np

from assoc.catalog import load_catalog, load_queries
from assoc.category.augment import colour_jitter, gain_audio, speed_audio
from assoc.category.data import SegmentSettings, episode_segments, query_examples
from assoc.category.features import COLOUR_SIZE, TextTokens, frame_colour
from assoc.media import AudioTrack
from assoc.text.semantic import SemanticModel
from tests.conftest import tiny_encoder


def _tone(freq: float, seconds: float, rate: int = 16000, amp: float = 0.3) -> AudioTrack:
    t = np.arange(int(seconds * rate)) / rate
    return AudioTrack("tone.wav", (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, "ok")


def _peak_hz(samples: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spec.argmax()])


def test_speed_moves_pitch_and_length_like_a_sped_up_clip():
    track = _tone(440.0, 10.0)
    fast = speed_audio(track, start=2.0, span=6.0, speed=1.5)
    assert abs(len(fast.samples) / fast.sample_rate - 4.0) < 0.01  # 6 s of episode played in 4 s
    assert abs(_peak_hz(fast.samples, fast.sample_rate) - 660.0) < 2.0
    slow = speed_audio(track, start=0.0, span=3.0, speed=0.75)
    assert abs(len(slow.samples) / slow.sample_rate - 4.0) < 0.01
    assert abs(_peak_hz(slow.samples, slow.sample_rate) - 330.0) < 2.0
    silent = AudioTrack("m.wav", np.zeros(0, np.float32), 16000, "silent")
    assert speed_audio(silent, 0.0, 3.0, 1.5) is silent


def test_gain_scales_loudness_within_range_and_leaves_missing_audio_alone():
    track = _tone(440.0, 1.0, amp=0.2)
    rms = lambda x: float(np.sqrt(np.mean(x ** 2)))  # noqa: E731
    factors = [rms(gain_audio(track, np.random.default_rng(i)).samples) / rms(track.samples) for i in range(20)]
    assert min(factors) >= 0.25 - 1e-3 and max(factors) <= 2.0 + 1e-3 and max(factors) / min(factors) > 2
    loud = AudioTrack("x.wav", np.full(100, 0.9, np.float32), 16000, "ok")
    assert np.abs(gain_audio(loud, np.random.default_rng(3)).samples).max() <= 1.0
    none = AudioTrack("n.mp4", np.zeros(0, np.float32), 16000, "no audio")
    assert gain_audio(none, np.random.default_rng(0)) is none


def test_colour_jitter_regrades_a_whole_segment_one_way():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (5, 144, 256, 3)).astype(np.uint8)
    frames[:, :, :128] = (200, 40, 40)  # half of every frame a saturated red
    out = colour_jitter(frames, np.random.default_rng(1))
    assert out.shape == (5, COLOUR_SIZE[1], COLOUR_SIZE[0], 3) and out.dtype == np.uint8
    before, after = frame_colour(frames), frame_colour(out)
    assert np.abs(before - after).max() > 0.05  # the colour statistics moved
    shift = after - before
    assert np.allclose(shift, shift[0], atol=0.05)  # the same re-grade on every frame of the segment
    assert np.array_equal(out, colour_jitter(frames, np.random.default_rng(1)))
    assert colour_jitter(frames[:0], rng).shape[0] == 0


def test_segments_are_cut_the_same_with_or_without_edits(tiny_universe, taxonomy):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    encoder, tokens = tiny_encoder(), TextTokens(SemanticModel(None))
    plain = episode_segments(catalog, encoder, tokens, SegmentSettings(per_episode=3, seed=5, augment=0.0))
    again = episode_segments(catalog, encoder, tokens, SegmentSettings(per_episode=3, seed=5, augment=0.0))
    edited = episode_segments(catalog, encoder, tokens, SegmentSettings(per_episode=3, seed=5, augment=1.0))
    assert len(plain) == len(edited) == 3 * sum(len(p.episodes) for p in catalog.programs)
    assert plain.paths == edited.paths and plain.groups == edited.groups
    assert all(np.array_equal(a.colour, b.colour) and np.array_equal(a.audio, b.audio)
               for a, b in zip(plain.features, again.features))
    # every edited segment is re-graded; about half are sped up or louder/quieter, so their audio rows differ
    assert all(not np.array_equal(a.colour, b.colour) for a, b in zip(plain.features, edited.features))
    changed = sum(not np.array_equal(a.audio, b.audio) for a, b in zip(plain.features, edited.features))
    assert 0 < changed < len(plain)
    assert all(np.array_equal(a.text, b.text) for a, b in zip(plain.features, edited.features))


def _same_examples(a, b) -> None:
    assert a.paths == b.paths and a.groups == b.groups and a.failures == b.failures
    for x, y in zip(a.features, b.features, strict=True):
        # frame vectors: torch sums in another order on a worker's single thread (float noise); the rest is exact
        np.testing.assert_allclose(x.frames, y.frames, atol=1e-5)
        assert np.array_equal(x.audio, y.audio) and np.array_equal(x.text, y.text)
        assert np.array_equal(x.colour, y.colour)


def test_two_workers_featurise_the_segments_and_clips_one_process_does(tiny_universe, taxonomy, tmp_path):
    catalog = load_catalog(tiny_universe / "catalog.jsonl", taxonomy)
    encoder, tokens = tiny_encoder(), TextTokens(SemanticModel(None))
    settings = SegmentSettings(per_episode=2, seed=3, augment=1.0)  # every edit drawn: the workers draw them the same
    one = episode_segments(catalog, encoder, tokens, settings)
    progress = []
    two = episode_segments(catalog, encoder, tokens, settings, workers=2, progress=lambda n, total: progress.append(n))
    assert len(one) == 2 * sum(len(p.episodes) for p in catalog.programs)
    _same_examples(one, two)
    assert progress == list(range(1, sum(len(p.episodes) for p in catalog.programs) + 1))

    # labelled clips, one of them a file that does not decode: reported by clip id, the rest featurised
    queries = tiny_universe / "clips" / "val.jsonl"
    clips, _ = load_queries(queries)
    broken = next(c for c in clips if c.category)
    lines = []
    for line in queries.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["clip_id"] == broken.clip_id:
            record["video"] = str(tmp_path / "broken.mp4")
        lines.append(json.dumps(record, ensure_ascii=False))
    (tmp_path / "broken.mp4").write_bytes(b"not a video" * 100)
    (tmp_path / "val.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copytree(tiny_universe / "clips" / "val", tmp_path / "clips" / "val")  # videos: clips/val/ beside the list
    clips, _ = load_queries(tmp_path / "val.jsonl")
    one = query_examples(tmp_path / "val.jsonl", clips, encoder, tokens)
    two = query_examples(tmp_path / "val.jsonl", clips, encoder, tokens, workers=2)
    assert len(one.failures) == 1 and one.failures[0].startswith(f"{broken.clip_id}: ")
    assert len(one) == sum(1 for c in clips if c.category) - 1 > 0
    _same_examples(one, two)
