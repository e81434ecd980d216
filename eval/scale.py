"""The keyframe-index scale benchmark: millions of clustered vectors, IVF against exact search."""

from __future__ import annotations

import time

import numpy as np

from eval.benchmarks import _peak_rss_mb, _rss_mb
from indexes.vector import create_vector_index


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _around(base: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at about `cosine` to each row of `base` (a random direction orthogonal to it)."""
    noise = rng.normal(size=base.shape).astype(np.float32)
    noise -= (noise * base).sum(1, keepdims=True) * base
    noise = _unit(noise)
    return _unit(cosine * base + np.sqrt(1 - cosine**2) * noise)


# Cosines between levels, chosen to look like an index of pruned keyframes: keyframes kept from one
# shot are alike but not near-duplicates (pruning drops those above 0.97); shots of one program share
# its look; programs are unrelated. A query frame is an edited copy of one keyframe.
SHOT_TO_PROGRAM = 0.75
KEYFRAME_TO_SHOT = 0.93
QUERY_TO_KEYFRAME = 0.90


def clustered_keyframes(n_programs: int, per_program: int, dim: int, seed: int, shots: int = 10,
                        chunk_programs: int = 2000):
    """Yield (ids, vectors) chunks: programs are clusters, shots sub-clusters, keyframes vary within a shot."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_programs, chunk_programs):
        n = min(chunk_programs, n_programs - start)
        centre = _unit(rng.normal(size=(n, dim)).astype(np.float32))  # n x D
        shot = _around(np.repeat(centre, shots, 0), SHOT_TO_PROGRAM, rng)
        which = np.repeat(np.arange(n * shots), -(-per_program // shots)).reshape(n, -1)[:, :per_program]
        x = _around(shot[which.ravel()], KEYFRAME_TO_SHOT, rng)
        ids = np.arange(start * per_program, (start + n) * per_program, dtype=np.int64)
        yield ids, x


def vector_scale(n_programs: int = 60_000, per_program: int = 100, dim: int = 256, nlist: int = 4096,
                 codec: str = "SQ8", nprobes: tuple[int, ...] = (8, 16, 32, 64), clips: int = 50,
                 frames_per_clip: int = 32, k: int = 10, train_size: int = 200_000, seed: int = 0,
                 hnsw: bool = False, ef_search: int = 128, refines: tuple[int, ...] = (0,)) -> dict:
    import faiss

    t0 = time.perf_counter()
    xb = np.empty((n_programs * per_program, dim), np.float32)
    for ids, x in clustered_keyframes(n_programs, per_program, dim, seed):
        xb[ids[0] : ids[-1] + 1] = x
    generate_s = time.perf_counter() - t0
    rss_data = _rss_mb()
    rng = np.random.default_rng(seed + 1)
    t0 = time.perf_counter()
    index = create_vector_index("ivf", dim, nlist=nlist, codec=codec, nprobe=nprobes[0], hnsw_quantizer=hnsw,
                                ef_search=ef_search, refine=max(refines))
    index.train(xb[rng.choice(len(xb), min(train_size, len(xb)), replace=False)])
    train_s = time.perf_counter() - t0
    for start in range(0, len(xb), 500_000):
        index.add(np.arange(start, min(len(xb), start + 500_000), dtype=np.int64), xb[start : start + 500_000])
    build_s = time.perf_counter() - t0
    # a clip: frames_per_clip keyframes of one program, perturbed as an edit would
    programs = rng.integers(0, n_programs, clips)
    queries = [_around(xb[p * per_program + rng.integers(0, per_program, frames_per_clip)], QUERY_TO_KEYFRAME, rng)
               for p in programs]
    t0 = time.perf_counter()  # exact search over the same array (no second copy of 6M vectors)
    truth = [faiss.knn(q, xb, k, metric=faiss.METRIC_INNER_PRODUCT)[1] for q in queries]
    exact_ms = (time.perf_counter() - t0) / clips * 1000
    runs = []
    for refine in refines:  # the stored float16 vectors serve any factor up to the largest
        index.refine = refine
        for nprobe in nprobes:
            lat, rec = [], []
            for q, gt in zip(queries, truth):
                t = time.perf_counter()
                _, I = index.search(q, k, nprobe=nprobe)  # noqa: E741
                lat.append((time.perf_counter() - t) * 1000)
                rec.append(np.mean([len(set(a) & set(b)) / k for a, b in zip(I, gt)]))
            runs.append({"nprobe": nprobe, "refine": refine, "recall@10_vs_exact": round(float(np.mean(rec)), 4),
                         "clip_query_ms_p50": round(float(np.percentile(lat, 50)), 2),
                         "clip_query_ms_p99": round(float(np.percentile(lat, 99)), 2)})
    return {"vectors": len(xb), "dim": dim,
            "index": f"IVF{nlist}{'_HNSW32' if hnsw else ''},{codec}" + (" + exact float16 re-scoring of refine x k"
                                                                          if max(refines) else ""),
            "train_size": min(train_size, len(xb)), "ef_search": ef_search if hnsw else None,
            "threads": faiss.omp_get_max_threads(),
            "generate_seconds": round(generate_s, 1), "train_seconds": round(train_s, 1),
            "build_seconds_incl_train": round(build_s, 1), "rss_mb_vectors_in_memory": round(rss_data, 1),
            "peak_rss_mb": round(_peak_rss_mb(), 1), "exact_clip_query_ms": round(exact_ms, 1),
            "frames_per_clip": frames_per_clip, "clips": clips, "runs": runs}
