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
from assoc.workers import WorkerPool, run_each


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
                     progress: Callable[[int, int], None] | None = None, workers: int = 1,
                     pool: WorkerPool | None = None) -> Examples:
    """Cut `per_episode` random windows from every episode; a failing episode is reported, the rest go on.

    Each episode's windows and edits are drawn from random streams of its own (the seed and the episode's place in
    the catalog), so `workers` > 1 processes, each decoding and embedding its share of the episodes, cut the same
    segments as one process does; `pool`: processes set up by `featurising_pool` with the same encoder and settings.
    The text tokens are computed here (segments share their programs' titles)."""
    s = settings or SegmentSettings()
    episodes = [(p, e) for p in catalog.programs for e in p.episodes]
    args = [(n, program, catalog.video_path(ep.video)) for n, (program, ep) in enumerate(episodes)]
    outcomes = run_each(args, lambda n, program, path: _episode_windows(n, program, path, encoder, s),
                        _worker_segments, workers, _worker_init, (encoder, s), pool)
    out = Examples()
    for n, ((program, ep), outcome) in enumerate(zip(episodes, outcomes), 1):
        if isinstance(outcome, str):
            out.failures.append(f"{ep.episode_id}: {outcome}")
        else:
            for frames, audio, text, colour in outcome:
                out.features.append(ClipFeatures(frames, audio, tokens(text), colour))
                out.paths.append(tuple(program.category))
                out.groups.append(program.program_id)
        if progress:
            progress(n, len(episodes))
    return out


def _episode_windows(n: int, program, path: Path, encoder, s: SegmentSettings) -> list[tuple] | str:
    """The episode's segments as (frame vectors, audio rows, text, colour rows), or why its video failed."""
    rng = np.random.default_rng([s.seed, 0, n])
    edits = np.random.default_rng([s.seed, 1, n])  # its own stream: segments are cut the same with or without edits
    try:
        sampled = sample_frames(path, fps=s.fps, max_frames=100_000, short_side=s.short_side)
        track = extract_audio(path)
    except MediaError as e:
        return str(e)
    vectors, colour = encoder.embed(sampled.frames), frame_colour(sampled.frames)
    windows = []
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
        windows.append((vectors[rows], audio_rows(audio, a0, a1), text,
                        frame_colour(colour_jitter(sampled.frames[rows], edits)) if regraded else colour[rows]))
    return windows


def _cut(track: AudioTrack, start: float, end: float | None) -> AudioTrack:
    """[start, end) of a track, as a track of its own."""
    if not track.usable:
        return track
    a, b = int(start * track.sample_rate), None if end is None else int(end * track.sample_rate)
    return AudioTrack(track.path, track.samples[a:b], track.sample_rate, track.status)


def clip_rows(frames: np.ndarray, track, encoder=None, vectors: np.ndarray | None = None) -> tuple:
    """A clip's frame vectors, audio rows and frames' colour rows (its features but the text's)."""
    if vectors is None:
        vectors = encoder.embed(frames) if len(frames) else np.zeros((0, encoder.dim), np.float32)
    if len(frames) != len(vectors):
        raise ValueError(f"{len(frames)} frames but {len(vectors)} frame vectors")
    rows = subsample(np.arange(len(vectors)), MAX_ROWS["frames"])
    return (np.asarray(vectors, np.float32)[rows], audio_rows(track),
            frame_colour(frames[rows]) if len(rows) else None)


def clip_features(frames: np.ndarray, track, title: str, description: str, tokens: TextTokens,
                  encoder=None, vectors: np.ndarray | None = None) -> ClipFeatures:
    """A clip's features from its decoded frames (and their vectors, when the lookup has them)."""
    frame_rows, audio, colour = clip_rows(frames, track, encoder, vectors)
    return ClipFeatures(frame_rows, audio, tokens(clip_text(title, description)), colour)


def query_examples(queries_path: str | Path, clips: list[Clip], encoder, tokens: TextTokens, fps: float = 2.0,
                   max_frames: int = 16, short_side: int = 144,
                   progress: Callable[[int, int], None] | None = None, workers: int = 1,
                   pool: WorkerPool | None = None) -> Examples:
    """Featurise labelled query clips (those with a `category`); failures are reported by clip id. `workers` > 1
    (or a `featurising_pool` with the same encoder): the clips are decoded and embedded in other processes (the
    same features)."""
    out = Examples()
    labelled = [c for c in clips if c.category]
    args = [(queries_path, clip, fps, max_frames, short_side) for clip in labelled]
    outcomes = run_each(args, lambda *a: _clip_rows_or_failure(*a, encoder), _worker_clip, workers, _worker_init,
                        (encoder, None), pool)
    for n, (clip, outcome) in enumerate(zip(labelled, outcomes), 1):
        if isinstance(outcome, str):
            out.failures.append(f"{clip.clip_id}: {outcome}")
        else:
            frame_rows, audio, colour = outcome
            out.features.append(ClipFeatures(frame_rows, audio, tokens(clip_text(clip.title, clip.description)),
                                             colour))
            out.paths.append(tuple(clip.category))
            out.groups.append(clip.clip_id)
        if progress:
            progress(n, len(labelled))
    return out


def _clip_rows_or_failure(queries_path, clip: Clip, fps: float, max_frames: int, short_side: int,
                          encoder) -> tuple | str:
    try:
        path = clip_video_path(queries_path, clip)
        sampled = sample_frames(path, fps=fps, max_frames=max_frames, short_side=short_side)
        track = extract_audio(path)
    except MediaError as e:
        return str(e)
    return clip_rows(sampled.frames, track, encoder)


def featurising_pool(workers: int, encoder, settings: SegmentSettings | None = None) -> WorkerPool:
    """Worker processes for episode_segments and query_examples, set up once with the encoder and segment settings."""
    return WorkerPool(workers, _worker_init, (encoder, settings or SegmentSettings()))


# the encoder (and segment settings) of one worker process (set up once by _worker_init)
_WORKER: dict = {}


def _worker_init(encoder, settings: SegmentSettings | None) -> None:
    _WORKER.update(encoder=encoder, settings=settings)


def _worker_segments(n: int, program, path: Path):
    return _episode_windows(n, program, path, _WORKER["encoder"], _WORKER["settings"])


def _worker_clip(queries_path, clip: Clip, fps: float, max_frames: int, short_side: int):
    return _clip_rows_or_failure(queries_path, clip, fps, max_frames, short_side, _WORKER["encoder"])
