"""`assoc eval`: look every query clip up (decoding each once), score the run and the baselines."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from assoc.catalog import clip_video_path, load_queries
from assoc.category.metrics import category_metrics
from assoc.clip_cache import ClipCache, clip_digest, code_digest, index_digest
from assoc.errors import AssocError, InputError, MediaError
from assoc.index_reader import open_index
from assoc.jsonl import write_jsonl
from assoc.lookup import Associator, LookupSettings, build_result, visual_candidates
from assoc.schema import Result
from assoc.workers import map_in_workers
from eval.report import write_report
from eval.scoring import score_run

PER_CLIP_DIR = "per-clip"  # in the report directory: each clip's records, so a stopped run resumes (assoc.clip_cache)
PER_CLIP_FORMAT = 1


@dataclass
class ClipRecord:
    """What one clip contributes to a report: its result in every run, and the category models' outputs."""
    results: dict[str, Result]
    category: dict[str, object] = field(default_factory=dict)  # model name -> CategoryOutput (clips with a category)
    category_ms: float | None = None  # audio + category model time, when the category signal ran
    failure: str | None = None


class _Evaluation:
    """The runs of one evaluation (every signal alone, the fusions, the baselines) and how to compute one clip's."""

    def __init__(self, index_path, settings: LookupSettings, baselines: bool, es: dict | None, vector_device: str):
        self.settings = settings
        self.index = index = open_index(index_path, es=es, vector_device=vector_device)
        self.lookup = lookup = Associator(index, settings)
        self.visual_runs = {"visual": index.visual} if index.visual is not None else {}
        self.notes = []
        if index.visual is not None:  # the index's --compare-encoder runs are scored with or without the baselines
            self.visual_runs.update(index.baselines if baselines else index.comparisons)
        if baselines and index.visual is not None:
            if not index.manifest["encoder"].get("trained"):
                self.notes.append("the index's encoder is untrained: the 'visual' run is the untrained-encoder baseline")
            elif "untrained_encoder" not in index.baselines:
                self.notes.append("this index has no untrained-encoder baseline (built with --no-untrained-baseline)")
        self.base_threshold = lookup.threshold_for(None)
        self.rerankers = {}
        if lookup.reranker is not None:
            self.rerankers = {"fused": lookup.reranker, "fused_rrf": None,
                              **({f"fused_{n}": m for n, m in index.reranker_ablations().items()} if baselines else {})}
            lookup.aux_visual = tuple(dict.fromkeys(n for m in self.rerankers.values() if m for n in m.settings.aux_visual))
            lookup.text_free_category = any(m is not None and not m.settings.use_text for m in self.rerankers.values())
        elif lookup.text and self.visual_runs:
            self.rerankers = {"fused": None}
        self.run_names = list(self.visual_runs) + (["text"] if lookup.text else []) + list(self.rerankers)
        self.category_models = {}
        if lookup.category is not None:
            self.category_models = {"model": lookup.category, **(index.category_ablations() if baselines else {})}

    def clip_record(self, clip, queries_path) -> ClipRecord:
        index, lookup, settings, rerankers = self.index, self.lookup, self.settings, self.rerankers
        timings: dict = {}
        try:
            sampled, audio, xq = None, None, None
            if lookup.needs_video:
                path = clip_video_path(queries_path, clip)
                sampled, audio = lookup.decode(path, timings)
                xq = lookup.embed(sampled, timings)
            signals = lookup.clip_signals(clip.clip_id, sampled, clip.title, clip.description, timings, audio=audio,
                                          xq=xq)
            vis = {name: signals.aux_visual.get(name) or visual_candidates(v, index, sampled, lookup.signal_settings, {})
                   for name, v in self.visual_runs.items() if name != "visual"}
            vis["visual"] = signals.visual
            scored = {name: m.score(signals, index.programs) for name, m in rerankers.items()  # once per clip
                      if m is not None and signals.text is not None}
            # each re-ranked result's category: the model given that re-ranker's candidates, as a lookup's is
            folded = {name: lookup.category_given_matches(signals.category, ranked, rerankers[name], signals=signals)
                      for name, ranked in scored.items()}
            record = ClipRecord(results={})
            if signals.category is not None:
                record.category_ms = signals.timings.get("audio", 0.0) + signals.timings.get("category", 0.0)
                if clip.category:
                    feats = (lookup.category_features(sampled, xq, audio, clip.title, clip.description)
                             if len(self.category_models) > 1 else None)
                    for name, m in self.category_models.items():
                        record.category[name] = signals.category if name == "model" else m.predict([feats])[0]
                    if lookup.reranker is not None:  # the lookup's category: the model given the calibrated matches
                        record.category["model+matches"] = (folded["fused"] if "fused" in folded
                                                            else signals.category.with_matches([]))
                        if lookup.reranker.category_refiner is not None and "fused" in scored:  # beside it, unrefined
                            record.category["model+matches (no refiner)"] = lookup.category_given_matches(
                                signals.category, scored["fused"], rerankers["fused"])
                        if lookup.reranker.level_calibrators is not None:  # beside it, the level-by-level fold
                            record.category["model+matches (level fold)"] = (
                                lookup.category_given_matches(signals.category, scored["fused"], rerankers["fused"], True,
                                                              signals)
                                if "fused" in scored else signals.category.with_matches([]))
            build = lambda v, t, ranked=None, aux=None, ver=None: build_result(  # noqa: E731
                clip.clip_id, index, self.base_threshold if ranked is None else ranked[1], signals.timings,
                settings.top_k, v, t, signals.degraded, signals.category, ranked[0] if ranked else None, aux=aux,
                verification=ver, clip_category=ranked[2] if ranked else None)
            for name in self.visual_runs:
                record.results[name] = build(vis[name], None)
            if "text" in self.run_names:
                record.results["text"] = build(None, signals.text or [])
            for name, model in rerankers.items():
                if name not in scored:
                    record.results[name] = lookup.result(signals, use_reranker=False)
                else:
                    record.results[name] = build(signals.visual, signals.text if model.settings.use_text else None,
                                                 (scored[name], lookup.threshold_for(model), folded[name]),
                                                 model.aux_candidates(signals),
                                                 signals.verification if model.settings.verify else None)
            return record
        except MediaError as e:
            return ClipRecord(results={name: Result(clip_id=clip.clip_id, error=str(e)) for name in self.run_names},
                              failure=f"{clip.clip_id}: {e}")


def per_clip_key(manifest: dict, settings: LookupSettings, baselines: bool, vector_device: str) -> dict:
    """What a clip's records depend on besides the clip: the whole index (re-ranker included), the settings, the code."""
    return {"format": PER_CLIP_FORMAT, "code": code_digest(), "index": index_digest(manifest),
            "text_index": manifest.get("backends", {}).get("text"), "settings": vars(settings),
            "baselines": baselines, "vector_device": vector_device}


# one evaluation per worker process (set up once by _worker_init, used by _worker_clip)
_WORKER: dict = {}


def _worker_init(index_path, settings, baselines, es, vector_device, queries_path, cache_dir, key):
    _WORKER["evaluation"] = _Evaluation(index_path, settings, baselines, es, vector_device)
    _WORKER["queries"] = queries_path
    _WORKER["cache"] = ClipCache(cache_dir, key, mismatch="refuse", what="per-clip records")


def _worker_clip(clip, digest) -> str:
    record = _WORKER["evaluation"].clip_record(clip, _WORKER["queries"])
    _WORKER["cache"].put(clip.clip_id, digest, record)
    return clip.clip_id


def evaluate(index_path: str | Path, queries_path: str | Path, out_dir: str | Path,
             settings: LookupSettings | None = None, baselines: bool = True,
             progress: Callable[[int, int], None] | None = None, es: dict | None = None,
             vector_device: str = "cpu", workers: int = 1, resume: bool = True) -> dict:
    """Run every signal alone, their fusion and the reference baselines over every clip; write the report.

    Each clip is decoded once and each signal computed once; the runs are assembled from those. Each clip's records
    are kept under OUT/per-clip as they are computed: a run that stopped resumes there (`resume`; records made with
    another index, other settings or other code are computed again). `workers` > 1: clips are looked up in that many
    processes, each with its share of the CPU threads.
    """
    if workers < 1:
        raise InputError(f"workers must be at least 1 (got {workers})")
    settings = settings or LookupSettings(top_k=50)
    evaluation = _Evaluation(index_path, settings, baselines, es, vector_device)
    index, lookup, run_names = evaluation.index, evaluation.lookup, evaluation.run_names
    clips, rejected = load_queries(queries_path)
    out_dir = Path(out_dir)
    cache_dir = out_dir / PER_CLIP_DIR
    if not resume:
        shutil.rmtree(cache_dir, ignore_errors=True)
    key = per_clip_key(index.manifest, settings, baselines, vector_device)
    cache = ClipCache(cache_dir, key, mismatch="reset", what="per-clip records")
    notes = list(evaluation.notes)
    if cache.reset_because:
        notes.append(f"the per-clip records in {cache_dir} were made otherwise (differs in: "
                     f"{', '.join(cache.reset_because)}): computed again")
    t0 = time.time()
    digests = {c.clip_id: clip_digest(c.model_dump_json(), _video_or_none(queries_path, c)) for c in clips}
    records: dict[str, ClipRecord] = {}
    todo = []
    for clip in clips:
        record = cache.get(clip.clip_id, digests[clip.clip_id])
        if record is None:
            todo.append(clip)
        else:
            records[clip.clip_id] = record
    done = len(records)
    if progress and done:
        progress(done, len(clips))
    if workers == 1 or len(todo) <= 1:
        for clip in todo:
            records[clip.clip_id] = evaluation.clip_record(clip, queries_path)
            cache.put(clip.clip_id, digests[clip.clip_id], records[clip.clip_id])
            done += 1
            if progress:
                progress(done, len(clips))
    else:
        setup_args = (index_path, settings, baselines, es, vector_device, queries_path, cache_dir, key)
        for _ in map_in_workers(_worker_clip, [(c, digests[c.clip_id]) for c in todo], workers, _worker_init,
                                setup_args):
            done += 1
            if progress:
                progress(done, len(clips))
        for clip in todo:
            records[clip.clip_id] = cache.get(clip.clip_id, digests[clip.clip_id])
            if records[clip.clip_id] is None:
                raise AssocError(f"{cache_dir}: a worker's record of {clip.clip_id} cannot be read back")
    results: dict[str, dict[str, Result]] = {name: {} for name in run_names}
    failures = [str(e) for e in rejected]
    category_outputs: dict[str, list] = {name: [] for name in evaluation.category_models}
    category_truth: list = []
    category_ms: list[float] = []
    for clip in clips:
        record = records[clip.clip_id]
        for name in run_names:
            results[name][clip.clip_id] = record.results[name]
        if record.failure:
            failures.append(record.failure)
        if record.category_ms is not None:
            category_ms.append(record.category_ms)
        if record.category:
            category_truth.append(tuple(clip.category))
            for name, output in record.category.items():
                category_outputs.setdefault(name, []).append(output)
    for name in run_names:
        write_jsonl(out_dir / f"results_{name}.jsonl", results[name].values())
    report = {
        "index": str(index.path), "queries": str(queries_path), "clips": len(clips),
        "open_set_clips": sum(c.program_id is None for c in clips), "threshold": lookup.threshold,
        "encoder": index.manifest.get("encoder"), "signals": index.signals,
        "reranker": index.manifest.get("reranker"), "settings": vars(settings),
        "runs": {name: score_run(clips, results[name], index.programs) for name in run_names},
        "failures": failures, "notes": notes, "wall_seconds": round(time.time() - t0, 1),
        "per_clip": {"directory": str(cache_dir), "reused": len(clips) - len(todo), "computed": len(todo),
                     "workers": workers},
    }
    if category_outputs:
        report["category"] = {
            "clips": len(category_truth), "open_set_clips": sum(c.program_id is None and bool(c.category) for c in clips),
            "inference_ms_per_clip": {"mean": round(float(np.mean(category_ms)), 2),
                                      "p50": round(float(np.percentile(category_ms, 50)), 2)} if category_ms else {},
            "models": {name: category_metrics(outs, category_truth) for name, outs in category_outputs.items()}}
    write_report(out_dir, report)
    return report


def _video_or_none(queries_path, clip) -> Path | None:
    try:
        return clip_video_path(queries_path, clip)
    except Exception:  # the lookup names a bad path itself
        return None


def score_results(results_path: str | Path, queries_path: str | Path, out_dir: str | Path) -> dict:
    """Score an existing lookup run (results.jsonl) without running anything."""
    from assoc.jsonl import read_jsonl_strict

    clips, rejected = load_queries(queries_path)
    results = {r.clip_id: r for r in read_jsonl_strict(results_path, Result)}
    report = {"index": "-", "queries": str(queries_path), "clips": len(clips),
              "open_set_clips": sum(c.program_id is None for c in clips),
              "runs": {"results": score_run(clips, results)}, "failures": [str(e) for e in rejected], "notes": []}
    write_report(out_dir, report)
    return report
