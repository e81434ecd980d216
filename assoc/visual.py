"""Visual candidates: per-frame neighbours, voted per (program, episode) under one time alignment.

A clip frame at clip time q that truly comes from an episode at source time t satisfies
t = speed * q + offset for one speed (0.5-2x: sped-up and slowed clips) and one offset. Voting
keeps only matches that agree on such a line (a Hough vote over a grid of speeds and offset bins),
so a program whose frames merely look alike, at scattered times, loses most of its score. A
keyframe stands for the stretch until the next kept keyframe of its episode (static shots are
pruned at index time), from half an interval before it, so a match is consistent when the
predicted time falls in that stretch (give or take `tolerance`).

A clip spliced from two places of one episode (or two episodes of one program) gets a second
segment: the frames left unexplained by the best line are aligned again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from indexes.keyframes import KeyframeTable
from indexes.vector import BruteForceIndex

SPEEDS = np.exp(np.linspace(np.log(0.5), np.log(2.0), 31))  # includes 1.0 (the middle value)


@dataclass
class Segment:
    episode_id: str
    start: float  # source seconds in the episode
    end: float
    clip_start: float  # clip seconds the segment covers
    clip_end: float
    speed: float
    frames: int


@dataclass
class VisualCandidate:
    program_id: str
    score: float  # mean over clip frames of the best temporally consistent similarity (0 where none)
    votes: int  # clip frames with this program among their neighbours
    frames: int
    similarity: float  # mean best similarity over the voting frames
    episode_id: str | None
    start: float | None
    end: float | None
    raw_score: float = 0.0  # the same mean without the temporal constraint
    consistency: float = 0.0  # share of voting frames explained by the alignment
    coverage: float = 0.0  # share of clip frames explained by the alignment
    max_similarity: float = 0.0
    speed: float | None = None
    segments: list[Segment] = field(default_factory=list)


@dataclass
class AlignSettings:
    tolerance: float = 1.0  # seconds either side of a keyframe's stretch
    keyframe_interval: float = 1.0  # the stretch of an episode's last keyframe
    max_stretch: float = 12.0  # a pruned keyframe stands for at most this many seconds
    shortlist: int = 30  # programs aligned (by unaligned score)
    min_splice_frames: int = 2
    min_splice_share: float = 0.2


def keyframe_ends(table: KeyframeTable, interval: float, max_stretch: float) -> np.ndarray:
    """Per keyframe, the source time its stretch ends: half an interval past it, or up to half an
    interval before the next kept keyframe of its episode when static frames were pruned (capped)."""
    t = table.t.astype(np.float64)
    end = t + interval / 2
    if len(t) > 1:
        same = (table.episode_idx[1:] == table.episode_idx[:-1]) & (t[1:] > t[:-1])
        end[:-1] = np.where(same, np.maximum(end[:-1], t[1:] - interval / 2), end[:-1])
    return np.minimum(end, t + max_stretch)


def vote(D: np.ndarray, I: np.ndarray, table: KeyframeTable, query_times: np.ndarray,  # noqa: E741
         clip_duration: float, top_k: int, settings: AlignSettings | None = None,
         ends: np.ndarray | None = None) -> list[VisualCandidate]:
    """Rank programs from a clip's neighbour lists (D, I: n_frames x k from a vector index)."""
    settings = settings or AlignSettings()
    n_frames, k = I.shape
    valid = (I >= 0) & np.isfinite(D)
    frame = np.repeat(np.arange(n_frames), k)[valid.ravel()]
    ids = I[valid].astype(np.int64)
    sims = np.maximum(D[valid].astype(np.float64), 0.0)
    if len(ids) == 0:
        return []
    if ends is None:
        ends = keyframe_ends(table, settings.keyframe_interval, settings.max_stretch)
    prog = table.program_idx[ids]
    # unaligned: each frame's best neighbour per program
    best = _group_max(frame * (len(table.programs) + 1) + prog, sims)
    bp = best[0] % (len(table.programs) + 1)
    raw = np.bincount(bp, weights=best[1], minlength=len(table.programs))
    votes = np.bincount(bp, minlength=len(table.programs))
    shortlist = np.flatnonzero(votes)[np.argsort(-raw[np.flatnonzero(votes)], kind="stable")][: settings.shortlist]
    q = np.asarray(query_times, np.float64)
    out = []
    for p in shortlist:
        m = prog == p
        segs, explained = _align(frame[m], ids[m], sims[m], q, table, ends, settings)
        aligned = sum(s for s, _ in explained)
        n_expl = sum(len(f) for _, f in explained)
        mine = bp == p
        cand = VisualCandidate(
            program_id=table.programs[int(p)], score=float(aligned / n_frames), votes=int(votes[p]),
            frames=n_frames, similarity=float(best[1][mine].mean()), episode_id=None, start=None, end=None,
            raw_score=float(raw[p] / n_frames), consistency=float(n_expl / max(1, votes[p])),
            coverage=float(n_expl / n_frames), max_similarity=float(best[1][mine].max()), segments=segs)
        if segs:
            main = segs[0]
            cand.episode_id, cand.speed = main.episode_id, round(main.speed, 3)
            cand.start = round(max(0.0, main.start - main.speed * main.clip_start), 2)
            cand.end = round(cand.start + main.speed * clip_duration, 2)
        out.append(cand)
    out.sort(key=lambda c: (-c.score, -c.raw_score))
    return out[:top_k]


def program_neighbours(vectors, table: KeyframeTable, xq: np.ndarray, program_id: str,
                       k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Each clip frame's `k` nearest keyframes among one program's only (D, I as a vector index's search gives
    them), or None when the index holds none of its vectors. A program that the whole-catalog search ranks low
    (a heavily edited clip, whose frames' nearest keyframes belong to other programs) still gets an alignment."""
    ids, xb = vectors.vectors(table.program_rows(program_id))
    if not len(ids):
        return None
    exact = BruteForceIndex(vectors.dim)  # a program's keyframes are few: searched exactly
    exact.add(ids, xb)
    return exact.search(xq, k)


def _best_per_key(keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Indices of each key's largest value, in key order."""
    order = np.lexsort((-values, keys))
    k = keys[order]
    first = np.ones(len(k), bool)
    first[1:] = k[1:] != k[:-1]
    return order[first]


def _group_max(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unique keys and the largest value of each."""
    best = _best_per_key(keys, values)
    return keys[best], values[best]


def _align(frame, ids, sims, q, table: KeyframeTable, ends, settings: AlignSettings):
    """The best line (episode, speed, offset), then one more for the frames it leaves (a splice)."""
    segments, explained = [], []
    remaining = np.ones(len(frame), bool)
    n_clip = len(q)
    for attempt in range(2):
        if not remaining.any():
            break
        seg = _best_line(frame[remaining], ids[remaining], sims[remaining], q, table, ends, settings)
        if seg is None:
            break
        segment, inlier_frames, total = seg
        if attempt == 1 and len(inlier_frames) < max(settings.min_splice_frames, settings.min_splice_share * n_clip):
            break
        segments.append(segment)
        explained.append((total, inlier_frames))
        remaining &= ~np.isin(frame, inlier_frames)
    segments_sorted = sorted(zip(segments, explained), key=lambda se: -se[1][0])
    return [s for s, _ in segments_sorted], [e for _, e in segments_sorted]


def _best_line(frame, ids, sims, q, table: KeyframeTable, ends, settings: AlignSettings):
    tol = settings.tolerance
    qf = q[frame]
    t0 = table.t[ids].astype(np.float64) - settings.keyframe_interval / 2  # a keyframe's stretch
    t1 = ends[ids]
    ep = table.episode_idx[ids].astype(np.int64)
    n_s = len(SPEEDS)
    # offsets each match allows, per speed: [t0 - s q - tol, t1 - s q + tol], binned at `tol`
    lo = (t0[None, :] - SPEEDS[:, None] * qf[None, :] - tol) / tol
    hi = (t1[None, :] - SPEEDS[:, None] * qf[None, :] + tol) / tol
    b_lo, b_hi = np.floor(lo).astype(np.int64), np.floor(hi).astype(np.int64)
    width = b_hi - b_lo + 1
    reps = width.ravel()
    s_rep = np.repeat(np.repeat(np.arange(n_s), len(frame)), reps)
    m_rep = np.repeat(np.tile(np.arange(len(frame)), n_s), reps)
    step = np.arange(len(s_rep)) - np.repeat(np.cumsum(reps) - reps, reps)
    bins = np.repeat(b_lo.ravel(), reps) + step
    shift = int(bins.min())
    bins -= shift
    n_bins = int(bins.max()) + 1
    line = (ep[m_rep] * n_s + s_rep) * n_bins + bins  # one (episode, speed, offset bin)
    n_f = int(frame.max()) + 1
    keys, best = _group_max(line * n_f + frame[m_rep], sims[m_rep])  # a frame counts once per line
    lines = keys // n_f
    uniq, inv = np.unique(lines, return_inverse=True)
    totals = np.bincount(inv, weights=best)
    speed_of = (uniq // n_bins) % n_s
    j = int(np.argmax(totals - np.abs(np.log(SPEEDS[speed_of])) * 1e-6))  # among equals, nearest normal speed
    if totals[j] <= 0:
        return None
    chosen = int(uniq[j])
    si, e, b = (chosen // n_bins) % n_s, chosen // n_bins // n_s, chosen % n_bins
    s = float(SPEEDS[si])
    in_line = keys[lines == chosen] % n_f
    # the offset: the middle of what every inlier match allows, else the middle of the bin
    sel = np.flatnonzero((ep == e) & (b_lo[si] <= b + shift) & (b_hi[si] >= b + shift))
    sel = sel[_best_per_key(frame[sel], sims[sel])]  # each frame's most similar match on the line
    lo_m, hi_m = t0[sel] - s * qf[sel] - tol, t1[sel] - s * qf[sel] + tol
    a, z = lo_m.max(), hi_m.min()
    offset = float((a + z) / 2) if a <= z else (b + shift + 0.5) * tol
    qs, ts = qf[sel], table.t[ids[sel]].astype(np.float64)
    if len(sel) >= 3 and np.ptp(qs) >= 2.0:  # enough of the clip to fit the speed more finely than the grid
        s = float(np.clip(np.polyfit(qs, ts, 1)[0], SPEEDS[0], SPEEDS[-1]))
        offset = float(np.median(ts - s * qs))
    cs, ce = float(q[in_line].min()), float(q[in_line].max())
    seg = Segment(episode_id=table.episodes[e], start=round(offset + s * cs, 2), end=round(offset + s * ce, 2),
                  clip_start=cs, clip_end=ce, speed=s, frames=len(in_line))
    return seg, in_line, float(totals[j])
