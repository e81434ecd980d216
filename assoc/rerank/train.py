"""`assoc train reranker`: run the index's signals over labelled clips (the val split) and fit the re-ranker.

Besides the model, ablations are fitted on the same clips and saved under `ablations/`, so `assoc eval`
can report their effect side by side: without the category-prior features (`no_category`), and
without the auxiliary visual signal (`no_aux_visual`: the MoCo encoder's candidates only), and without
the clip's title and description (`no_text`: every visual signal and the category prior, fused: the
visual path's best figure), and, when the model reads the verification against the episodes, without
it (`no_verify`), and, when it reads how many frames each verification compared, without that (`no_verify_frames`),
and, when it reads the fits checked on the pictures' detail, without those (`no_verify_detail`).

Each model also gets the category refiner over the candidate lists it reads (assoc.rerank.category_refine), fitted on
the same clips, when it beats the category model's level 1 out of fold.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from assoc.catalog import clip_video_path, load_queries
from assoc.errors import InputError, MediaError, ModelError
from assoc.rerank.category_refine import fit_level1_refiner
from assoc.rerank.features import without_text
from assoc.rerank.model import RerankSettings, fit_reranker, training_set
from assoc.rerank.signals_cache import CachedClip, cache_key, clip_digest, open_signals_cache
from assoc.workers import map_in_workers

ABLATIONS_DIR = "ablations"
AUTO = ("auto",)  # RerankSettings.aux_visual: the index's hand-made visual baselines that it has
AUTO_AUX = ("color_histogram", "luma_thumbnail", "relative_histogram")


def index_identity(manifest: dict) -> dict:
    """What the features depend on: the encoder (visual scores) and the category model (priors)."""
    return {"encoder": manifest.get("encoder", {}).get("checksum"),
            "category": manifest.get("category", {}).get("checksum")}


def train_reranker(index_path: str | Path, queries_path: str | Path, out: str | Path,
                   settings: RerankSettings | None = None, es: dict | None = None,
                   progress: Callable[[int, int], None] | None = None, catalog_root: str | None = None,
                   program_search: bool = False, scan: bool = True, scan_depth: int = 1,
                   verify_channels: tuple[str, ...] | None = None,
                   signals_cache: str | Path | None = None, workers: int = 1) -> dict:
    """Fit the re-ranker (and its no-category ablation) on the labelled clips; return the training report.
    `program_search`: verification also searches the program the title names among its own keyframes
    (assoc.verify.VerifySettings.program_search), saved with the model so that lookups do the same. `scan`: the
    episodes of the clip's likeliest programs that no alignment verified are scanned for where it fits
    (VerifySettings.scan, SCAN_PROGRAMS of them), saved likewise; `scan_depth` > 1: the text's and the first visual
    list's best that many each (VerifySettings.scan_text, scan_lead), at most SCAN_PROGRAMS_DEEP programs.
    `verify_channels`: the pictures verification compares, in order (VerifySettings.channels; None: its default,
    luminance only; ("luma", "value"): HSV value too where luminance does not confirm).
    `signals_cache`: a directory that keeps each clip's signals as they are computed, so a run resumes where an
    earlier one stopped and a refit with other model settings computes nothing (assoc.rerank.signals_cache).
    `workers` > 1: the clips' signals are computed in that many processes, each with its share of the CPU threads."""
    from dataclasses import asdict, replace

    from assoc.verify import DETAIL_WIDTH, PROGRAM_SEARCH, SCAN_PROGRAMS, SCAN_PROGRAMS_DEEP, VerifySettings

    if scan_depth < 1:
        raise InputError(f"scan depth must be at least 1 (got {scan_depth})")
    if workers < 1:
        raise InputError(f"workers must be at least 1 (got {workers})")

    # as `assoc train reranker` does
    settings = settings or RerankSettings(aux_visual=AUTO, verify=True, verify_frames=True, season_marker=True)
    if settings.verify and settings.verify_settings is None:  # saved with the model: lookups verify the same way
        # the detail check costs a decode of the episodes at its width: only for a model that reads it
        verify_settings = VerifySettings(detail_width=DETAIL_WIDTH if settings.verify_detail else None,
                                         program_search=PROGRAM_SEARCH if program_search else None,
                                         scan=(SCAN_PROGRAMS if scan_depth == 1 else SCAN_PROGRAMS_DEEP) if scan else None,
                                         scan_text=scan_depth, scan_lead=scan_depth,
                                         **({"channels": tuple(verify_channels)} if verify_channels else {}))
        settings = replace(settings, verify_settings=asdict(verify_settings))
    assoc = open_for_training(index_path, settings, es, catalog_root)
    settings = replace(settings, aux_visual=assoc.aux_visual)  # AUTO resolved to the baselines the index has
    cache, scratch = None, None
    if signals_cache is None and workers > 1:  # the workers hand their signals over through a cache of its own
        scratch = tempfile.TemporaryDirectory(prefix="assoc-signals-")
        signals_cache = Path(scratch.name) / "cache"
    if signals_cache is not None:
        key = cache_key(assoc.index.manifest, settings.depth, assoc.aux_visual,
                        settings.verify_settings if settings.verify else False)
        cache = open_signals_cache(signals_cache, key)
    try:
        examples, categories, failures, counts = clip_signals(assoc, queries_path, cache, progress, workers,
                                                       (index_path, settings, es, catalog_root))
    finally:
        if scratch is not None:
            scratch.cleanup()
    if not examples:
        raise InputError(f"{queries_path}: no clip could be used for training")
    report_cache = cache is not None and scratch is None
    identity = index_identity(assoc.index.manifest)
    models = {"model": replace(settings, use_category=settings.use_category and assoc.category is not None)}
    if assoc.category is not None:
        models["no_category"] = replace(models["model"], use_category=False)
    if settings.aux_visual:
        models["no_aux_visual"] = replace(models["model"], aux_visual=())
    models["no_text"] = replace(models["model"], use_text=False)  # the visual path alone, every visual signal fused
    if settings.verify:
        models["no_verify"] = replace(models["model"], verify=False)
    if settings.verify and settings.verify_frames:
        models["no_verify_frames"] = replace(models["model"], verify_frames=False)
    if settings.season_marker:
        models["no_season_marker"] = replace(models["model"], season_marker=False)
    if settings.verify and settings.verify_detail:
        # verifying as a re-ranker trained without the check would (used as a model, it does not decode for it)
        models["no_verify_detail"] = replace(models["model"], verify_detail=False,
                                             verify_settings={**settings.verify_settings, "detail_width": None})
    out = Path(out)
    report = {"queries": str(queries_path), "failures": failures, "models": {}}
    if report_cache:
        report["signals_cache"] = {"directory": str(cache.directory), **counts}
    sets: dict = {}
    refiners: dict = {}
    for name, s in models.items():
        key = (s.aux_visual, s.use_text, s.verify_frames, s.verify_detail)
        if key not in sets:  # the pool depends on the signals that feed it, the columns on what the model reads
            used = examples if s.use_text else [(without_text(sig), truth) for sig, truth in examples]
            # built with the verification columns when the model reads them (they come last: the no_verify
            # ablation reads the same leading columns)
            sets[key] = training_set(used, assoc.index.programs, s.depth, s.aux_visual, settings.verify,
                                     s.verify_frames, s.verify_detail, categories)
        model = fit_reranker(sets[key], s)
        refine_key = (s.aux_visual, s.use_text)
        if refine_key not in refiners:  # the lists the model reads: its auxiliary visual lists, the text's if it reads it
            refiners[refine_key] = fit_level1_refiner(examples, categories, assoc.index.programs, s.aux_visual,
                                                      s.use_text, settings.seed)
        model.category_refiner, refine_summary = refiners[refine_key]
        if refine_summary is not None:
            model.info["category_refiner"] = refine_summary
        model.info.update(index=identity, queries=str(queries_path), failures=len(failures))
        model.save(out if name == "model" else out / ABLATIONS_DIR / name)
        report["models"][name] = {"threshold": model.threshold, **model.info}
    return report


def open_for_training(index_path, settings: RerankSettings, es: dict | None, catalog_root: str | None):
    """The index's Associator as training reads it: RRF, no re-ranker; the auxiliary visual lists resolved (AUTO: the
    hand-made baselines the index has); the category also computed without the clip's text (the no_text ablation)."""
    from assoc.lookup import Associator, LookupSettings
    from assoc.verify import VerifySettings

    assoc = Associator.open(index_path, LookupSettings(top_k=settings.depth, catalog_root=catalog_root), es=es,
                            scorer="rrf", aux_visual=() if settings.aux_visual == AUTO else settings.aux_visual,
                            verify=VerifySettings.from_config(settings.verify_settings) if settings.verify else False)
    if "visual" not in assoc.signals or "text" not in assoc.signals:
        raise InputError(f"{index_path}: the re-ranker needs an index with both the visual and the text signal")
    if settings.aux_visual == AUTO:
        assoc.aux_visual = tuple(n for n in AUTO_AUX if n in assoc.index.baselines)
    assoc.text_free_category = True  # the no_text ablation's category prior: the model without the clip's text
    return assoc


def _one_clip(assoc, queries_path, clip, cache, digest: str | None = None) -> CachedClip:
    """The clip's signals, from the cache when it has them for this clip's record and video; computed and cached else.

    `digest`: the clip's digest when the caller has it already (see clip_digest)."""
    video = clip_video_path(queries_path, clip)
    if cache and digest is None:
        digest = clip_digest(clip.model_dump_json(), video)
    cached = cache.get(clip.clip_id, digest) if cache else None
    if cached is None:
        signals = assoc.video_signals(video, clip.clip_id, clip.title, clip.description)
        cached = CachedClip(signals, clip.program_id, tuple(clip.category) if clip.category else None)
        if cache:
            cache.put(clip.clip_id, digest, cached)
    return cached


def clip_signals(assoc, queries_path, cache, progress, workers: int, open_args: tuple):
    """Every clip's signals (in the queries' order), and the failures: lines rejected, videos that do not decode."""
    clips, rejected = load_queries(queries_path)
    failures = [str(e) for e in rejected]
    entries: dict[str, CachedClip | str] = {}  # clip id -> its signals, or why it failed
    todo = []
    for clip in clips:
        if workers == 1:
            try:
                entries[clip.clip_id] = _one_clip(assoc, queries_path, clip, cache)
            except MediaError as e:
                entries[clip.clip_id] = f"{clip.clip_id}: {e}"
            if progress:
                progress(len(entries), len(clips))
            continue
        digest = clip_digest(clip.model_dump_json(), clip_video_path(queries_path, clip))
        entries[clip.clip_id] = cache.get(clip.clip_id, digest)  # None: a worker computes it
        if entries[clip.clip_id] is None:
            todo.append((clip, digest))
    counts = {"reused": cache.hits, "computed": cache.written} if cache else {}
    if todo:
        counts = {"reused": len(clips) - len(todo), "computed": len(todo)}
        done = len(clips) - len(todo)
        setup_args = (*open_args, queries_path, cache.directory, cache.key)
        for (clip, _), failure in zip(todo, map_in_workers(_worker_clip, todo, workers, _worker_init, setup_args)):
            entries[clip.clip_id] = failure
            done += 1
            if progress:
                progress(done, len(clips))
        for clip, digest in todo:  # what a worker computed, read back from the cache
            if entries[clip.clip_id] is None:
                entries[clip.clip_id] = cache.get(clip.clip_id, digest)
                if entries[clip.clip_id] is None:
                    raise ModelError(f"{cache.directory}: a worker's signals of {clip.clip_id} cannot be read back")
    examples, categories = [], []
    for clip in clips:
        entry = entries[clip.clip_id]
        if isinstance(entry, str):
            failures.append(entry)
        else:
            examples.append((entry.signals, entry.program_id))
            categories.append(entry.category)
    return examples, categories, failures, counts


# one Associator per worker process (set up once by _worker_init, used by _worker_clip)
_WORKER: dict = {}


def _worker_init(index_path, settings, es, catalog_root, queries_path, cache_dir, key):
    from assoc.clip_cache import ClipCache

    _WORKER["assoc"] = open_for_training(index_path, settings, es, catalog_root)
    _WORKER["queries"] = queries_path
    _WORKER["cache"] = ClipCache(cache_dir, key, mismatch="refuse", what="signals cache")


def _worker_clip(clip, digest):
    """None once the clip's signals are in the cache; why it failed, when its video does not decode."""
    try:
        _one_clip(_WORKER["assoc"], _WORKER["queries"], clip, _WORKER["cache"], digest)
        return None
    except MediaError as e:
        return f"{clip.clip_id}: {e}"
