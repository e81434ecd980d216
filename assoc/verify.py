"""Verification of a candidate's alignment against the episode itself: was the clip *cut from* those frames?

Keyframe descriptors (histograms, thumbnails, embeddings) say that a clip frame resembles some keyframe of
a program. A season or a spin-off that shares sets and characters with a catalog program resembles it
too, frame by frame, so those descriptors cannot tell "cut from this episode" from "shot on the same
set". Verification can: it decodes the candidate episode's own frames around the times the alignment
predicts (source time = start + (clip time - clip_start) x speed, give or take `slack` seconds) and
asks whether one fixed geometric transform (a crop or zoom at some position, optionally mirrored: the
edits a clip gets) maps every clip frame onto its episode frame. A clip cut from the episode fits at
one transform for all its frames; a clip from a sibling program fits only here and there, at a
different transform each time.

Pixels are compared as luminance by normalised cross-correlation (cv2.matchTemplate, TM_CCOEFF_NORMED:
each window's mean and scale removed), so brightness and contrast edits cancel. A colour filter (a hue
rotation, a saturation change) is no gain and offset of luminance: it brightens some colours and darkens
others. It leaves HSV's value (the brightest of R, G, B) as it was, though, so a program whose alignment
luminance does not confirm can be verified again on value (VerifySettings.channels, opt-in: on the bench it
rescued colour-edited clips but did not move the open-set precision, for 1.5x the lookup time). Value alone is
the weaker picture (every saturated colour is as bright as white), which is why luminance comes first. The clip frame is first
put in its canonical view (borders trimmed, the band of a vertical reframe) and stretched to the
episode's aspect (which undoes a letterbox's or pillarbox's squeeze). The episode is read from the
catalog the index was built from, so verification needs the catalog's videos where the lookup runs, unless the index
stores the episodes' frames (assoc/episode_frames.py: the same pixels, decoded once at index time).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from assoc.encoders.canonical import canonical_view, is_portrait, trim_black_borders
from assoc.errors import InputError, MediaError
from assoc.media import frame_size

WIDTH = 64  # episode frames are compared at this width (16:9 -> 36 high)
DETAIL_WIDTH = 128  # the width of the detail check, for a re-ranker that reads it (VerifySettings.detail_width)
PROGRAM_SEARCH = 20  # keyframes per clip frame of a program searched alone (VerifySettings.program_search), when on
SCAN_ORDERS = ("reversed", "lists")  # VerifySettings.scan_order
SCAN_PROGRAMS = 3  # programs scanned per clip (VerifySettings.scan) by a re-ranker trained with the scan
SCAN_PROGRAMS_DEEP = 7  # ... and by one trained with a deeper scan (`assoc train reranker --scan-depth 2`)
SCAN_SPEEDS = (0.5, 2.0)
CHANNELS = ("luma", "value")  # what verification compares: luminance, HSV value (max of R, G, B)


@dataclass
class VerifySettings:
    candidates: int = 3  # programs verified per clip: those the visual signals rank best (+ the text's best)
    frames: int = 8  # clip frames verified per candidate (evenly over its aligned segment)
    slack: float = 2.0  # seconds either side of the predicted source time searched
    step: float = 0.25  # seconds between the source times tried
    # clip width / episode width: 1 down to 0.6 (a crop keeps 0.6-0.85 of the picture) in steps that leave a crop's
    # scale at most 0.025 off, and the third of the width that a vertical reframe filling its frame keeps
    scales: tuple[float, ...] = (1.0, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.4, 0.32)
    width: int = WIDTH
    alignments: int = 4  # distinct alignments verified per program (its signals' segments, most coverage first)
    # an alignment whose speed lies outside this range (the aligner's bound on a near-static segment) is also
    # tried at speed 1 through the segment's middle; None: not tried
    speed_range: tuple[float, float] | None = (0.7, 1.6)
    # a program's remaining alignments are skipped once one fits at least this well (trimmed fit, at a scale of
    # at least `confirm_scale`); None: all are verified
    enough: float | None = 0.85
    confirm_scale: float = 0.55
    # scales below this are tried for a portrait clip only (a vertical reframe that fills its frame keeps about a
    # third of the source's width; nothing zooms a landscape clip that far); None: every scale for every clip.
    # On a landscape clip those small scales found only chance fits, of sibling programs as often as the true one
    landscape_min_scale: float | None = 0.55
    # clip frames' borders are trimmed where this percentile of a row's or column's luminance is black (a logo or
    # subtitle laid over a letterbox or pillarbox bar kept the bar when its mean decided); None: the mean
    border_quantile: float | None = 80.0
    # a portrait clip is also compared as its whole (border-trimmed) frame, at its own 9:16 aspect, at these
    # fractions of the episode's height: a vertical reframe that fills its frame shows a full-height strip about a
    # third of the source's width (times a crop's zoom). Its landscape band alone (what the clip templates keep)
    # is a 20 x 11 pixel window at 64 px, which chance matches in most episodes. Band scales below
    # `landscape_min_scale` are then not tried for a portrait clip either; None: the band only, every scale
    portrait_heights: tuple[float, ...] | None = (1.0, 0.9, 0.8, 0.7)
    # a portrait clip is compared with its episodes at this width instead of `width`; None: `width`
    portrait_width: int | None = None
    # the fit found is checked again at this episode width on the pictures' detail (each image less its Gaussian
    # blur of `detail_sigma` pixels), at the same transform and source times: a chance fit is two pictures of
    # the same coarse layout (a horizon at one height), which their detail does not share; None: not checked
    # (a re-ranker trained with verify_detail saves DETAIL_WIDTH)
    detail_width: int | None = None
    detail_sigma: float = 2.0
    # the text's best program, when the visual signals did not rank it among the verified, is searched among its
    # own keyframes (this many nearest per clip frame, per visual encoder) for alignments to verify: a heavily
    # edited clip's frames find other programs' keyframes first, so no visual list may align the program its title
    # names, and a misleading title's program is then checked rather than left unverified; None: only the
    # alignments the visual lists found are verified (the default: on the bench it moved neither no-match precision
    # nor recall@1 beyond noise, docs/fusion.md; `assoc train reranker --program-search` saves PROGRAM_SEARCH)
    program_search: int | None = None
    # programs whose episodes are scanned end to end for the clip's alignment (scan_episode) when none of their
    # alignments fitted at `enough`: the text's best, then the best of each visual list, at most this many. A clip
    # with a colour edit and a crop finds other programs' keyframes first, so no visual list aligns the program it
    # was cut from and nothing verifies it; scanning finds where in the episode it fits. None: no scan (re-rankers
    # trained before stop 23; `assoc train reranker` saves SCAN_PROGRAMS)
    scan: int | None = None
    scan_width: int = 32  # the scan compares episode frames at this width ...
    scan_step: float = 0.5  # ... every this many seconds
    scan_frames: int = 6  # clip frames scanned, evenly over the clip
    scan_speeds: int = 25  # speeds tried, geometrically from 0.5 to 2 (the aligner's range)
    scan_hypotheses: int = 2  # the scan's best distinct alignments of a program then verified as any other
    # the order the visual lists' bests are taken in after the text's: "reversed", the auxiliary encoders last
    # listed first (relative histogram, luma thumbnail, colour histogram, then the main encoder: the colour edit
    # that hides a clip's program from the others leaves the relative histogram's list finding it most often);
    # "lists", the lists' own order (re-rankers trained at stop 23)
    scan_order: str = "reversed"
    # how deep the scan reads the text's list and the first visual list in `scan_order` (the relative histogram's):
    # their best this many each, then every other visual list's best. A colour-edited, reframed clip's program is
    # often second there, behind a lookalike; 2 (`assoc train reranker --scan-depth 2`) scans about twice as many
    # programs, so it is opt-in until the bench shows what it buys (docs/fusion.md)
    scan_text: int = 1
    scan_lead: int = 1
    # the pictures compared, in order (CHANNELS): a program's alignments are verified on the next channel when none
    # fitted at `enough` on those before (its best over all is kept). Value undoes a colour filter that luminance
    # does not (the module's docstring); ("luma",): luminance only, the default (("luma", "value") is opt-in: no
    # measured gain on the bench for 1.5x the lookup time, docs/fusion.md). The scan reads its episodes on the first
    # channel only; the alignments it finds are verified on each
    channels: tuple[str, ...] = ("luma",)
    # a program's scan hypotheses stop at the first that confirms, as its other alignments do (False: every hypothesis
    # verified, as re-rankers trained before stop 27 did)
    scan_stops: bool = True

    def __post_init__(self):
        self.scales = tuple(self.scales)
        if self.portrait_heights is not None:
            self.portrait_heights = tuple(self.portrait_heights)
        if self.speed_range is not None:
            self.speed_range = tuple(self.speed_range)
        if self.scan_order not in SCAN_ORDERS:
            raise InputError(f"unknown scan order '{self.scan_order}'; known: {', '.join(SCAN_ORDERS)}")
        self.channels = tuple(self.channels)
        unknown = [c for c in self.channels if c not in CHANNELS]
        if unknown or not self.channels:
            raise InputError(f"unknown verification channels {unknown or '(none given)'}; known: {', '.join(CHANNELS)}")
        if self.scan_text < 0 or self.scan_lead < 1:
            raise InputError(f"scan_text must be >= 0 and scan_lead >= 1 (got {self.scan_text} and {self.scan_lead})")

    def confirms(self, v: "Verification | None") -> bool:
        """Whether a verification settles its program: a trimmed fit of at least `enough` at a scale of at least
        `confirm_scale` (its other alignments are not verified, nor its episodes scanned); never when `enough` is None."""
        return self.enough is not None and v is not None and v.fit_trimmed >= self.enough and v.scale >= self.confirm_scale

    @classmethod
    def from_config(cls, config: dict | None) -> "VerifySettings":
        """The settings a re-ranker was trained with; LEGACY for one saved before they were recorded. A setting
        added since it was saved takes the value that reproduces what verification did then (ADDED); `scan_stops`
        came after `channels` (stop 27's first re-ranker saved channels and stopped its scans at a confirmation)."""
        if not config:
            return LEGACY
        added = dict(ADDED, scan_stops="channels" in config)
        return cls(**{**added, **config})


# settings added after stop 15, at the values that reproduce what verification did before them (a re-ranker trained
# then saved every other setting)
ADDED = {"landscape_min_scale": None, "border_quantile": None, "portrait_heights": None, "portrait_width": None,
         "detail_width": None, "program_search": None, "scan": None, "scan_order": "lists",
         "scan_text": 1, "scan_lead": 1, "channels": ("luma",), "scan_stops": False}
# what verification did before its settings were saved with the re-ranker (stop 14's re-rankers read these)
LEGACY = VerifySettings(candidates=2, slack=1.5, alignments=2, speed_range=None, enough=None,
                        scales=(1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.32), **ADDED)


@dataclass
class Verification:
    """How well one fixed transform maps the clip onto the episode around the aligned segment."""

    episode_id: str
    fit: float  # mean over verified frames of the NCC at the single best common transform
    fit_trimmed: float  # the same over the best three quarters of the frames (inserted cards, cuts)
    free_fit: float  # mean over frames of each frame's own best NCC (any transform, any offset)
    frames: int
    scale: float
    flipped: bool
    offset: float  # mean correction (seconds) of the predicted source time at the common transform
    # the NCC of the pictures' detail at that transform and those times (VerifySettings.detail_width), over the
    # best three quarters of the frames; None: not checked
    detail: float | None = None
    channel: str = "luma"  # the picture compared (CHANNELS)


def luma(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def value(frame: np.ndarray) -> np.ndarray:
    """HSV's value: the brightest of R, G and B at each pixel (a hue rotation or saturation change keeps it)."""
    return np.ascontiguousarray(np.asarray(frame).max(axis=2))


def gray(frame: np.ndarray, channel: str = "luma") -> np.ndarray:
    """One channel (CHANNELS) of an RGB frame, as uint8."""
    return value(frame) if channel == "value" else luma(frame)


def clip_templates(frames: np.ndarray, width: int = 2 * WIDTH, aspect: float = 9 / 16,
                   border_quantile: float | None = None, channel: str = "luma") -> list[np.ndarray]:
    """Each clip frame's canonical view as luminance, all at the episodes' aspect (height / width): a crop
    keeps the source's aspect, and a letterboxed or pillarboxed copy squeezed the source into a band that
    the canonical view trims to, so stretching back to the source aspect undoes both. `border_quantile`:
    how borders are told (assoc.encoders.canonical.trim_black_borders); `channel`: luminance or value (CHANNELS)."""
    size = (width, max(4, int(round(width * aspect))))
    return [cv2.resize(gray(canonical_view(f, border_quantile), channel), size, interpolation=cv2.INTER_AREA)
            for f in frames]


def portrait_templates(frames: np.ndarray, height: int = 2 * WIDTH * 9 // 16,
                       border_quantile: float | None = None, channel: str = "luma") -> list[np.ndarray]:
    """Each (portrait) clip frame whole, borders trimmed, as luminance `height` high, all at one aspect (the
    frames' median after trimming: a transform is fitted to all of them at once, so they must share a size)."""
    trimmed = [gray(trim_black_borders(f, quantile=border_quantile), channel) for f in frames]
    if not trimmed:
        return []
    width = max(4, int(round(height * float(np.median([g.shape[1] / g.shape[0] for g in trimmed])))))
    return [cv2.resize(g, (width, height), interpolation=cv2.INTER_AREA) for g in trimmed]


def _decode(path: str | Path, width: int, indices: Callable[[int, float], list[int]],
            channel: str = "luma") -> tuple[np.ndarray, float, list[int]]:
    """Luminance (or `channel`) frames of a video, `width` wide, at the frame indices `indices(frame count, fps)`
    chooses (in its order, repeats allowed): (frames, fps, those indices)."""
    import decord

    key = str(path)
    if not Path(key).is_file():
        raise MediaError(key, "episode video not found (verification reads the catalog's videos)")
    w0, h0 = frame_size(Path(key))  # from the container: one reader, already at the small size
    h = max(2, int(round(width * h0 / w0 / 2)) * 2)
    try:
        vr = decord.VideoReader(key, num_threads=1, width=width, height=h)
        n = len(vr)
        if n == 0:
            raise MediaError(key, "no video frames")
        fps = float(vr.get_avg_fps()) or 25.0
        wanted = indices(n, fps)
        distinct = sorted(set(wanted))
        got = vr.get_batch(distinct).asnumpy()
    except MediaError:
        raise
    except Exception as e:  # decord's own errors
        raise MediaError(key, f"cannot decode video for verification: {str(e).splitlines()[0][:200]}") from e
    at = {j: k for k, j in enumerate(distinct)}
    return np.stack([gray(got[at[j]], channel) for j in wanted]), fps, wanted


def read_window(path: str | Path, t0: float, t1: float, width: int = WIDTH,
                channel: str = "luma") -> tuple[np.ndarray, float, int]:
    """Luminance (or `channel`) frames of a video between source seconds t0 and t1, `width` wide: (frames, fps, first
    index)."""

    def span(n: int, fps: float) -> list[int]:
        first, last = _frame_range(t0, t1, fps, 0, n - 1)
        return list(range(first, last + 1))

    frames, fps, indices = _decode(path, width, span, channel)
    return frames, fps, indices[0]


def read_frames(path: str | Path, times: list[float], width: int, channel: str = "luma") -> np.ndarray:
    """Luminance (or `channel`) frames of a video nearest each of `times` (source seconds), `width` wide."""
    return _decode(path, width, lambda n, fps: [int(np.clip(round(t * fps), 0, n - 1)) for t in times], channel)[0]


class EpisodeWindows:
    """The episode windows one verification decoded: a window inside one already read is sliced from it."""

    MARGIN = 3.0  # seconds read beyond each side of a request: the next alignment of the episode is often near

    def __init__(self, width: int = WIDTH, channel: str = "luma"):
        self.width, self.channel = width, channel
        self.read: list[tuple[Path, float, float, tuple[np.ndarray, float, int]]] = []

    def __call__(self, path: Path | None, t0: float, t1: float,
                 stored: tuple[np.ndarray, float] | None = None) -> tuple[np.ndarray, float, int]:
        """`stored`: the episode's every frame at this width and its fps (assoc.episode_frames), sliced instead of
        decoding the video (the same pixels)."""
        if stored is not None:
            return _slice((stored[0], stored[1], 0), t0, t1)
        for p, a, b, got in self.read:
            if p == path and a <= t0 and t1 <= b:
                return _slice(got, t0, t1)
        a, b = max(0.0, t0 - self.MARGIN), t1 + self.MARGIN
        got = read_window(path, a, b, self.width, self.channel)
        self.read.append((path, a, b, got))
        return _slice(got, t0, t1)


def _frame_range(t0: float, t1: float, fps: float, lo: int, hi: int) -> tuple[int, int]:
    """The first and last frame index covering [t0, t1] seconds, within [lo, hi]."""
    first = int(np.clip(np.floor(t0 * fps), lo, hi))
    return first, int(np.clip(np.ceil(t1 * fps), first, hi))


def _slice(window: tuple[np.ndarray, float, int], t0: float, t1: float) -> tuple[np.ndarray, float, int]:
    """What read_window would return for [t0, t1], cut from a window it returned that covers it."""
    frames, fps, first = window
    i0, i1 = _frame_range(t0, t1, fps, first, first + len(frames) - 1)
    return frames[i0 - first : i1 - first + 1], fps, i0


def _selected(times: np.ndarray, clip_start: float, clip_end: float | None, n: int) -> list[int]:
    sel = [i for i, t in enumerate(times) if t >= clip_start - 1e-6 and (clip_end is None or t <= clip_end + 1e-6)]
    if len(sel) > n:
        sel = [sel[int(round(k))] for k in np.linspace(0, len(sel) - 1, n)]
    return sel


def verify_segment(templates: list[np.ndarray], times: np.ndarray, episode_id: str, read: Callable,
                   start: float, clip_start: float, speed: float, settings: VerifySettings,
                   clip_end: float | None = None, whole: list[np.ndarray] | None = None,
                   detail: Callable | None = None) -> Verification | None:
    """Fit one transform for all clip frames against the episode frames the alignment predicts.

    `read(t0, t1)` returns (luma frames, fps, index of the first) of the episode between t0 and t1 seconds.
    `whole`: a portrait clip's whole frames (portrait_templates), also tried at `settings.portrait_heights`
    of the episode's height. None when no clip frame could be compared (no frame in the segment, or only flat
    ones). `detail(kind, frames used, their source times, position, size, mirrored, episode width)`: checks
    the fit found on the pictures' detail (a DetailCheck bound to the episode; Verification.detail)."""
    sel = _selected(times, clip_start, clip_end, settings.frames)
    if not sel:
        return None
    src = {i: start + (float(times[i]) - clip_start) * speed for i in sel}
    episode, fps, first = read(min(src.values()) - settings.slack, max(src.values()) + settings.slack)
    n_ep, eh, ew = episode.shape
    offsets = np.arange(-settings.slack, settings.slack + 1e-6, settings.step)
    as_float: dict[int, np.ndarray] = {}
    sums: dict[tuple[str, float, bool], np.ndarray] = {}  # (template kind, width fraction, mirrored)
    maps: dict[tuple[str, float, bool], list[np.ndarray]] = {}
    shifts: dict[tuple[str, float, bool], list[np.ndarray]] = {}
    per_frame_best = []
    frames_used: list[int] = []
    sizes: dict[tuple[str, float, bool], tuple[int, int]] = {}
    for i in sel:
        idx = sorted({int(np.clip(round((src[i] + o) * fps) - first, 0, n_ep - 1)) for o in offsets})
        found = {}
        for kind, s, tpl, tw, th in _template_sizes(templates[i], whole[i] if whole else None, ew, eh, settings):
            small = cv2.resize(tpl, (tw, th), interpolation=cv2.INTER_AREA)
            if small.std() < 2.0:  # a flat frame (a title card, black) says nothing
                continue
            for flip in (False, True):
                t = np.ascontiguousarray(small[:, ::-1] if flip else small).astype(np.float32)
                best, arg = None, None
                for j in idx:
                    if j not in as_float:
                        as_float[j] = episode[j].astype(np.float32)
                    m = cv2.matchTemplate(as_float[j], t, cv2.TM_CCOEFF_NORMED)
                    if best is None:
                        best, arg = m, np.full(m.shape, j, np.int32)
                    else:
                        better = m > best
                        best, arg = np.where(better, m, best), np.where(better, j, arg)
                found[(kind, s, flip)] = (best, (arg + first) / fps - src[i])
                sizes[(kind, s, flip)] = (tw, th)
        if not found:
            continue
        per_frame_best.append(max(float(m.max()) for m, _ in found.values()))
        frames_used.append(i)
        for key, (m, shift) in found.items():
            sums[key] = sums[key] + m if key in sums else m.copy()
            maps.setdefault(key, []).append(m)
            shifts.setdefault(key, []).append(shift)
    used = len(per_frame_best)
    keys = [k for k, v in maps.items() if len(v) == used]  # comparable only where every frame produced it
    if not used or not keys:
        return None
    key = max(keys, key=lambda k: float(sums[k].max()))
    pos = np.unravel_index(int(np.argmax(sums[key])), sums[key].shape)
    at = np.sort([m[pos] for m in maps[key]])[::-1]
    checked = None
    if detail is not None:
        times_at = [src[i] + float(sh[pos]) for i, sh in zip(frames_used, shifts[key])]
        checked = detail(key[0], frames_used, times_at, pos, sizes[key], key[2], ew)
    return Verification(episode_id=episode_id, fit=float(sums[key][pos]) / used,
                        fit_trimmed=_trimmed(at), free_fit=float(np.mean(per_frame_best)), frames=used, scale=key[1],
                        flipped=key[2], offset=float(np.mean([s[pos] for s in shifts[key]])), detail=checked)


def _trimmed(values) -> float:
    """The mean of the best three quarters (at least one) of `values`."""
    at = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    return float(at[: max(1, int(np.ceil(0.75 * len(at))))].mean())


def high_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """The image's detail: itself less its Gaussian blur."""
    g = image.astype(np.float32)
    return g - cv2.GaussianBlur(g, (0, 0), sigma)


class DetailCheck:
    """Verification.detail for one clip: its templates and each episode's frames at `settings.detail_width`.

    Called with the episode's video, the fit's template kind, the clip frames it used, the source time of each at
    the fit, the position and (width, height) of the fit at the verification width `ew`, and whether it was
    mirrored; it
    compares each clip frame's detail with its episode frame's in a window of `MARGIN` pixels around the
    position scaled to the detail width (the rounding of the coarser search), and returns the trimmed mean."""

    MARGIN = 2

    def __init__(self, frames: np.ndarray, portrait: bool, settings: VerifySettings, channel: str = "luma"):
        self.settings, self.channel = settings, channel
        w = settings.detail_width
        self.band = clip_templates(frames, 2 * w, border_quantile=settings.border_quantile, channel=channel)
        self.whole = portrait_templates(frames, 2 * w * 9 // 16, settings.border_quantile, channel) if portrait else None

    def __call__(self, path: Path, kind: str, used: list[int], times: list[float], pos: tuple[int, int],
                 size: tuple[int, int], flipped: bool, ew: int) -> float | None:
        st, m = self.settings, self.MARGIN
        frames = read_frames(path, times, st.detail_width, self.channel)
        _, h, w = frames.shape
        r = w / ew
        tw, th = max(4, int(round(size[0] * r))), max(4, int(round(size[1] * r)))
        y0, x0 = int(round(pos[0] * r)), int(round(pos[1] * r))
        ya, xa = max(0, y0 - m), max(0, x0 - m)
        yb, xb = min(h, y0 + th + m), min(w, x0 + tw + m)
        if yb - ya < th or xb - xa < tw:
            return None
        fits = []
        for k, i in enumerate(used):
            tpl = (self.whole if kind == "whole" else self.band)[i]
            small = cv2.resize(tpl, (tw, th), interpolation=cv2.INTER_AREA)
            small = high_pass(np.ascontiguousarray(small[:, ::-1] if flipped else small), st.detail_sigma)
            patch = high_pass(frames[k], st.detail_sigma)[ya:yb, xa:xb]
            if small.std() < 1e-3 or patch.std() < 1e-3:
                continue
            fits.append(float(cv2.matchTemplate(np.ascontiguousarray(patch), small, cv2.TM_CCOEFF_NORMED).max()))
        return _trimmed(fits) if fits else None


def _template_sizes(band: np.ndarray, whole: np.ndarray | None, ew: int, eh: int, settings: VerifySettings):
    """(kind, scale, template, width, height) to compare: the canonical band at each of `settings.scales` of the
    episode's width, then a portrait clip's whole frame at each of `settings.portrait_heights` of its height (its
    scale: the fraction of the episode's width it covers); sizes that do not fit inside the episode frame are left
    out."""
    sizes = []
    for s in settings.scales:
        tw = max(4, int(round(ew * s)))
        sizes.append(("band", s, band, tw, max(4, int(round(tw * band.shape[0] / band.shape[1])))))
    if whole is not None:
        for f in settings.portrait_heights or ():
            th = max(4, int(round(eh * f)))
            tw = max(4, int(round(th * whole.shape[1] / whole.shape[0])))
            sizes.append(("whole", tw / ew, whole, tw, th))
    return [x for x in sizes if x[3] <= ew and x[4] <= eh]


class Verifier:
    """Verifies a clip's best visual candidates against their episodes (thread-safe: no shared state but the scan
    cache and the stored episode frames, which lock)."""

    def __init__(self, episode_path: Callable[[str], Path | None], settings: VerifySettings | None = None,
                 scan_cache: ScanCache | None = None, stored=None):
        self.episode_path = episode_path
        self.settings = settings or VerifySettings()
        self.scan_cache = scan_cache  # None: every scan reads its episodes again
        # the index's stored episode frames (assoc.episode_frames.EpisodeFrames), read instead of the videos where
        # they hold the track the settings ask for; None: the videos are read
        self.stored = stored

    def _prepare(self, frames: np.ndarray, needed: bool = True, channel: str | None = None):
        """(settings for this clip, its band templates, its whole-frame templates or None, the episode windows' cache,
        the detail check or None), on `channel` (the settings' first when None): a portrait clip's width and scales,
        as `settings` say."""
        st = self.settings
        channel = channel or st.channels[0]
        portrait = bool(len(frames)) and is_portrait(frames[0])
        if portrait and st.portrait_width:
            st = replace(st, width=st.portrait_width)
        templates = clip_templates(frames, 2 * st.width, border_quantile=st.border_quantile, channel=channel) if needed else []
        whole = None
        if portrait and st.portrait_heights and needed:
            whole = portrait_templates(frames, 2 * st.width * 9 // 16, st.border_quantile, channel)
        if st.landscape_min_scale is not None and len(frames) and (not portrait or whole is not None):
            st = replace(st, scales=tuple(s for s in st.scales if s >= st.landscape_min_scale))
        check = DetailCheck(frames, portrait, st, channel) if st.detail_width and needed else None
        return st, templates, whole, EpisodeWindows(st.width, channel), check

    def _verify_program(self, prepared: dict, frames: np.ndarray, times: np.ndarray, alignments: list[tuple],
                        problems: list[str], label: str, every: bool = False) -> Verification | None:
        """The best verification (by trimmed fit) of one program's `alignments` (episode id, source start, clip start,
        speed, clip end or None), channel by channel (VerifySettings.channels) until one confirms; `prepared`:
        channel -> what _prepare made of the clip, filled as needed. `every`: a channel's alignments are all
        verified, even after one confirms (VerifySettings.scan_stops off). An episode that cannot be read is a problem
        (`label`: the step, verify or scan), the rest go on."""
        best = None
        unreadable: set[str] = set()  # episodes already reported: not tried (nor reported) again on the next channel
        for channel in self.settings.channels:
            if channel not in prepared:
                prepared[channel] = self._prepare(frames, channel=channel)
            st, templates, whole, windows, check = prepared[channel]
            for eid, start, clip_start, speed, clip_end in alignments:
                path = None if eid in unreadable else self.episode_path(eid)
                stored = None
                if self.stored is not None and eid not in unreadable:
                    stored = self.stored.window(eid, st.width, channel)
                if path is None and (stored is None or check is not None):
                    if eid not in unreadable:
                        problems.append(f"{label}: episode {eid} has no video in the catalog")
                        unreadable.add(eid)
                    continue
                try:
                    v = verify_segment(templates, times, eid, lambda a, b, p=path, s=stored: windows(p, a, b, s), start,
                                       clip_start, speed, st, clip_end, whole, partial(check, path) if check else None)
                except MediaError as e:
                    problems.append(f"{label}: {e}")
                    unreadable.add(eid)
                    continue
                if v is not None and (best is None or v.fit_trimmed > best.fit_trimmed):
                    best = replace(v, channel=channel)
                if st.confirms(v) and not every:
                    return best  # confirmed: its other alignments and channels are not tried (they would cost as much)
            if st.confirms(best):
                return best
        return best

    def scan(self, frames: np.ndarray, times: np.ndarray, programs: list[tuple[str, list[str]]],
             timings: dict | None = None) -> tuple[dict[str, Verification], list[str]]:
        """program -> the best verification of the alignments found by scanning its episodes end to end
        (scan_episode; the best `scan_hypotheses` distinct ones of the program are verified), for each of `programs`
        (program, its episode ids); and the problems met (a missing or undecodable episode is left out, the rest go
        on)."""
        t0 = time.perf_counter()
        out: dict[str, Verification] = {}
        problems: list[str] = []
        if programs and len(frames):
            prepared = {self.settings.channels[0]: self._prepare(frames)}
            st, templates, whole, _, _ = prepared[self.settings.channels[0]]
            for pid, episode_ids in programs:
                found = []
                for eid in episode_ids:
                    stored = self.stored.scan(eid, st.scan_width, st.scan_step, st.channels[0]) if self.stored else None
                    path = self.episode_path(eid) if stored is None else None
                    if stored is not None:
                        episode, step = stored
                    elif path is None:
                        problems.append(f"scan: episode {eid} has no video in the catalog")
                        continue
                    else:
                        try:
                            episode, step = (self.scan_cache or read_scan)(path, st.scan_width, st.scan_step,
                                                                           st.channels[0])
                        except MediaError as e:
                            problems.append(f"scan: {e}")
                            continue
                    found += [(fit, eid, *rest) for fit, *rest in scan_episode(templates, whole, times, episode, step, st)]
                hypotheses = _distinct(sorted(found, key=lambda h: -h[0]), st.scan_hypotheses)
                v = self._verify_program(prepared, frames, times, [(eid, start, clip_start, speed, None)
                                                                   for _, eid, start, clip_start, speed in hypotheses],
                                         problems, "scan", every=not st.scan_stops)
                if v is not None:
                    out[pid] = v
        if timings is not None:
            timings["scan"] = round((time.perf_counter() - t0) * 1000, 2)
        return out, problems

    def chosen(self, lists: Iterable[list], also: Iterable[str] = (),
               searched: dict[str, list] | None = None) -> list[tuple[str, list]]:
        """The programs to verify, each with its candidates: the best `candidates` by their best score in any
        visual list, then those of `also` (the text signal's best) that some visual list aligned or that
        `searched` (program -> candidates from a search of its own keyframes) has alignments for."""
        best: dict[str, float] = {}
        cands: dict[str, list] = {}
        for cs in lists:
            for c in cs or []:
                if c.segments or c.episode_id:
                    best[c.program_id] = max(best.get(c.program_id, -1.0), c.score)
                    cands.setdefault(c.program_id, []).append(c)
        order = sorted(best, key=lambda p: (-best[p], p))[: self.settings.candidates]
        found = {p: [c for c in cs if c.segments or c.episode_id] for p, cs in (searched or {}).items()}
        order += [p for p in dict.fromkeys(also) if (cands.get(p) or found.get(p)) and p not in order]
        return [(p, cands.get(p, []) + found.get(p, [])) for p in order]

    def verify(self, frames: np.ndarray, times: np.ndarray, lists: Iterable[list],
               timings: dict | None = None, also: Iterable[str] = (),
               searched: dict[str, list] | None = None) -> tuple[dict[str, Verification], list[str]]:
        """program -> its best verification (over the distinct alignments its signals found), and the problems
        met (an episode video missing or undecodable: that program is left unverified, the lookup goes on).
        Programs of `also` are verified after the visual signals' best, when a visual list aligned them or
        `searched` has alignments for them (its candidates join theirs)."""
        t0 = time.perf_counter()
        out: dict[str, Verification] = {}
        problems: list[str] = []
        chosen = self.chosen(lists, also, searched)
        prepared: dict = {}
        for pid, cands in chosen:
            if not prepared:
                prepared[self.settings.channels[0]] = self._prepare(frames)
            v = self._verify_program(prepared, frames, times, _alignments(cands, prepared[self.settings.channels[0]][0]),
                                     problems, "verify")
            if v is not None:
                out[pid] = v
        if timings is not None:
            timings["verify"] = round((time.perf_counter() - t0) * 1000, 2)
        return out, problems


def _alignments(cands: list, settings: VerifySettings = LEGACY) -> list[tuple[str, float, float, float, float | None]]:
    """Distinct (episode, start, clip_start, speed, clip_end) alignments of one program's candidates, the one
    covering the most clip frames first (at most `settings.alignments`). An alignment whose speed is outside
    `settings.speed_range` is followed by the same segment at speed 1 through its middle: on a near-static
    segment the aligner's speed hits its bound, and the middle is where it is least wrong."""
    found = []
    for c in sorted(cands, key=lambda c: (-c.coverage, -c.consistency)):
        if c.segments:
            s = c.segments[0]
            a = (s.episode_id, float(s.start), float(s.clip_start), float(s.speed), float(s.clip_end))
        elif c.episode_id and c.start is not None:
            a = (c.episode_id, float(c.start), 0.0, float(c.speed or 1.0), None)
        else:
            continue
        variants = [a]
        rng = settings.speed_range
        if rng is not None and not rng[0] <= a[3] <= rng[1] and a[4] is not None:
            mid = 0.5 * (a[2] + a[4])
            variants.append((a[0], a[1] + (mid - a[2]) * (a[3] - 1.0), a[2], 1.0, a[4]))
        for v in variants:
            same = any(v[0] == b[0] and abs(v[1] - v[2] * v[3] - (b[1] - b[2] * b[3])) < 1.0 and abs(v[3] - b[3]) < 0.05
                       for b in found)
            if not same:
                found.append(v)
    return found[: settings.alignments]


def read_scan(path: str | Path, width: int, step: float, channel: str = "luma") -> tuple[np.ndarray, float]:
    """An episode's luminance (or `channel`) frames every `step` seconds (the nearest whole number of frames), `width`
    wide, and the seconds between them."""
    stride = {}

    def every(n: int, fps: float) -> list[int]:
        stride["k"] = max(1, int(round(step * fps)))
        return list(range(0, n, stride["k"]))

    frames, fps, _ = _decode(path, width, every, channel)
    return frames, stride["k"] / fps


class ScanCache:
    """Episodes' scan frames (read_scan) kept between lookups: the least recently used are dropped beyond `max_bytes`.
    A scan decodes whole episodes (most of its time), so a program scanned again costs only the correlation. On the
    bench 3 of 135 episodes read were hits over 50 clips, 126 of 553 over 200 (a clip's own program is mostly
    confirmed, so not scanned, and the other lists' wrong bests vary; docs/fusion.md). Thread-safe (two lookups
    missing the same episode at once may both read it); an episode file changed on disk (size or modification time)
    is read again; frames are returned read-only."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._items: OrderedDict[tuple, tuple[np.ndarray, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __call__(self, path: str | Path, width: int, step: float, channel: str = "luma") -> tuple[np.ndarray, float]:
        try:
            st = Path(path).stat()
        except OSError:
            return read_scan(path, width, step, channel)  # says what is wrong with it
        key = (str(path), st.st_mtime_ns, st.st_size, width, step, channel)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        frames, gap = read_scan(path, width, step, channel)
        frames.flags.writeable = False
        if frames.nbytes <= self.max_bytes:
            with self._lock:
                if key not in self._items:
                    self._items[key] = (frames, gap)
                    self._bytes += frames.nbytes
                while self._bytes > self.max_bytes:
                    _, (old, _) = self._items.popitem(last=False)
                    self._bytes -= old.nbytes
        return frames, gap

    def stats(self) -> dict:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "episodes": len(self._items), "bytes": self._bytes,
                    "mb": round(self._bytes / 2**20, 1)}


def scan_episode(templates: list[np.ndarray], whole: list[np.ndarray] | None, times: np.ndarray,
                 episode: np.ndarray, step: float, settings: VerifySettings) -> list[tuple[float, float, float, float]]:
    """Where in one episode the clip fits, from all of it: (coarse fit, source start, clip start, speed) for each
    transform (band scale or portrait height, mirrored or not) and speed, at the best start.

    `episode`: its luminance frames every `step` seconds (read_scan). Each of `settings.scan_frames` clip frames
    (evenly over the clip) is matched by normalised cross-correlation at every position against every episode frame
    at once (the frames stacked into one tall image; positions across two frames are left out); at a speed v an
    alignment puts clip time t at source time start + (t - clip start) x v, and its coarse fit is the trimmed mean over
    the clip frames of their fit at the episode frame it predicts. The coarse fit is no verification: the transform's
    position is free per frame, and the source time is `step` coarse; verify_segment then fits the alignment found."""
    n_ep, eh, ew = episode.shape
    if not len(templates) or n_ep == 0:
        return []
    sel = sorted(set(np.linspace(0, len(templates) - 1, min(settings.scan_frames, len(templates))).round().astype(int)))
    tall = episode.reshape(n_ep * eh, ew).astype(np.float32)
    fits: dict[tuple, dict[int, np.ndarray]] = {}  # (kind, scale, mirrored) -> clip frame -> fit per episode frame
    for i in sel:
        for kind, s, tpl, tw, th in _template_sizes(templates[i], whole[i] if whole else None, ew, eh, settings):
            small = cv2.resize(tpl, (tw, th), interpolation=cv2.INTER_AREA)
            if small.std() < 2.0:  # flat: says nothing
                continue
            for flip in (False, True):
                t = np.ascontiguousarray(small[:, ::-1] if flip else small).astype(np.float32)
                m = cv2.matchTemplate(tall, t, cv2.TM_CCOEFF_NORMED)
                rows = np.full((n_ep * eh, m.shape[1]), -1.0, np.float32)
                rows[: m.shape[0]] = m
                fits.setdefault((kind, s, flip), {})[i] = rows.reshape(n_ep, eh, -1)[:, : eh - th + 1].max(axis=(1, 2))
    lo, hi = SCAN_SPEEDS
    speeds = np.exp(np.linspace(np.log(lo), np.log(hi), settings.scan_speeds))
    t0 = float(times[sel[0]])
    out = []
    for per in fits.values():
        used = sorted(per)
        if len(used) < max(2, len(sel) // 2):
            continue
        m = np.stack([per[i] for i in used])
        keep = max(1, int(np.ceil(0.75 * len(used))))
        for v in speeds:
            off = np.round((times[used] - t0) * v / step).astype(int)
            starts = n_ep - int(off.max())
            if starts <= 0:
                continue
            at = np.stack([m[k, off[k] : off[k] + starts] for k in range(len(used))])
            score = -np.sort(-at, axis=0)[:keep].mean(axis=0)
            j = int(np.argmax(score))
            out.append((float(score[j]), j * step, t0, float(v)))
    return out


def _distinct(hypotheses: list[tuple], n: int) -> list[tuple]:
    """The first `n` of (fit, episode, start, clip start, speed) hypotheses, best first, that are not the same alignment
    as one before (same episode, start within 2 s, speed within 0.1)."""
    kept: list[tuple] = []
    for h in hypotheses:
        if len(kept) >= n:
            break
        if not any(h[1] == k[1] and abs(h[2] - k[2]) < 2.0 and abs(h[4] - k[4]) < 0.1 for k in kept):
            kept.append(h)
    return kept
