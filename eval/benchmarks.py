"""Benchmark runners that print figures (never timed tests)."""

from __future__ import annotations

import time
from pathlib import Path

from assoc.catalog import load_catalog
from assoc.errors import InputError
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


def _rss_mb() -> float:
    """Current resident memory of this process, MB (Linux /proc)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def text_scale(out: str | Path, n_programs: int, n_queries: int, semantic: bool = True, seed: int = 0) -> dict:
    """Build a text-only index over an n_programs synthetic catalog; time queries written like uploads."""
    import numpy as np

    from assoc.index_build import BuildSettings, build_index
    from assoc.index_reader import open_index
    from assoc.jsonl import write_jsonl
    from assoc.lookup import Lookup
    from assoc.taxonomy import load_taxonomy
    from eval.synth.generate import _program_record
    from eval.synth.names import clip_text
    from eval.synth.universe import build_universe

    out = Path(out)
    t0 = time.perf_counter()
    programs = build_universe(load_taxonomy(), n_programs, seed, (1, 1), (60, 60))
    write_jsonl(out / "catalog.jsonl", (_program_record(p) for p in programs))
    generate_s = time.perf_counter() - t0
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    build_index(load_catalog(out / "catalog.jsonl"), out / "index",
                settings=BuildSettings(signals=("text",), semantic=semantic))
    build_s = time.perf_counter() - t0
    peak_build = _peak_rss_mb()
    tantivy_bytes = sum(f.stat().st_size for f in (out / "index" / "text" / "tantivy").rglob("*") if f.is_file())
    t0 = time.perf_counter()
    lookup = Lookup(open_index(out / "index"), signals=["text"])
    lookup.lookup_video(None, "warm-up", title=programs[0].title)
    open_s = time.perf_counter() - t0
    rng = np.random.default_rng(seed + 1)
    latencies, hits = [], 0
    for _ in range(n_queries):
        p = programs[int(rng.integers(0, len(programs)))]
        title, desc, mention = clip_text(p.text_fields(), 1, p.season, rng)
        t = time.perf_counter()
        result = lookup.lookup_video(None, "q", title=title, description=desc)
        latencies.append((time.perf_counter() - t) * 1000)
        hits += bool(result.candidates) and result.candidates[0].program_id == p.program_id
    lat = np.array(latencies)
    return {"programs": n_programs, "queries": n_queries, "semantic": semantic,
            "generate_catalog_seconds": round(generate_s, 1), "build_seconds": round(build_s, 1),
            "tantivy_bytes": tantivy_bytes, "open_seconds": round(open_s, 1),
            "query_ms_p50": round(float(np.percentile(lat, 50)), 2), "query_ms_p99": round(float(np.percentile(lat, 99)), 2),
            "query_ms_mean": round(float(lat.mean()), 2),
            "rss_mb_before_build": round(rss_before, 1), "peak_rss_mb_build": round(peak_build, 1),
            "rss_mb_after_queries": round(_rss_mb(), 1), "peak_rss_mb": round(_peak_rss_mb(), 1),
            "recall_at_1_all_mentions": round(hits / n_queries, 3)}


def lookup_stages(index: str | Path, queries: str | Path, n_clips: int = 50, es: dict | None = None,
                  vector_device: str = "cpu", scan_cache_mb: float = 256.0, episode_frames: str = "use") -> dict:
    """Per-stage lookup time per clip, each as a ratio to decoding the same clip alone (measured side by side).

    Each clip is decoded once untimed (so both measurements see a warm file cache), then decoded
    alone (the decode-only time), then looked up in full with every signal the index has. The episodes' scan
    frames are kept between the clips as in the service (`scan_cache_mb`; 0: none), and its hits reported.

    `episode_frames`: "use" (verification reads the frames stored in the index, where it has them), "ignore" (it
    decodes the videos), or "compare": each clip is looked up both ways, in alternating order, by two lookups of the
    same index, and the figures of both are given with how many clips got identical results (timings aside)."""
    import numpy as np

    from assoc.catalog import clip_video_path, load_queries
    from assoc.lookup import Associator, LookupSettings

    if episode_frames not in ("use", "ignore", "compare"):
        raise InputError(f"episode_frames must be use, ignore or compare (got '{episode_frames}')")
    ways = {"use": [True], "ignore": [False], "compare": [True, False]}[episode_frames]
    assocs = {use: Associator.open(index, LookupSettings(scan_cache_mb=scan_cache_mb, episode_frames=use), es=es,
                                   vector_device=vector_device).warm() for use in ways}
    first = assocs[ways[0]]
    clips, _ = load_queries(queries)
    clips = clips[:n_clips]
    decode_only = []
    stages: dict[bool, dict] = {use: {} for use in ways}
    identical = 0
    for k, clip in enumerate(clips):
        path = clip_video_path(queries, clip)
        first.decode(path, {})
        t0 = time.perf_counter()
        first.decode(path, {})
        decode_only.append((time.perf_counter() - t0) * 1000)
        results = {}
        for use in (ways if k % 2 == 0 else ways[::-1]):
            results[use] = assocs[use].lookup_video(path, clip.clip_id, clip.title, clip.description)
            for stage, ms in results[use].timings_ms.items():
                stages[use].setdefault(stage, []).append(ms)
        dumps = [r.model_dump(exclude={"timings_ms"}) for r in results.values()]
        identical += all(d == dumps[0] for d in dumps)
    base = float(np.mean(decode_only))

    def figures(use: bool) -> dict:
        a = assocs[use]
        return {"stages": {s: {"mean_ms": round(float(np.mean(v)), 1), "p50_ms": round(float(np.median(v)), 1),
                               "ratio_to_decode_only": round(float(np.mean(v)) / base, 2)}
                           for s, v in stages[use].items()},
                "scan_cache": a.scan_cache_stats(),
                "episode_frames": a.verifier.stored.stats() if a.verifier and a.verifier.stored else None}

    out = {"clips": len(clips), "signals": first.signals, "scorer": "reranker" if first.reranker else "rrf",
           "decode_only_ms": {"mean": round(base, 1), "p50": round(float(np.median(decode_only)), 1)}}
    if episode_frames != "compare":
        return {**out, **figures(ways[0])}
    total = {use: float(np.mean(stages[use]["total"])) for use in ways}
    return {**out, "stored_frames": figures(True), "videos": figures(False),
            "total_ratio_videos_to_stored": round(total[False] / total[True], 2),
            "identical_results": identical}
