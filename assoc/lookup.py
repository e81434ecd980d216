"""Looking clips up in an index: decode once, search, vote, and write results per the contract."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from assoc.catalog import clip_video_path
from assoc.errors import InputError, MediaError
from assoc.index_reader import OpenIndex, VisualIndex
from assoc.media import SampledFrames, sample_frames
from assoc.schema import Candidate, Clip, Evidence, Result, VisualEvidence
from assoc.visual import VisualCandidate, vote

KNOWN_SIGNALS = ("visual", "text", "category")


@dataclass
class LookupSettings:
    fps: float = 2.0
    max_frames: int = 16
    short_side: int = 144
    neighbours: int = 10
    top_k: int = 10
    threshold: float | None = None  # None: the index's open-set threshold


def resolve_signals(index: OpenIndex, requested: Iterable[str] | None) -> list[str]:
    """The signals to run: all the index has by default; an unknown or absent one is an error."""
    available = index.signals
    if requested is None:
        return available
    out = []
    for s in requested:
        if s not in KNOWN_SIGNALS:
            raise InputError(f"unknown signal '{s}'; known signals: {', '.join(KNOWN_SIGNALS)}")
        if s not in available:
            raise InputError(f"signal '{s}' is not available in index {index.path} (it has: {', '.join(available)})")
        out.append(s)
    return out


def decode_clip(path: str | Path, settings: LookupSettings) -> SampledFrames:
    return sample_frames(path, fps=settings.fps, max_frames=settings.max_frames, short_side=settings.short_side)


def visual_candidates(vindex: VisualIndex, index: OpenIndex, sampled: SampledFrames,
                      settings: LookupSettings, timings: dict | None = None) -> list[VisualCandidate]:
    t0 = time.perf_counter()
    xq = vindex.encoder.embed(sampled.frames)
    t1 = time.perf_counter()
    D, I = vindex.vectors.search(xq, settings.neighbours)  # noqa: E741
    cands = vote(D, I, index.table, sampled.times, sampled.duration, settings.top_k)
    if timings is not None:
        timings["embed"] = round((t1 - t0) * 1000, 2)
        timings["vector"] = round((time.perf_counter() - t1) * 1000, 2)
    return cands


def to_result(clip_id: str, cands: list[VisualCandidate], index: OpenIndex, threshold: float,
              timings: dict) -> Result:
    candidates = [
        Candidate(program_id=c.program_id, title=index.programs[c.program_id].title if c.program_id in index.programs else "",
                  score=round(c.score, 4), episode_id=c.episode_id, start=c.start, end=c.end,
                  evidence=Evidence(visual=VisualEvidence(votes=c.votes, frames=c.frames, similarity=round(c.similarity, 4))))
        for c in cands
    ]
    confidence = candidates[0].score if candidates else 0.0
    match = candidates[0].program_id if candidates and confidence >= threshold else None
    return Result(clip_id=clip_id, match=match, confidence=confidence, candidates=candidates, timings_ms=timings)


class Lookup:
    """Looks clips up in one open index (visual signal; text and category join in later issues)."""

    def __init__(self, index: OpenIndex, settings: LookupSettings | None = None, signals: Iterable[str] | None = None):
        self.index = index
        self.settings = settings or LookupSettings()
        self.signals = resolve_signals(index, signals)
        self.threshold = self.settings.threshold if self.settings.threshold is not None else index.open_set_threshold

    def lookup_frames(self, clip_id: str, sampled: SampledFrames, vindex: VisualIndex | None = None,
                      timings: dict | None = None) -> Result:
        timings = dict(timings or {})
        cands = visual_candidates(vindex or self.index.visual, self.index, sampled, self.settings, timings) \
            if "visual" in self.signals else []
        return to_result(clip_id, cands, self.index, self.threshold, timings)

    def lookup_video(self, path: str | Path, clip_id: str | None = None) -> Result:
        t0 = time.perf_counter()
        sampled = decode_clip(path, self.settings)
        timings = {"decode": round((time.perf_counter() - t0) * 1000, 2)}
        return self.lookup_frames(clip_id or Path(path).stem, sampled, timings=timings)

    def lookup_clips(self, queries_path: str | Path, clips: list[Clip],
                     progress: Callable[[int, int], None] | None = None) -> tuple[list[Result], list[str]]:
        """Look up every clip; a clip that fails gets a result with `error` set and the batch goes on."""
        results, failures = [], []
        for n, clip in enumerate(clips, 1):
            try:
                results.append(self.lookup_video(clip_video_path(queries_path, clip), clip.clip_id))
            except MediaError as e:
                failures.append(f"{clip.clip_id}: {e}")
                results.append(Result(clip_id=clip.clip_id, error=str(e)))
            if progress:
                progress(n, len(clips))
        return results, failures


def rank_lists(results: list[Result]) -> list[list[str]]:
    return [[c.program_id for c in r.candidates] for r in results]


def confidences(results: list[Result]) -> np.ndarray:
    return np.array([r.confidence for r in results], np.float64)
