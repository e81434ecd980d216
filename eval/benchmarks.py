"""Benchmark runners that print figures (never timed tests)."""

from __future__ import annotations

import time
from pathlib import Path

from assoc.catalog import load_catalog
from assoc.media import sample_frames


def decode_throughput(catalog_path: str | Path, fps: float, max_frames: int, short_side: int,
                      limit: int | None = None) -> dict:
    """Frames per second of the sampling path (decord) over a catalog's episode videos."""
    catalog = load_catalog(catalog_path)
    episodes = [catalog.video_path(e.video) for p in catalog.programs for e in p.episodes][:limit]
    frames = 0
    video_seconds = 0.0
    t0 = time.perf_counter()
    for path in episodes:
        s = sample_frames(path, fps=fps, max_frames=max_frames, short_side=short_side)
        frames += len(s.frames)
        video_seconds += s.duration
    wall = time.perf_counter() - t0
    return {"episodes": len(episodes), "sampled_frames": frames, "video_seconds": round(video_seconds, 1),
            "wall_seconds": round(wall, 2), "frames_per_second": round(frames / wall, 1),
            "video_seconds_per_second": round(video_seconds / wall, 1), "fps": fps, "max_frames": max_frames}
