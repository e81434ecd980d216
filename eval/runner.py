"""`assoc eval`: look every query clip up (decoding each once), score the run and the baselines."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from assoc.catalog import clip_video_path, load_queries
from assoc.errors import MediaError
from assoc.index_reader import open_index
from assoc.jsonl import write_jsonl
from assoc.lookup import Lookup, LookupSettings, decode_clip
from assoc.schema import Result
from eval.report import write_report
from eval.scoring import score_run


def evaluate(index_path: str | Path, queries_path: str | Path, out_dir: str | Path,
             settings: LookupSettings | None = None, baselines: bool = True,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Run the index's lookup and the reference baselines over every clip; write the report."""
    settings = settings or LookupSettings(top_k=50)
    index = open_index(index_path)
    clips, rejected = load_queries(queries_path)
    lookup = Lookup(index, settings)
    runs = {"visual": lookup.index.visual}
    notes = []
    if baselines:
        runs.update(index.baselines)
        if not index.manifest["encoder"].get("trained"):
            notes.append("the index's encoder is untrained: the 'visual' run is the untrained-encoder baseline")
        elif "untrained_encoder" not in index.baselines:
            notes.append("this index has no untrained-encoder baseline (built with --no-untrained-baseline)")
    results: dict[str, dict[str, Result]] = {name: {} for name in runs}
    failures = [str(e) for e in rejected]
    t0 = time.time()
    for n, clip in enumerate(clips, 1):
        try:
            t = time.perf_counter()
            sampled = decode_clip(clip_video_path(queries_path, clip), settings)
            timings = {"decode": round((time.perf_counter() - t) * 1000, 2)}
            for name, vindex in runs.items():
                results[name][clip.clip_id] = lookup.lookup_frames(clip.clip_id, sampled, vindex, timings)
        except MediaError as e:
            failures.append(f"{clip.clip_id}: {e}")
            for name in runs:
                results[name][clip.clip_id] = Result(clip_id=clip.clip_id, error=str(e))
        if progress:
            progress(n, len(clips))
    out_dir = Path(out_dir)
    for name in runs:
        write_jsonl(out_dir / ("results.jsonl" if name == "visual" else f"results_{name}.jsonl"),
                    results[name].values())
    report = {
        "index": str(index.path), "queries": str(queries_path), "clips": len(clips),
        "open_set_clips": sum(c.program_id is None for c in clips), "threshold": lookup.threshold,
        "encoder": index.manifest["encoder"], "settings": vars(settings),
        "runs": {name: score_run(clips, results[name]) for name in runs},
        "failures": failures, "notes": notes, "wall_seconds": round(time.time() - t0, 1),
    }
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
