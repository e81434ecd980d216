"""Associating clips with programs: decode once, run the signals, score the united candidates, decide."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from assoc.catalog import clip_video_path
from assoc.errors import InputError, MediaError
from assoc.fusion import rrf
from assoc.index_reader import OpenIndex, VisualIndex
from assoc.media import AudioTrack, SampledFrames, extract_audio, sample_frames
from assoc.rerank.features import ClipSignals, agree_levels
from assoc.schema import (
    Candidate,
    CategoryEvidence,
    CategoryPrediction,
    Clip,
    Evidence,
    Result,
    Segment,
    TextEvidence,
    VerificationEvidence,
    VisualEvidence,
)
from assoc.text.query import parse_title
from assoc.text.signal import TextCandidate
from assoc.verify import ScanCache, Verifier, VerifySettings
from assoc.video_stamps import videos_root
from assoc.visual import VisualCandidate, program_neighbours, vote
from indexes.errors import IndexBackendError

KNOWN_SIGNALS = ("visual", "text", "category")


@dataclass
class LookupSettings:
    fps: float = 2.0
    max_frames: int = 16
    short_side: int = 144
    neighbours: int = 10
    top_k: int = 10
    threshold: float | None = None  # None: the index's open-set threshold
    catalog_root: str | None = None  # where the catalog's videos are (verification); None: beside the catalog file
    scan_cache_mb: float = 256.0  # episodes' scan frames kept between lookups (assoc.verify.ScanCache); 0: none
    # verification reads the episode frames stored in the index (assoc.episode_frames) where it has them, instead of
    # decoding the videos (the same pixels); False: the videos are read
    episode_frames: bool = True


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
                      settings: LookupSettings, timings: dict | None = None,
                      xq: np.ndarray | None = None) -> list[VisualCandidate]:
    """Embed the clip's frames (unless `xq` has them), search, and vote with temporal alignment."""
    t0 = time.perf_counter()
    if xq is None:
        xq = vindex.encoder.embed(sampled.frames)
    t1 = time.perf_counter()
    D, I = vindex.vectors.search(xq, settings.neighbours)  # noqa: E741
    cands = vote(D, I, index.table, sampled.times, sampled.duration, settings.top_k, index.align_settings(),
                 index.keyframe_ends())
    if timings is not None:
        timings.setdefault("embed", round((t1 - t0) * 1000, 2))
        timings["vector"] = round((time.perf_counter() - t1) * 1000, 2)
    return cands


def program_candidates(vindex: VisualIndex, index: OpenIndex, xq: np.ndarray, program_id: str,
                       sampled: SampledFrames, k: int) -> list[VisualCandidate]:
    """One program's alignments to the clip from a search of its own keyframes only (k nearest per clip frame)."""
    found = program_neighbours(vindex.vectors, index.table, xq, program_id, k)
    if found is None:
        return []
    return vote(found[0], found[1], index.table, sampled.times, sampled.duration, 1, index.align_settings(),
                index.keyframe_ends())


def build_result(clip_id: str, index: OpenIndex, threshold: float, timings: dict, top_k: int,
                 visual: list[VisualCandidate] | None, text: list[TextCandidate] | None, degraded: list[str],
                 category=None, ranked: list[tuple[str, float]] | None = None, clip_category=None,
                 aux: dict[str, list[VisualCandidate]] | None = None, verification: dict | None = None,
                 searched: dict[str, list[VisualCandidate]] | None = None) -> Result:
    """Unite the signals' candidates and write the result.

    `ranked` (program, score) comes from a scorer (the re-ranker's calibrated probabilities); without
    it, one signal keeps its own score and several are fused by RRF (normalised to [0, 1]).
    `category` (a CategoryOutput) fills each candidate's category evidence and the result's category, unless
    `clip_category` (the model's output given the calibrated matches) is given for the latter. `aux` (another
    encoder's visual candidates, which the re-ranker read) adds their evidence, and `verification` (program ->
    assoc.verify.Verification, which the re-ranker read) its verification against the episode; a candidate's episode and time
    range come from whichever visual signal (main or auxiliary) aligned the most clip frames to it, else from
    `searched` (program -> alignments from a search of its own keyframes, for a program the title named)."""
    vis = {c.program_id: c for c in visual or []}
    txt = {c.program_id: c for c in text or []}
    if ranked is not None:
        pass
    elif visual is not None and text is None:
        ranked = [(c.program_id, c.score) for c in visual]
    elif text is not None and visual is None:
        ranked = [(c.program_id, c.score) for c in text]
    else:
        ranked = rrf([[c.program_id for c in sig] for sig in (visual, text) if sig is not None])
    predicted = category.prediction() if category is not None else None
    candidates = []
    aux_maps = {name: {c.program_id: c for c in cands} for name, cands in (aux or {}).items()}
    for pid, score in ranked[:top_k]:
        v, t = vis.get(pid), txt.get(pid)
        found = {name: m[pid] for name, m in aux_maps.items() if pid in m}
        # the time range from the visual signal whose alignment explains most of the clip's frames
        where = max([c for c in (v, *found.values()) if c is not None and c.episode_id],
                    key=lambda c: (c.coverage, c.consistency), default=None)
        if where is None:
            where = max([c for c in (searched or {}).get(pid, []) if c.episode_id],
                        key=lambda c: (c.coverage, c.consistency), default=None)
        program = index.programs.get(pid)
        cat_ev = None
        if predicted is not None and program is not None:
            cat_ev = CategoryEvidence(agree_levels=agree_levels(predicted.levels, program.category),
                                      prior=[round(x, 4) for x in category.prior(program.category)])
        candidates.append(Candidate(
            program_id=pid, title=program.title if program else "", score=round(float(score), 4),
            episode_id=where.episode_id if where else None, start=where.start if where else None,
            end=where.end if where else None,
            evidence=Evidence(visual=_visual_evidence(v), category=cat_ev,
                              verification=_verification_evidence((verification or {}).get(pid)),
                              aux_visual={n: _visual_evidence(c) for n, c in found.items()} or None,
                              text=TextEvidence(bm25=round(t.bm25, 3) if t.bm25 is not None else None, fuzzy=t.fuzzy,
                                                field=t.fuzzy_field, semantic=_round(t.semantic)) if t else None)))
    confidence = candidates[0].score if candidates else 0.0
    match = candidates[0].program_id if candidates and confidence >= threshold else None
    return Result(clip_id=clip_id, match=match, confidence=confidence, candidates=candidates,
                  category=(clip_category.prediction() if clip_category is not None else predicted) or CategoryPrediction(),
                  degraded=degraded, timings_ms=timings)


def _verification_evidence(v) -> VerificationEvidence | None:
    if v is None:
        return None
    return VerificationEvidence(episode_id=v.episode_id, fit=round(v.fit_trimmed, 4), frames=v.frames,
                                scale=v.scale, flipped=v.flipped, offset=round(v.offset, 2),
                                detail=_round(v.detail), channel=v.channel)


def _round(x: float | None, digits: int = 4) -> float | None:
    return round(float(x), digits) if x is not None else None


def _visual_evidence(v: VisualCandidate | None) -> VisualEvidence | None:
    if v is None:
        return None
    segments = None
    if len(v.segments) > 1:
        segments = [Segment(episode_id=s.episode_id, start=s.start, end=s.end, clip_start=round(s.clip_start, 2),
                            clip_end=round(s.clip_end, 2), speed=round(s.speed, 3)) for s in v.segments]
    return VisualEvidence(votes=v.votes, frames=v.frames, similarity=round(v.similarity, 4),
                          consistency=round(v.consistency, 4), speed=v.speed, segments=segments)


SCORERS = ("auto", "rerank", "rrf")


class Associator:
    """Associates clips with programs in one open index: decode once, run the signals it has (visual,
    text, category), unite their candidates, score them (the index's learned re-ranker, or RRF), decide.

    Thread-safe for lookups once constructed (everything is loaded eagerly with `warm()`)."""

    def __init__(self, index: OpenIndex, settings: LookupSettings | None = None, signals: Iterable[str] | None = None,
                 scorer: str = "auto", aux_visual: Iterable[str] | None = None,
                 verify: "bool | VerifySettings | None" = None):
        if scorer not in SCORERS:
            raise InputError(f"unknown scorer '{scorer}'; known: {', '.join(SCORERS)}")
        self.index = index
        self.settings = settings or LookupSettings()
        self.signals = resolve_signals(index, signals)
        self.text = index.text_signal() if "text" in self.signals else None
        self.category = index.category_model() if "category" in self.signals else None
        self.reranker = index.reranker() if scorer != "rrf" and self._rerankable() else None
        if scorer == "rerank" and self.reranker is None:
            raise InputError(f"index {index.path} has no re-ranker for signals {', '.join(self.signals)} "
                             "(assoc train reranker, then assoc index reranker)")
        if aux_visual is None:  # the index's other visual encoders the re-ranker reads
            aux_visual = self.reranker.settings.aux_visual if self.reranker else ()
        self.aux_visual = tuple(aux_visual) if "visual" in self.signals else ()
        for name in self.aux_visual:
            if name not in index.baselines:
                raise InputError(f"index {index.path} has no visual baseline '{name}' "
                                 f"(it has: {', '.join(index.baselines) or 'none'})")
        depth = max(self.settings.top_k, self.reranker.settings.depth if self.reranker else 0)
        self.signal_settings = replace(self.settings, top_k=depth)
        self._tokens = None
        reads = bool(self.reranker and self.reranker.settings.verify)
        if verify is None:  # verification runs when the re-ranker reads it, as it was trained
            verify = reads
        if verify is True:
            verify = VerifySettings.from_config(self.reranker.settings.verify_settings) if reads else VerifySettings()
        cache = ScanCache(int(self.settings.scan_cache_mb * 2**20)) if self.settings.scan_cache_mb > 0 else None
        stored = None
        if verify and "visual" in self.signals and self.settings.episode_frames and "episode_frames" in index.manifest:
            from assoc.episode_frames import EpisodeFrames

            stored = EpisodeFrames.open(index.path)
        self.verifier = Verifier(self._episode_video, verify, cache, stored) if verify and "visual" in self.signals else None
        # also the category without the clip's title and description (ClipSignals.category_without_text): what a
        # re-ranker that reads no text reads, so the visual-only ablation's category prior does not read the title
        self.text_free_category = bool(self.reranker and not self.reranker.settings.use_text)
        self._episode_videos = {e.episode_id: e.video for p in index.programs.values() for e in p.episodes}
        self._catalog_root = videos_root(index.manifest, self.settings.catalog_root)

    def _episode_video(self, episode_id: str) -> Path | None:
        """An episode's video in the catalog the index was built from (or under settings.catalog_root)."""
        video = self._episode_videos.get(episode_id)
        return self._catalog_root / video if video is not None else None

    @classmethod
    def open(cls, path: str | Path, settings: LookupSettings | None = None, signals: Iterable[str] | None = None,
             es: dict | None = None, vector_device: str = "cpu", scorer: str = "auto",
             aux_visual: Iterable[str] | None = None, verify: "bool | VerifySettings | None" = None) -> "Associator":
        from assoc.index_reader import open_index

        return cls(open_index(path, es=es, vector_device=vector_device), settings, signals, scorer, aux_visual, verify)

    def threshold_for(self, reranker=None) -> float:
        """The open-set threshold: ASSOC_THRESHOLD if set, else the re-ranker's (when it scored), else the index's."""
        if self.settings.threshold is not None:
            return self.settings.threshold
        return reranker.threshold if reranker is not None else self.index.open_set_threshold

    @property
    def threshold(self) -> float:
        """The threshold this Associator's lookups use by default."""
        return self.threshold_for(self.reranker)

    def _rerankable(self) -> bool:
        """The re-ranker was trained on visual + text (+ category): it needs both to run."""
        return "reranker" in self.index.manifest and "visual" in self.signals and "text" in self.signals

    def scan_cache_stats(self) -> dict | None:
        """The scan cache's counts (ScanCache.stats); None when this lookup keeps none (no scan cache, or no
        verification)."""
        cache = self.verifier.scan_cache if self.verifier else None
        return cache.stats() if cache else None

    def warm(self) -> "Associator":
        """Load everything that is otherwise loaded on first use (before serving concurrent requests)."""
        if self.category is not None:
            _ = self.tokens
        if self.text is not None:
            self.text.candidates("warm up", "", 1)
        return self

    @property
    def needs_video(self) -> bool:
        return "visual" in self.signals or "category" in self.signals

    @property
    def tokens(self):
        """The category model's text tokens (the sentence model it was trained with), loaded on first use."""
        if self._tokens is None:
            from assoc.category.features import TextTokens
            from assoc.text.semantic import SemanticModel

            name = (self.index.manifest.get("category", {}).get("text_model") or {}).get("model")
            self._tokens = TextTokens(SemanticModel(name))
        return self._tokens

    def text_candidates(self, title: str, description: str, timings: dict,
                        degraded: list[str], parsed=None) -> list[TextCandidate] | None:
        if self.text is None:
            return None
        t0 = time.perf_counter()
        try:
            return self.text.candidates(title, description, self.signal_settings.top_k, parsed)
        except IndexBackendError:  # e.g. Elasticsearch unreachable: the lookup goes on without text
            degraded.append("text")
            return None
        finally:
            timings["text"] = round((time.perf_counter() - t0) * 1000, 2)

    def embed(self, sampled: SampledFrames, timings: dict) -> np.ndarray:
        t0 = time.perf_counter()
        xq = self.index.visual.encoder.embed(sampled.frames)
        timings["embed"] = round((time.perf_counter() - t0) * 1000, 2)
        return xq

    def category_features(self, sampled: SampledFrames | None, xq: np.ndarray | None, audio: AudioTrack | None,
                          title: str, description: str):
        """The category model's inputs: the clip's frames and their vectors (none without video), audio and text."""
        from assoc.category.data import clip_features

        if sampled is None or xq is None:  # no video: no frame rows
            return clip_features(np.zeros((0, 1, 1, 3), np.uint8), audio, title, description, self.tokens,
                                 vectors=np.zeros((0, self.index.visual.encoder.dim), np.float32))
        return clip_features(sampled.frames, audio, title, description, self.tokens, vectors=xq)

    def category_output(self, model, sampled: SampledFrames | None, xq: np.ndarray | None, audio: AudioTrack | None,
                        title: str, description: str, timings: dict, without_text: bool = False):
        """The clip's category distribution from its frames and their vectors, audio and text; with `without_text`,
        also the distribution from the same inputs with the text rows dropped (the same output when the clip has
        no text), as the second of a pair. `timings["category"]` is the first one's time."""
        t0 = time.perf_counter()
        feats = self.category_features(sampled, xq, audio, title, description)
        out = model.predict([feats])[0]
        timings["category"] = round((time.perf_counter() - t0) * 1000, 2)
        if not without_text:
            return out
        return out, model.predict([replace(feats, text=feats.text[:0])])[0] if len(feats.text) else out

    def clip_signals(self, clip_id: str, sampled: SampledFrames | None, title: str = "", description: str = "",
                     timings: dict | None = None, signals: Iterable[str] | None = None,
                     audio: AudioTrack | None = None, xq: np.ndarray | None = None) -> ClipSignals:
        """Run each signal once on a decoded clip: the input of every scorer."""
        out = ClipSignals(clip_id, timings=dict(timings or {}), parsed=parse_title(title, description))
        signals = list(signals) if signals is not None else self.signals
        if sampled is not None and xq is None and ("visual" in signals or "category" in signals):
            xq = self.embed(sampled, out.timings)
        embedded = {}  # visual index name -> the clip's frame vectors in it
        if "visual" in signals and sampled is not None:
            out.visual = visual_candidates(self.index.visual, self.index, sampled, self.signal_settings, out.timings, xq)
            embedded[self.index.visual.name] = xq
            for name in self.aux_visual:  # another encoder over the same keyframes (its own embedding)
                t0 = time.perf_counter()
                embedded[name] = self.index.baselines[name].encoder.embed(sampled.frames)
                out.aux_visual[name] = visual_candidates(self.index.baselines[name], self.index, sampled,
                                                         self.signal_settings, {}, embedded[name])
                out.timings[f"visual_{name}"] = round((time.perf_counter() - t0) * 1000, 2)
        if "category" in signals and self.category is not None:
            if self.text_free_category:  # the same inputs read twice, once without the text rows
                out.category, out.category_without_text = self.category_output(
                    self.category, sampled, xq, audio, title, description, out.timings, without_text=True)
            else:
                out.category = self.category_output(self.category, sampled, xq, audio, title, description, out.timings)
        if "text" in signals:
            out.text = self.text_candidates(title, description, out.timings, out.degraded, out.parsed)
        if self.verifier is not None and out.visual is not None:  # the visual signals' best, and the text's best
            lists = [out.visual, *out.aux_visual.values()]
            text_best = [c.program_id for c in (out.text or [])[:1]]
            out.searched = self.search_programs(text_best, lists, embedded, sampled, out.timings, out.degraded)
            out.verification, problems = self.verifier.verify(sampled.frames, sampled.times, lists, out.timings,
                                                              also=text_best, searched=out.searched)
            out.verified = True
            out.verified_for_text = [p for p in text_best if p not in dict(self.verifier.chosen(lists))]
            out.degraded.extend(problems)
            if self.verifier.settings.scan:
                self.scan_programs(out, lists, [c.program_id for c in (out.text or [])[: self.verifier.settings.scan_text]],
                                   sampled)
        return out

    def scan_targets(self, lists: list[list[VisualCandidate]], text_best: list[str],
                     verification: dict) -> list[tuple[str, bool]]:
        """The programs whose episodes are scanned for the clip (VerifySettings.scan): the text's best `scan_text`,
        then the first visual list's best `scan_lead` and each other list's best (lists in `scan_order`), that are
        catalog programs with no alignment verified at `enough` (at a scale of at least `confirm_scale`); at most
        `scan` of them, each with whether only the text chose it."""
        st = self.verifier.settings
        ordered = [cs for cs in (lists[::-1] if st.scan_order == "reversed" else lists) if cs]
        visual_best = [c.program_id for i, cs in enumerate(ordered) for c in cs[: st.scan_lead if i == 0 else 1]]
        out: list[tuple[str, bool]] = []
        for pid in dict.fromkeys([*text_best[: st.scan_text], *visual_best]):
            if pid in self.index.programs and not st.confirms(verification.get(pid)):
                out.append((pid, pid not in visual_best))
        return out[: st.scan]

    def scan_programs(self, out: ClipSignals, lists: list[list[VisualCandidate]], text_best: list[str],
                      sampled: SampledFrames) -> None:
        """Scan the episodes of the clip's scan targets and keep each scan's verification where it fits better than
        the program's own (or the program had none); what a scan chosen by the text alone replaced is kept in
        `out.unscanned` for the visual-only re-ranker."""
        targets = self.scan_targets(lists, text_best, out.verification)
        programs = [(pid, [e.episode_id for e in self.index.programs[pid].episodes]) for pid, _ in targets]
        found, problems = self.verifier.scan(sampled.frames, sampled.times, programs, out.timings)
        out.degraded.extend(problems)
        for pid, for_text in targets:
            v, before = found.get(pid), out.verification.get(pid)
            if v is not None and (before is None or v.fit_trimmed > before.fit_trimmed):
                if for_text:
                    out.unscanned[pid] = before
                out.verification[pid] = v

    def search_programs(self, programs: list[str], lists: list[list[VisualCandidate]], embedded: dict[str, np.ndarray],
                        sampled: SampledFrames, timings: dict, degraded: list[str]) -> dict[str, list[VisualCandidate]]:
        """Alignments of each of `programs` (the text's best) that the visual lists did not rank among those verified,
        from a search of its own keyframes with each visual encoder (VerifySettings.program_search). An encoder whose
        vector index cannot give its stored vectors back is left out, and said in `degraded`."""
        k = self.verifier.settings.program_search
        verified = dict(self.verifier.chosen(lists))
        todo = [p for p in programs if p not in verified and p in self.index.programs]
        if not k or not todo:
            return {}
        t0 = time.perf_counter()
        indexes = {self.index.visual.name: self.index.visual, **self.index.baselines}
        out = {}
        for pid in todo:
            found = []
            for name, xq in embedded.items():
                try:
                    found += program_candidates(indexes[name], self.index, xq, pid, sampled, k)
                except IndexBackendError as e:
                    degraded.append(f"program search ({name}): {e}")
            if found:
                out[pid] = found
        timings["program_search"] = round((time.perf_counter() - t0) * 1000, 2)
        return out

    def result(self, signals: ClipSignals, use_reranker: bool = True, reranker=None,
               ranked: list[tuple[str, float]] | None = None) -> Result:
        """Score the united candidates: with `reranker` (default: the index's) when there is one and both visual and
        text ran, else RRF. `ranked` is that re-ranker's scoring when the caller already has it."""
        reranker = (reranker or self.reranker) if use_reranker else None
        clip_category, aux = None, None
        if reranker is not None and signals.visual is not None and signals.text is not None:
            if ranked is None:
                t0 = time.perf_counter()
                ranked = reranker.score(signals, self.index.programs)
                signals.timings["rerank"] = round((time.perf_counter() - t0) * 1000, 2)
            clip_category = self.category_given_matches(signals.category, ranked, reranker, signals=signals)
            aux = reranker.aux_candidates(signals)
            verification = signals.verification if reranker.settings.verify else None
        else:
            reranker, ranked, verification = None, None, None
        return build_result(signals.clip_id, self.index, self.threshold_for(reranker), signals.timings,
                            self.settings.top_k, signals.visual, signals.text, signals.degraded, signals.category,
                            ranked, clip_category, aux, verification, signals.searched if verification else None)

    def category_given_matches(self, category, ranked: list[tuple[str, float]], reranker, by_level: bool = False,
                               signals: ClipSignals | None = None):
        """The clip's category with the candidates `reranker` ranked folded in as it says (Reranker.fold_category:
        by the leaf calibrator, or with `by_level` level by level, which the eval reports beside it; given the
        clip's `signals`, its level 1 refined from the candidate lists first when the re-ranker has a refiner);
        None without a category model."""
        if category is None:
            return None
        return reranker.fold_category(category, ranked, self.index.programs, by_level, signals)

    def decode(self, path: str | Path, timings: dict) -> tuple[SampledFrames, AudioTrack | None]:
        """Decode the clip's frames once (and its audio track when the category model will read it)."""
        t0 = time.perf_counter()
        sampled = decode_clip(path, self.settings)
        timings["decode"] = round((time.perf_counter() - t0) * 1000, 2)
        audio = None
        if "category" in self.signals:
            t0 = time.perf_counter()
            audio = extract_audio(path)
            timings["audio"] = round((time.perf_counter() - t0) * 1000, 2)
        return sampled, audio

    def video_signals(self, path: str | Path | None, clip_id: str | None = None, title: str = "",
                      description: str = "") -> ClipSignals:
        sampled, audio, timings = None, None, {}
        if self.needs_video:
            if path is None:
                raise InputError("the visual and category signals need a video")
            sampled, audio = self.decode(path, timings)
        return self.clip_signals(clip_id or (Path(path).stem if path else "clip"), sampled, title, description,
                                 timings=timings, audio=audio)

    def lookup_video(self, path: str | Path | None, clip_id: str | None = None, title: str = "",
                     description: str = "") -> Result:
        t0 = time.perf_counter()
        signals = self.video_signals(path, clip_id, title, description)
        result = self.result(signals)
        result.timings_ms["total"] = round((time.perf_counter() - t0) * 1000, 2)
        return result

    def lookup_clips(self, queries_path: str | Path, clips: list[Clip],
                     progress: Callable[[int, int], None] | None = None) -> tuple[list[Result], list[str]]:
        """Look up every clip; a clip that fails gets a result with `error` set and the batch goes on."""
        results, failures = [], []
        for n, clip in enumerate(clips, 1):
            try:
                path = clip_video_path(queries_path, clip) if self.needs_video else None
                results.append(self.lookup_video(path, clip.clip_id, clip.title, clip.description))
            except MediaError as e:
                failures.append(f"{clip.clip_id}: {e}")
                results.append(Result(clip_id=clip.clip_id, error=str(e)))
            if progress:
                progress(n, len(clips))
        return results, failures


Lookup = Associator  # the name the CLI and tests used before the re-ranker
