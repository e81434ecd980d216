"""Training frames: sampled from the catalog's episodes (no labels), kept in memory at a small size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from assoc.catalog import Catalog
from assoc.errors import MediaError
from assoc.media import sample_frames


@dataclass
class FrameSet:
    frames: np.ndarray  # N x H x W x 3 uint8
    episode: np.ndarray  # N, episode index (for temporal positives and queue de-duplication)
    t: np.ndarray  # N, seconds
    neighbour: np.ndarray  # N, index of a nearby frame of the same shot, or -1
    shot: np.ndarray  # N, a shot id (frames linked to their next one share it)
    failures: list[str]
    program: np.ndarray  # N, program index (catalog structure, for the negatives mask)

    def __len__(self) -> int:
        return len(self.frames)


def load_frames(catalog: Catalog, fps: float = 1.0, size: tuple[int, int] = (192, 108), max_per_episode: int = 600,
                shot_threshold: float = 18.0, progress: Callable[[int, int, str], None] | None = None) -> FrameSet:
    """Decode every episode at `fps`, resize to `size` (W, H); link each frame to its next one when
    the mean absolute pixel difference says they are from the same shot (a temporal positive)."""
    frames, episode, times, failures, program = [], [], [], [], []
    episodes = [e for p in catalog.programs for e in p.episodes]
    owner = [k for k, p in enumerate(catalog.programs) for _ in p.episodes]
    for i, ep in enumerate(episodes):
        if progress:
            progress(i + 1, len(episodes), ep.episode_id)
        try:
            s = sample_frames(catalog.video_path(ep.video), fps=fps, max_frames=max_per_episode)
        except MediaError as e:
            failures.append(str(e))
            continue
        frames += [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in s.frames]
        episode += [i] * len(s.frames)
        program += [owner[i]] * len(s.frames)
        times += list(s.times)
    arr = np.stack(frames) if frames else np.zeros((0, size[1], size[0], 3), np.uint8)
    ep_arr = np.array(episode, np.int64)
    neighbour = np.full(len(arr), -1, np.int64)
    if len(arr) > 1:
        same_ep = ep_arr[1:] == ep_arr[:-1]
        diff = np.empty(len(arr) - 1, np.float32)
        for a in range(0, len(arr) - 1, 1024):  # in chunks: int16 copies of every frame would need 4x the memory
            b = min(len(arr) - 1, a + 1024)
            diff[a:b] = np.abs(arr[a + 1 : b + 1].astype(np.int16) - arr[a:b].astype(np.int16)).mean(axis=(1, 2, 3))
        linked = np.flatnonzero(same_ep & (diff < shot_threshold))
        neighbour[linked] = linked + 1
    shot = np.cumsum(np.r_[0, neighbour[:-1] < 0]) if len(arr) else np.zeros(0, np.int64)
    return FrameSet(arr, ep_arr, np.array(times, np.float32), neighbour, shot.astype(np.int64), failures,
                    np.array(program, np.int64))
