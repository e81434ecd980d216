"""Labelled examples for the category model: episode segments from the catalog, and query clips.

Episode segments stand in for clips: a random window of an episode (its frames at the lookup's
sampling, its audio), labelled with the program's category. Their text is what an uploader might
write: the program's title or an alias, or nothing (so the model does not learn that text is always
there). Query clips (the train split) are featurised exactly as a lookup does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from assoc.catalog import Catalog, clip_video_path
from assoc.category.augment import colour_jitter, gain_audio, speed_audio
from assoc.category.features import MAX_ROWS, ClipFeatures, TextTokens, audio_rows, clip_text, frame_colour, subsample
from assoc.errors import MediaError
from assoc.media import AudioTrack, extract_audio, sample_frames
from assoc.schema import Clip


@dataclass
class Examples:
    features: list[ClipFeatures] = field(default_factory=list)
    paths: list[tuple[str, str, str]] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)  # program (segments) or clip id
    failures: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    def extend(self, other: "Examples") -> None:
        self.features += other.features
        self.paths += other.paths
        self.groups += other.groups
        self.failures += other.failures


@dataclass
class SegmentSettings:
    per_episode: int = 4
    seconds: tuple[float, float] = (5.0, 60.0)  # log-uniform, like the clips
    fps: float = 1.0  # frames decoded per second of episode (segments take up to 16 of them)
    short_side: int = 144
    text_p: tuple[float, float] = (0.35, 0.35)  # P(title), P(an alias); the rest: no text
    seed: int = 0
    # clip-like edits (augment.py): P(colour re-grade) per segment; P(speed change), P(loudness change) are half
    # of it each; 0 cuts segments as they are (as before stop 21)
    augment: float = 0.5
    speed: tuple[float, float] = (0.75, 1.5)  # playback speed range of a sped-up segment


def episode_segments(catalog: Catalog, encoder, tokens: TextTokens, settings: SegmentSettings | None = None,
                     progress: Callable[[int, int], None] | None = None) -> Examples:
    """Cut `per_episode` random windows from every episode; a failing episode is reported, the rest go on."""
    s = settings or SegmentSettings()
    rng = np.random.default_rng(s.seed)
    edits = np.random.default_rng([s.seed, 1])  # its own stream: segments are cut the same with or without edits
    out = Examples()
    episodes = [(p, e) for p in catalog.programs for e in p.episodes]
    for n, (program, ep) in enumerate(episodes, 1):
        path = catalog.video_path(ep.video)
        try:
            sampled = sample_frames(path, fps=s.fps, max_frames=100_000, short_side=s.short_side)
            track = extract_audio(path)
        except MediaError as e:
            out.failures.append(f"{ep.episode_id}: {e}")
            continue
        vectors, colour = encoder.embed(sampled.frames), frame_colour(sampled.frames)
        for _ in range(s.per_episode):
            length = min(sampled.duration, float(np.exp(rng.uniform(*np.log(s.seconds)))))
            speed = float(edits.uniform(*s.speed)) if s.augment and edits.random() < s.augment / 2 else 1.0
            span = min(sampled.duration, length * speed)  # the episode time a sped-up segment covers
            start = float(rng.uniform(0, max(0.0, sampled.duration - span)))
            inside = (sampled.times >= start) & (sampled.times < start + span)
            rows = np.flatnonzero(inside) if inside.any() else np.arange(1)
            rows = subsample(rows, MAX_ROWS["frames"])
            audio = track if speed == 1.0 else speed_audio(track, start, span, speed)
            a0, a1 = (start, start + length) if speed == 1.0 else (0.0, None)
            if s.augment and edits.random() < s.augment / 2:
                audio, a0, a1 = gain_audio(_cut(audio, a0, a1), edits), 0.0, None
            regraded = s.augment and edits.random() < s.augment
            u = rng.random()
            if u < s.text_p[0]:
                text = program.title
            elif u < sum(s.text_p) and program.aliases:
                text = program.aliases[int(rng.integers(len(program.aliases)))]
            else:
                text = ""
            out.features.append(ClipFeatures(vectors[rows], audio_rows(audio, a0, a1), tokens(text),
                                             frame_colour(colour_jitter(sampled.frames[rows], edits)) if regraded
                                             else colour[rows]))
            out.paths.append(tuple(program.category))
            out.groups.append(program.program_id)
        if progress:
            progress(n, len(episodes))
    return out


def _cut(track: AudioTrack, start: float, end: float | None) -> AudioTrack:
    """[start, end) of a track, as a track of its own."""
    if not track.usable:
        return track
    a, b = int(start * track.sample_rate), None if end is None else int(end * track.sample_rate)
    return AudioTrack(track.path, track.samples[a:b], track.sample_rate, track.status)


def clip_features(frames: np.ndarray, track, title: str, description: str, tokens: TextTokens,
                  encoder=None, vectors: np.ndarray | None = None) -> ClipFeatures:
    """A clip's features from its decoded frames (and their vectors, when the lookup has them)."""
    if vectors is None:
        vectors = encoder.embed(frames) if len(frames) else np.zeros((0, encoder.dim), np.float32)
    if len(frames) != len(vectors):
        raise ValueError(f"{len(frames)} frames but {len(vectors)} frame vectors")
    rows = subsample(np.arange(len(vectors)), MAX_ROWS["frames"])
    return ClipFeatures(np.asarray(vectors, np.float32)[rows], audio_rows(track), tokens(clip_text(title, description)),
                        frame_colour(frames[rows]) if len(rows) else None)


def query_examples(queries_path: str | Path, clips: list[Clip], encoder, tokens: TextTokens, fps: float = 2.0,
                   max_frames: int = 16, short_side: int = 144,
                   progress: Callable[[int, int], None] | None = None) -> Examples:
    """Featurise labelled query clips (those with a `category`); failures are reported by clip id."""
    out = Examples()
    labelled = [c for c in clips if c.category]
    for n, clip in enumerate(labelled, 1):
        try:
            path = clip_video_path(queries_path, clip)
            sampled = sample_frames(path, fps=fps, max_frames=max_frames, short_side=short_side)
            track = extract_audio(path)
        except MediaError as e:
            out.failures.append(f"{clip.clip_id}: {e}")
            continue
        out.features.append(clip_features(sampled.frames, track, clip.title, clip.description, tokens, encoder))
        out.paths.append(tuple(clip.category))
        out.groups.append(clip.clip_id)
        if progress:
            progress(n, len(labelled))
    return out
