"""Decoding: frame sampling with decord and audio extraction with PyAV.

Every failure is a MediaError naming the file and the reason, so a batch can report it and go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from assoc.errors import MediaError

SILENCE_RMS = 1e-4


@dataclass
class SampledFrames:
    path: str
    frames: np.ndarray  # N x H x W x 3, uint8 RGB
    times: np.ndarray  # N, seconds from the start of the video
    source_fps: float
    duration: float


@dataclass
class AudioTrack:
    path: str
    samples: np.ndarray  # float32 mono in [-1, 1]; empty when there is no audio
    sample_rate: int
    status: str  # "ok", "no audio" (no audio stream) or "silent"

    @property
    def usable(self) -> bool:
        return self.status == "ok"


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(str(path), "file not found")
    if not path.is_file():
        raise MediaError(str(path), "not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(str(path), "zero-length file")


def sample_times(n_frames: int, source_fps: float, fps: float, max_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices and times sampled at `fps`, thinned uniformly to at most `max_frames`."""
    duration = n_frames / source_fps
    times = np.arange(0.0, duration, 1.0 / fps)
    if len(times) == 0:
        times = np.zeros(1)
    if len(times) > max_frames:
        times = times[np.linspace(0, len(times) - 1, max_frames).round().astype(int)]
    idx = np.minimum(n_frames - 1, np.round(times * source_fps).astype(np.int64))
    return idx, times


def frame_size(path: Path) -> tuple[int, int]:
    """The video's (width, height) from its container (no decoding); MediaError if unreadable."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(str(path), "no video stream")
            stream = container.streams.video[0]
            w, h = int(stream.codec_context.width), int(stream.codec_context.height)
    except MediaError:
        raise
    except Exception as e:
        raise MediaError(str(path), f"cannot decode video: {str(e).splitlines()[0][:200]}") from e
    if not w or not h:
        raise MediaError(str(path), "video stream has no frame size")
    return w, h


def decode_size(path: Path, short_side: int | None) -> tuple[int, int]:
    """The (width, height) to decode at: scaled down to about `short_side`, width a multiple of 16.

    decord copies frames out with a 16-pixel row alignment and fails on other widths (72 px, say),
    so we always ask it for an aligned width (16 and 48 also fail, measured on decord 0.6); the
    aspect ratio changes by a few percent for usual sizes.
    """
    w, h = frame_size(path)
    scale = short_side / min(w, h) if short_side and min(w, h) > short_side * 1.25 else 1.0
    width = max(16, int(round(w * scale / 16)) * 16)
    return {16: 32, 48: 64}.get(width, width), max(2, int(round(h * scale / 2)) * 2)


def probe_duration(path: str | Path) -> float:
    """The video's duration in seconds from its container (no decoding); MediaError if unreadable."""
    path = Path(path)
    _check_file(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(str(path), "no video stream")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
            frames, rate = stream.frames, float(stream.average_rate or 0)
            return frames / rate if frames and rate else 0.0
    except MediaError:
        raise
    except Exception as e:
        raise MediaError(str(path), f"cannot decode video: {str(e).splitlines()[0][:200]}") from e


def sample_frames(path: str | Path, fps: float = 2.0, max_frames: int = 32, short_side: int | None = None,
                  num_threads: int = 1) -> SampledFrames:
    """Decode frames at `fps` (at most `max_frames`), optionally scaled so the short side is `short_side`."""
    import decord  # imported here: decord's import is slow and the CLI's --help should not pay it

    path = Path(path)
    _check_file(path)
    try:
        w, h = decode_size(path, short_side)
        vr = decord.VideoReader(str(path), num_threads=num_threads, width=w, height=h)
        n = len(vr)
        if n == 0:
            raise MediaError(str(path), "no video frames")
        source_fps = float(vr.get_avg_fps()) or 25.0
        idx, times = sample_times(n, source_fps, fps, max_frames)
        frames = vr.get_batch(list(idx)).asnumpy()
    except MediaError:
        raise
    except Exception as e:  # decord raises its own DECORDError and RuntimeError subclasses
        raise MediaError(str(path), f"cannot decode video: {str(e).splitlines()[0][:200]}") from e
    return SampledFrames(str(path), frames, times.astype(np.float32), source_fps, n / source_fps)


def extract_audio(path: str | Path, sample_rate: int = 16000) -> AudioTrack:
    """The mono audio track resampled to `sample_rate`; status says "no audio" or "silent" explicitly."""
    path = Path(path)
    _check_file(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return AudioTrack(str(path), np.zeros(0, np.float32), sample_rate, "no audio")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            chunks = []
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except Exception as e:
        raise MediaError(str(path), f"cannot decode audio: {str(e).splitlines()[0][:200]}") from e
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(samples) == 0 or float(np.sqrt(np.mean(samples**2))) < SILENCE_RMS:
        return AudioTrack(str(path), samples, sample_rate, "silent")
    return AudioTrack(str(path), samples, sample_rate, "ok")
