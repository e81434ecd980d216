"""Visual candidates: per-frame neighbours voted per program, with the episode and time range."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexes.keyframes import KeyframeTable


@dataclass
class VisualCandidate:
    program_id: str
    score: float  # mean over clip frames of the best similarity to this program (0 where none)
    votes: int  # clip frames with this program among their neighbours
    frames: int
    similarity: float  # mean best similarity over the voting frames
    episode_id: str | None
    start: float | None
    end: float | None


def vote(D: np.ndarray, I: np.ndarray, table: KeyframeTable, query_times: np.ndarray,  # noqa: E741
         clip_duration: float, top_k: int) -> list[VisualCandidate]:
    """Rank programs from a clip's neighbour lists (D, I: n_frames x k from a vector index)."""
    n_frames, k = I.shape
    valid = I >= 0
    frame = np.repeat(np.arange(n_frames), k)[valid.ravel()]
    ids = I[valid]
    sims = D[valid].astype(np.float64)
    prog = table.program_idx[ids]
    # keep each frame's best neighbour per program
    order = np.lexsort((-sims, prog, frame))
    frame, ids, sims, prog = frame[order], ids[order], sims[order], prog[order]
    first = np.ones(len(frame), bool)
    first[1:] = (frame[1:] != frame[:-1]) | (prog[1:] != prog[:-1])
    frame, ids, sims, prog = frame[first], ids[first], sims[first], prog[first]
    if len(prog) == 0:
        return []
    programs = np.unique(prog)
    totals = np.array([sims[prog == p].sum() for p in programs])
    ranked = programs[np.argsort(-totals, kind="stable")][:top_k]
    out = []
    for p in ranked:
        m = prog == p
        ep, start, end = _localise(ids[m], sims[m], query_times[frame[m]], table, clip_duration)
        out.append(VisualCandidate(
            program_id=table.programs[int(p)], score=float(sims[m].sum() / n_frames), votes=int(m.sum()),
            frames=n_frames, similarity=float(sims[m].mean()), episode_id=ep, start=start, end=end))
    return out


def _localise(ids, sims, q_times, table: KeyframeTable, clip_duration: float):
    """The best-supported episode and the clip's [start, end] in it, from matched keyframe times."""
    eps = table.episode_idx[ids]
    best_ep = max(np.unique(eps), key=lambda e: sims[eps == e].sum())
    m = eps == best_ep
    offsets = table.t[ids[m]] - q_times[m]
    start = max(0.0, float(np.median(offsets)))
    return table.episodes[int(best_ep)], round(start, 2), round(start + clip_duration, 2)
