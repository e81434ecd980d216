"""Episode sound: the program's theme (scale, tempo and timbre from its category) plus scene sounds."""

from __future__ import annotations

import numpy as np

from eval.synth.look import VisualSpec
from eval.synth.render import EpisodeScript

SAMPLE_RATE = 16000


def _tone(freqs: np.ndarray, dur: float, timbre, sr: int) -> np.ndarray:
    t = np.arange(int(dur * sr)) / sr
    env = np.minimum(1.0, t * 40) * np.exp(-3.0 * t)
    out = np.zeros_like(t)
    for k, w in enumerate(timbre, start=1):
        if w:
            out += w * np.sin(2 * np.pi * freqs * k * t)
    return out * env


def theme(spec: VisualSpec, seconds: float, sr: int = SAMPLE_RATE, seed: int | None = None) -> np.ndarray:
    """The program's melody looped for `seconds` (a different seed gives other music)."""
    rng = np.random.default_rng(spec.theme_seed if seed is None else seed)
    look = spec.look
    root = 220.0 * 2 ** (rng.integers(0, 12) / 12)
    notes = [root * 2 ** (look.scale[int(i)] / 12 + int(o)) for i, o in zip(rng.integers(0, len(look.scale), 8), rng.integers(0, 2, 8))]
    beat = 1.0 / look.tempo
    phrase = np.concatenate([_tone(np.array(f), beat, look.timbre, sr) for f in notes])
    reps = int(np.ceil(seconds * sr / len(phrase)))
    return np.tile(phrase, reps)[: int(seconds * sr)]


def _speech(rng: np.random.Generator, n: int, sr: int, pitch: float) -> np.ndarray:
    t = np.arange(n) / sr
    syllables = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6)))
    voice = np.sin(2 * np.pi * pitch * t) + 0.5 * np.sin(2 * np.pi * 2.7 * pitch * t)
    return 0.25 * voice * syllables


def episode_audio(spec: VisualSpec, script: EpisodeScript, seed: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 audio for a whole episode: theme at the open and close, music bed, scene sounds."""
    rng = np.random.default_rng(seed)
    n = int(script.duration * sr)
    bed = theme(spec, script.duration, sr)
    gain = np.full(n, 0.12, np.float32)
    gain[: 4 * sr] = 0.5
    gain[max(0, n - 3 * sr) :] = 0.5
    audio = bed * gain
    mode = spec.look.mode
    for shot in script.shots:
        a, b = int(shot.t0 * sr), min(n, int(shot.t1 * sr))
        if b <= a:
            continue
        m = b - a
        if mode == "sports":
            crowd = np.convolve(rng.normal(0, 0.08, m), np.ones(8) / 8, mode="same")
            audio[a:b] += crowd
        elif mode == "documentary":
            audio[a:b] += _speech(rng, m, sr, 110 + 20 * rng.random()) * 0.6
            audio[a:b] += np.convolve(rng.normal(0, 0.02, m), np.ones(32) / 32, mode="same")
        elif shot.chars:
            pitch = 140 + 40 * (shot.chars[0] % 4)
            audio[a:b] += _speech(rng, m, sr, pitch)
    return np.clip(audio, -1, 1).astype(np.float32)
