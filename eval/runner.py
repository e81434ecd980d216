"""`assoc eval`: look every query clip up (decoding each once), score the run and the baselines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from assoc.catalog import clip_video_path, load_queries
from assoc.category.metrics import category_metrics
from assoc.errors import MediaError
from assoc.index_reader import open_index
from assoc.jsonl import write_jsonl
from assoc.lookup import Associator, LookupSettings, build_result, visual_candidates
from assoc.schema import Result
from eval.report import write_report
from eval.scoring import score_run


def evaluate(index_path: str | Path, queries_path: str | Path, out_dir: str | Path,
             settings: LookupSettings | None = None, baselines: bool = True,
             progress: Callable[[int, int], None] | None = None, es: dict | None = None,
             vector_device: str = "cpu") -> dict:
    """Run every signal alone, their fusion and the reference baselines over every clip; write the report.

    Each clip is decoded once and each signal computed once; the runs are assembled from those.
    """
    settings = settings or LookupSettings(top_k=50)
    index = open_index(index_path, es=es, vector_device=vector_device)
    clips, rejected = load_queries(queries_path)
    lookup = Associator(index, settings)
    visual_runs = {"visual": index.visual} if index.visual is not None else {}
    notes = []
    if baselines and index.visual is not None:
        visual_runs.update(index.baselines)
        if not index.manifest["encoder"].get("trained"):
            notes.append("the index's encoder is untrained: the 'visual' run is the untrained-encoder baseline")
        elif "untrained_encoder" not in index.baselines:
            notes.append("this index has no untrained-encoder baseline (built with --no-untrained-baseline)")
    base_threshold = lookup.threshold_for(None)
    rerankers = {}
    if lookup.reranker is not None:
        rerankers = {"fused": lookup.reranker, "fused_rrf": None,
                     **({f"fused_{n}": m for n, m in index.reranker_ablations().items()} if baselines else {})}
        lookup.aux_visual = tuple(dict.fromkeys(n for m in rerankers.values() if m for n in m.settings.aux_visual))
        lookup.text_free_category = any(m is not None and not m.settings.use_text for m in rerankers.values())
    elif lookup.text and visual_runs:
        rerankers = {"fused": None}
    run_names = list(visual_runs) + (["text"] if lookup.text else []) + list(rerankers)
    results: dict[str, dict[str, Result]] = {name: {} for name in run_names}
    failures = [str(e) for e in rejected]
    category_models = {}
    if lookup.category is not None:
        category_models = {"model": lookup.category, **(index.category_ablations() if baselines else {})}
    category_outputs: dict[str, list] = {name: [] for name in category_models}
    category_truth: list = []
    category_ms: list[float] = []
    t0 = time.time()
    for n, clip in enumerate(clips, 1):
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
                   for name, v in visual_runs.items() if name != "visual"}
            vis["visual"] = signals.visual
            scored = {name: m.score(signals, index.programs) for name, m in rerankers.items()  # once per clip
                      if m is not None and signals.text is not None}
            # each re-ranked result's category: the model given that re-ranker's candidates, as a lookup's is
            folded = {name: lookup.category_given_matches(signals.category, ranked, rerankers[name])
                      for name, ranked in scored.items()}
            if signals.category is not None:
                category_ms.append(signals.timings.get("audio", 0.0) + signals.timings.get("category", 0.0))
                if clip.category:
                    category_truth.append(tuple(clip.category))
                    feats = lookup.category_features(sampled, xq, audio, clip.title, clip.description) if len(category_models) > 1 else None
                    for name, m in category_models.items():
                        category_outputs[name].append(signals.category if name == "model" else m.predict([feats])[0])
                    if lookup.reranker is not None:  # the lookup's category: the model given the calibrated matches
                        category_outputs.setdefault("model+matches", []).append(
                            folded["fused"] if "fused" in folded else signals.category.with_matches([]))
                        if lookup.reranker.level_calibrators is not None:  # beside it, the level-by-level fold
                            category_outputs.setdefault("model+matches (level fold)", []).append(
                                lookup.category_given_matches(signals.category, scored["fused"], rerankers["fused"], True)
                                if "fused" in scored else signals.category.with_matches([]))
            build = lambda v, t, ranked=None, aux=None, ver=None: build_result(  # noqa: E731
                clip.clip_id, index, base_threshold if ranked is None else ranked[1], signals.timings,
                settings.top_k, v, t, signals.degraded, signals.category, ranked[0] if ranked else None, aux=aux,
                verification=ver, clip_category=ranked[2] if ranked else None)
            for name in visual_runs:
                results[name][clip.clip_id] = build(vis[name], None)
            if "text" in results:
                results["text"][clip.clip_id] = build(None, signals.text or [])
            for name, model in rerankers.items():
                if name not in scored:
                    results[name][clip.clip_id] = lookup.result(signals, use_reranker=False)
                else:
                    results[name][clip.clip_id] = build(signals.visual, signals.text if model.settings.use_text else None,
                                                        (scored[name], lookup.threshold_for(model), folded[name]),
                                                        model.aux_candidates(signals),
                                                        signals.verification if model.settings.verify else None)
        except MediaError as e:
            failures.append(f"{clip.clip_id}: {e}")
            for name in run_names:
                results[name][clip.clip_id] = Result(clip_id=clip.clip_id, error=str(e))
        if progress:
            progress(n, len(clips))
    out_dir = Path(out_dir)
    for name in run_names:
        write_jsonl(out_dir / f"results_{name}.jsonl", results[name].values())
    report = {
        "index": str(index.path), "queries": str(queries_path), "clips": len(clips),
        "open_set_clips": sum(c.program_id is None for c in clips), "threshold": lookup.threshold,
        "encoder": index.manifest.get("encoder"), "signals": index.signals,
        "reranker": index.manifest.get("reranker"), "settings": vars(settings),
        "runs": {name: score_run(clips, results[name], index.programs) for name in run_names},
        "failures": failures, "notes": notes, "wall_seconds": round(time.time() - t0, 1),
    }
    if category_models:
        report["category"] = {
            "clips": len(category_truth), "open_set_clips": sum(c.program_id is None and bool(c.category) for c in clips),
            "inference_ms_per_clip": {"mean": round(float(np.mean(category_ms)), 2),
                                      "p50": round(float(np.percentile(category_ms, 50)), 2)} if category_ms else {},
            "models": {name: category_metrics(outs, category_truth) for name, outs in category_outputs.items()}}
    write_report(out_dir, report)
    return report


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
