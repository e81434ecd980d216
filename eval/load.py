"""`assoc bench serve`: many concurrent requests against the real lookup service, latency and throughput.

Starts `assoc serve` in a subprocess on a free loopback port (unless a URL is given), waits for
/readyz, posts every clip as JSON naming its file under the media root (or as a multipart upload),
and counts every answer that is not 200 as an error.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from assoc.catalog import clip_video_path, load_queries
from assoc.errors import InputError


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(index: Path, media_root: Path, api_key: str | None, ready_timeout: float = 600):
    """`assoc serve` in a subprocess; yields its URL once /readyz answers 200."""
    import httpx

    port = free_port()
    env = dict(os.environ, ASSOC_MEDIA_ROOT=str(media_root))
    if api_key:
        env["ASSOC_API_KEY"] = api_key
    cmd = [sys.executable, "-m", "cli.main", "serve", "--index", str(index), "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + ready_timeout
        while True:
            if proc.poll() is not None:
                raise InputError(f"assoc serve exited with {proc.returncode}: {proc.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise InputError(f"assoc serve was not ready within {ready_timeout:.0f} s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _fire(url: str, bodies: list[dict], concurrency: int, api_key: str | None, upload: bool,
                files: list[Path], timeout: float) -> list[tuple[int, float, str]]:
    import httpx

    headers = {"X-API-Key": api_key} if api_key else {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=timeout) as client:
        async def one(i: int) -> tuple[int, float, str]:
            async with gate:
                t0 = time.perf_counter()
                try:
                    if upload:
                        r = await client.post("/v1/associate", files={"file": (files[i].name, files[i].read_bytes())},
                                              data={k: v for k, v in bodies[i].items() if k != "video"})
                    else:
                        r = await client.post("/v1/associate", json=bodies[i])
                    detail = "" if r.status_code == 200 else r.text[:200]
                    return r.status_code, time.perf_counter() - t0, detail
                except httpx.HTTPError as e:
                    return 0, time.perf_counter() - t0, f"{type(e).__name__}: {e}"

        return await asyncio.gather(*(one(i) for i in range(len(bodies))))


def load_test(queries: str | Path, requests: int, concurrency: int, url: str | None = None,
              index: str | Path | None = None, media_root: str | Path | None = None, api_key: str | None = None,
              upload: bool = False, timeout: float = 600.0) -> dict:
    """Post `requests` clips (cycling through the queries file) with `concurrency` in flight at once."""
    queries = Path(queries)
    clips, _ = load_queries(queries)
    if not clips:
        raise InputError(f"{queries}: no clips")
    media_root = Path(media_root or queries.parent).resolve()
    files = [clip_video_path(queries, clips[i % len(clips)]).resolve() for i in range(requests)]
    for f in files:
        if not f.is_relative_to(media_root):
            raise InputError(f"{f} is not under the media root {media_root}")
    bodies = [{"video": str(f.relative_to(media_root)), "clip_id": c.clip_id, "title": c.title,
               "description": c.description} for f, c in zip(files, (clips[i % len(clips)] for i in range(requests)))]

    def run(target: str) -> tuple[list, float]:
        t0 = time.perf_counter()
        answers = asyncio.run(_fire(target, bodies, concurrency, api_key, upload, files, timeout))
        return answers, time.perf_counter() - t0

    if url is None:
        if index is None:
            raise InputError("give --url of a running service, or --index to start one")
        with running_server(Path(index), media_root, api_key) as started:
            answers, wall = run(started)
            metrics = _stage_means(started)
    else:
        answers, wall = run(url)
        metrics = _stage_means(url)
    codes = [a[0] for a in answers]
    lat = np.array([a[1] for a in answers]) * 1000
    errors = [a for a in answers if a[0] != 200]
    return {"requests": requests, "concurrency": concurrency, "mode": "upload" if upload else "json",
            "ok": codes.count(200), "errors": len(errors),
            "status_counts": {str(c): codes.count(c) for c in sorted(set(codes))},
            "first_errors": [e[2] for e in errors[:5]], "wall_seconds": round(wall, 2),
            "throughput_rps": round(requests / wall, 2),
            "latency_ms": {"p50": round(float(np.percentile(lat, 50)), 1), "p99": round(float(np.percentile(lat, 99)), 1),
                           "mean": round(float(lat.mean()), 1), "max": round(float(lat.max()), 1)},
            "server_stage_mean_ms": metrics}


def _stage_means(url: str) -> dict:
    """Mean per-stage lookup time inside the server, from its Prometheus histograms."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    sums, counts = {}, {}
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=30).text):
        if family.name != "assoc_stage_seconds":
            continue
        for s in family.samples:
            if s.name.endswith("_sum"):
                sums[s.labels["stage"]] = s.value
            elif s.name.endswith("_count"):
                counts[s.labels["stage"]] = s.value
    return {k: round(1000 * sums[k] / counts[k], 1) for k in sums if counts.get(k)}
