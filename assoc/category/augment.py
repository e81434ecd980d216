"""Clip-like edits of an episode segment for category training.

Uploaders re-grade colours, change the playback speed and the loudness of what they cut; none of that
changes a program's category, but each moves the features the model reads (the frames' colour
statistics, the log-mel rows). Training segments are cut from untouched episodes, so without these
edits the model meets them first at lookup time. The edits here work on what a segment is made of
(its frames and its audio samples), the way the edit itself would.
"""

from __future__ import annotations

import cv2
import numpy as np

from assoc.category.features import COLOUR_SIZE
from assoc.media import AudioTrack

HUE_SHIFT = 0.1  # at most a tenth of the colour wheel either way
SCALE = (0.6, 1.4)  # saturation, value and contrast factors
GAIN = (0.25, 2.0)  # loudness factor, log-uniform


def colour_jitter(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One colour re-grade for a whole segment (RGB uint8 frames, returned at `COLOUR_SIZE`): hue rotated,
    saturation, brightness and contrast scaled, as a colour edit of a clip does."""
    if len(frames) == 0:
        return frames
    small = np.stack([cv2.resize(np.ascontiguousarray(f), COLOUR_SIZE, interpolation=cv2.INTER_AREA) for f in frames])
    hsv = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2HSV_FULL) for f in small]).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-HUE_SHIFT, HUE_SHIFT) * 256) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(*SCALE), 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * rng.uniform(*SCALE), 0, 255)
    rgb = np.stack([cv2.cvtColor(f, cv2.COLOR_HSV2RGB_FULL) for f in hsv.astype(np.uint8)]).astype(np.float32)
    mean = rgb.mean()
    return np.clip((rgb - mean) * rng.uniform(*SCALE) + mean, 0, 255).astype(np.uint8)


def speed_audio(track: AudioTrack, start: float, span: float, speed: float) -> AudioTrack:
    """The audio of [start, start + span) played `speed` times as fast (span / speed seconds long; pitch and
    tempo both move, as in a sped-up clip). A track without usable audio is returned as it is."""
    if not track.usable or speed <= 0:
        return track
    rate = track.sample_rate
    src = start * rate + np.arange(int(span / speed * rate)) * speed
    src = src[src < len(track.samples) - 1]
    samples = np.interp(src, np.arange(len(track.samples)), track.samples).astype(np.float32)
    return AudioTrack(track.path, samples, rate, track.status)


def gain_audio(track: AudioTrack, rng: np.random.Generator) -> AudioTrack:
    """The track louder or quieter (log-uniform factor in `GAIN`, clipped to [-1, 1])."""
    if not track.usable:
        return track
    g = float(np.exp(rng.uniform(*np.log(GAIN))))
    return AudioTrack(track.path, np.clip(track.samples * g, -1.0, 1.0).astype(np.float32), track.sample_rate,
                      track.status)
