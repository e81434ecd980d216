"""Writing H.264 + AAC MP4 files with PyAV (used by the synthetic universe and by tests)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import numpy as np

AUDIO_CHUNK = 4096


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    crf: int = 23,
    preset: str = "veryfast",
) -> None:
    """Write RGB uint8 frames (H x W x 3, even sizes) and optional mono float audio to an MP4.

    The file is written to a temporary sibling and renamed, so a reader never sees half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.mp4")
    try:
        _write(tmp, frames, fps, audio, sample_rate, crf, preset)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write(path, frames, fps, audio, sample_rate, crf, preset) -> None:
    rate = Fraction(fps).limit_denominator(1000)
    with av.open(str(path), "w", format="mp4") as container:
        vstream = None
        astream = None
        if audio is not None:
            astream = container.add_stream("aac", rate=sample_rate, layout="mono")
            astream.bit_rate = 48000
            astream.options = {"aac_coder": "fast"}  # the default two-loop coder costs as much as the video
        for i, img in enumerate(frames):
            if vstream is None:
                h, w = img.shape[:2]
                vstream = container.add_stream("libx264", rate=rate)
                vstream.width, vstream.height = w, h
                vstream.pix_fmt = "yuv420p"
                vstream.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency"}
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            for packet in vstream.encode(frame):
                container.mux(packet)
        if vstream is None:
            raise ValueError(f"{path}: no frames to write")
        for packet in vstream.encode():
            container.mux(packet)
        if astream is not None:
            samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
            for start in range(0, len(samples), AUDIO_CHUNK):
                chunk = samples[start : start + AUDIO_CHUNK]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                af.sample_rate = sample_rate
                af.pts = start
                af.time_base = Fraction(1, sample_rate)
                for packet in astream.encode(af):
                    container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
