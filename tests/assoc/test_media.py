"""Decoding real files with decord and PyAV, and the errors that name file and reason."""

import numpy as np
import pytest

from assoc.errors import MediaError
from assoc.media import extract_audio, sample_frames, sample_times
from assoc.videoio import write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("media") / "v.mp4"
    frames = [np.full((72, 128, 3), (i * 20) % 250, np.uint8) for i in range(40)]  # 5 s at 8 fps
    t = np.arange(5 * 16000) / 16000
    write_video(path, frames, 8, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    return path


def test_sample_times_thins_uniformly():
    idx, times = sample_times(n_frames=80, source_fps=8, fps=2, max_frames=32)
    assert len(idx) == 20 and times[1] == pytest.approx(0.5) and idx[1] == 4
    idx, times = sample_times(n_frames=800, source_fps=8, fps=2, max_frames=16)
    assert len(idx) == 16 and times[0] == 0 and idx[-1] <= 799


def test_sample_frames_real_video(video):
    s = sample_frames(video, fps=2, max_frames=32)
    assert s.frames.shape == (10, 72, 128, 3) and s.frames.dtype == np.uint8
    assert s.duration == pytest.approx(5.0) and s.source_fps == pytest.approx(8.0)
    # frame i*4 was painted (i*4*20) % 250: decoded values follow the painted ramp
    assert abs(int(s.frames[1].mean()) - 80) <= 4
    assert len(sample_frames(video, fps=8, max_frames=6).frames) == 6


def test_reduced_size_decoding(tmp_path):
    path = tmp_path / "big.mp4"
    write_video(path, [np.zeros((288, 512, 3), np.uint8)] * 4, 8)
    assert sample_frames(path, short_side=144).frames.shape[1:3] == (144, 256)


@pytest.mark.parametrize("width,height", [(72, 128), (136, 72), (82, 144), (54, 96), (40, 72)])
def test_widths_decord_cannot_copy_natively_still_decode(tmp_path, width, height):
    path = tmp_path / "odd.mp4"
    write_video(path, [np.full((height, width, 3), 200, np.uint8)] * 6, 8)
    s = sample_frames(path, fps=8)
    assert len(s.frames) == 6 and s.frames.shape[1] == height and s.frames.shape[2] % 16 == 0
    assert abs(s.frames.shape[2] - width) <= 16 and abs(int(s.frames.mean()) - 200) <= 3


def test_audio_extraction(video):
    a = extract_audio(video, sample_rate=16000)
    assert a.status == "ok" and a.usable
    assert abs(len(a.samples) - 5 * 16000) < 2048
    spectrum = np.abs(np.fft.rfft(a.samples[:16000]))
    assert abs(np.argmax(spectrum) - 440) <= 2


def test_no_audio_and_silent_are_explicit(tmp_path):
    mute = tmp_path / "noaudio.mp4"
    write_video(mute, [np.zeros((72, 128, 3), np.uint8)] * 8, 8)
    assert extract_audio(mute).status == "no audio"
    silent = tmp_path / "silent.mp4"
    write_video(silent, [np.zeros((72, 128, 3), np.uint8)] * 8, 8, np.zeros(16000, np.float32))
    a = extract_audio(silent)
    assert a.status == "silent" and not a.usable


@pytest.mark.parametrize("make,reason", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b""), "zero-length file"),
    (lambda p: p.write_bytes(b"this is not a video at all" * 100), "cannot decode video"),
])
def test_bad_files_name_file_and_reason(tmp_path, make, reason):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(MediaError) as e:
        sample_frames(path)
    assert str(path) in str(e.value) and reason in str(e.value)


def test_truncated_file(tmp_path, video):
    path = tmp_path / "truncated.mp4"
    path.write_bytes(video.read_bytes()[: video.stat().st_size // 2])
    with pytest.raises(MediaError) as e:
        sample_frames(path)
    assert str(path) in str(e.value) and "cannot decode video" in e.value.reason
    with pytest.raises(MediaError):
        extract_audio(tmp_path / "missing.mp4")
