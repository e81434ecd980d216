"""The lookup service end to end: a real uvicorn server on loopback, real clips posted over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from assoc.catalog import load_queries
from assoc.lookup import Associator, LookupSettings
from assoc.media import probe_duration
from assoc.service.app import create_app
from assoc.service.config import ServiceConfig
from eval.load import free_port

KEY = "test-key"
LOOKUP = LookupSettings(short_side=72)


class Server:
    """uvicorn serving `app` on a free loopback port in a background thread."""

    def __init__(self, app):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def wait_ready(self, timeout: float = 120) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = httpx.get(f"{self.url}/readyz")
            if r.status_code == 200:
                return r.json()
            time.sleep(0.2)
        raise AssertionError(f"not ready: {r.json()}")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def roots(tiny_index, tiny_universe, tmp_path_factory):
    """An index root holding a copy of the tiny index (and room for a second one to swap to)."""
    root = tmp_path_factory.mktemp("indexes")
    shutil.copytree(tiny_index, root / "a")
    return root, tiny_universe


@pytest.fixture(scope="module")
def clips(tiny_universe):
    found, _ = load_queries(tiny_universe / "clips" / "test.jsonl")
    return found


def _config(roots, **kw) -> ServiceConfig:
    root, universe = roots
    return ServiceConfig(index=root / "a", media_root=universe, api_key=KEY, max_upload_bytes=2_000_000,
                         max_clip_seconds=60, lookup=LOOKUP, **kw)


@pytest.fixture(scope="module")
def server(roots):
    with Server(create_app(_config(roots))) as s:
        s.wait_ready()
        yield s


def _post(server, body: dict, key: str | None = KEY, path: str = "/v1/associate") -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers={"X-API-Key": key} if key else {}, timeout=60)


def _same(a: dict, b: dict) -> None:
    """Two results agree on everything but timings."""
    a, b = dict(a), dict(b)
    a.pop("timings_ms"), b.pop("timings_ms")
    assert a == b


def test_json_and_upload_agree_with_the_library(server, roots, clips):
    clip = clips[0]
    library = Associator.open(roots[0] / "a", LOOKUP).lookup_video(roots[1] / clip.video, clip.clip_id,
                                                                   clip.title, clip.description)
    r = _post(server, {"video": clip.video, "clip_id": clip.clip_id, "title": clip.title,
                       "description": clip.description})
    assert r.status_code == 200, r.text
    _same(r.json(), json.loads(library.model_dump_json()))
    with open(roots[1] / clip.video, "rb") as f:
        up = httpx.post(f"{server.url}/v1/associate", headers={"X-API-Key": KEY}, timeout=60,
                        files={"file": ("clip.mp4", f, "video/mp4")},
                        data={"title": clip.title, "description": clip.description, "clip_id": clip.clip_id})
    assert up.status_code == 200, up.text
    _same(up.json(), r.json())
    assert set(r.json()["timings_ms"]) >= {"decode", "embed", "vector", "text", "total"}


def test_paths_outside_the_media_root_are_refused(server, roots, tmp_path):
    universe = roots[1]
    link = universe / "escape.mp4"
    outside = tmp_path / "outside.mp4"
    shutil.copy(next((universe / "clips" / "test").glob("*.mp4")), outside)
    os.symlink(outside, link)
    try:
        for video, status, words in [("../../etc/passwd", 403, "outside the media root"),
                                     ("/etc/passwd", 403, "absolute path"),
                                     ("escape.mp4", 403, "outside the media root"),
                                     ("clips/test/nope.mp4", 404, "not found")]:
            r = _post(server, {"video": video})
            assert r.status_code == status and words in r.json()["detail"], (video, r.text)
    finally:
        link.unlink()


def test_oversized_uploads_are_refused_with_413(server):
    big = b"\0" * 2_100_000
    r = httpx.post(f"{server.url}/v1/associate", headers={"X-API-Key": KEY}, files={"file": ("big.mp4", big)})
    assert r.status_code == 413 and "over the limit of 2000000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the body is counted as it streams in
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'
        for _ in range(30):
            yield b"\0" * 100_000

    r = httpx.post(f"{server.url}/v1/associate", content=chunks(),
                   headers={"X-API-Key": KEY, "content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 413


def test_bad_clips_get_422_with_the_reason(server, roots, clips, tmp_path):
    r = httpx.post(f"{server.url}/v1/associate", headers={"X-API-Key": KEY},
                   files={"file": ("junk.mp4", b"not a video at all")}, data={"clip_id": "junk"})
    assert r.status_code == 422 and r.json()["detail"].startswith("clip junk: cannot use the video")
    r = httpx.post(f"{server.url}/v1/associate", headers={"X-API-Key": KEY}, data={"title": "no file"},
                   files={"other": ("x.txt", b"x")})
    assert r.status_code == 422 and "'file' part" in r.json()["detail"]
    r = httpx.post(f"{server.url}/v1/associate", headers={"X-API-Key": KEY}, content=b"plain", timeout=30)
    assert r.status_code == 415


def test_clips_over_the_duration_limit_get_422(roots, clips):
    durations = {c.clip_id: probe_duration(roots[1] / c.video) for c in clips}
    longest = max(clips, key=lambda c: durations[c.clip_id])
    limited = _replace(_config(roots), max_clip_seconds=durations[longest.clip_id] - 0.5)
    with Server(create_app(limited)) as s:
        s.wait_ready()
        r = _post(s, {"video": longest.video, "clip_id": longest.clip_id})
        assert r.status_code == 422 and f"clip {longest.clip_id} is" in r.json()["detail"]
        assert "the limit is" in r.json()["detail"]


def _replace(config: ServiceConfig, **kw) -> ServiceConfig:
    from dataclasses import replace

    return replace(config, **kw)


def test_api_key_is_required(server):
    for key in (None, "wrong"):
        r = _post(server, {"video": "clips/test/x.mp4"}, key=key)
        assert r.status_code == 401 and "API key" in r.json()["detail"]
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/docs").status_code == 200
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {"/v1/associate", "/v1/associate/batch", "/v1/programs/{program_id}"} <= set(paths)


def test_batch_goes_on_past_a_bad_clip(server, clips):
    body = {"clips": [{"video": c.video, "clip_id": c.clip_id, "title": c.title} for c in clips[:2]]
            + [{"video": "../secret.mp4", "clip_id": "bad"}]}
    r = _post(server, body, path="/v1/associate/batch")
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["clip_id"] for x in results] == [clips[0].clip_id, clips[1].clip_id, "bad"]
    assert results[0]["error"] is None and results[0]["candidates"]
    assert results[2]["error"].startswith("403: video '../secret.mp4' resolves outside the media root")


def test_programs_and_metrics(server, roots, clips):
    assert _post(server, {"video": clips[0].video, "clip_id": clips[0].clip_id}).status_code == 200  # counted below
    pid = next(iter(Associator.open(roots[0] / "a", LOOKUP, signals=["text"]).index.programs))
    r = httpx.get(f"{server.url}/v1/programs/{pid}", headers={"X-API-Key": KEY})
    assert r.status_code == 200 and r.json()["program_id"] == pid
    r = httpx.get(f"{server.url}/v1/programs/nope", headers={"X-API-Key": KEY})
    assert r.status_code == 404 and r.json()["detail"] == "unknown program 'nope'"
    text = httpx.get(f"{server.url}/metrics").text
    assert 'assoc_requests_total{route="/v1/associate",status="200"}' in text
    assert 'assoc_stage_seconds_count{stage="decode"}' in text
    assert "assoc_scan_cache_hits 0.0" in text  # this index's lookups do not scan (no re-ranker)


def test_concurrent_requests_match_serial_ones(server, clips):
    bodies = [{"video": c.video, "clip_id": c.clip_id, "title": c.title} for c in clips[:4]]
    serial = {b["clip_id"]: _post(server, b).json() for b in bodies}
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda b: _post(server, b), bodies * 4))
    for r in answers:
        assert r.status_code == 200
        _same(r.json(), serial[r.json()["clip_id"]])


def test_lookups_in_worker_processes_answer_as_threads_do_and_survive_a_swap(server, roots, clips):
    """ASSOC_SERVE_PROCESSES: each of 2 processes opens the index; answers are those of the threaded service."""
    import pickle

    from assoc.errors import MediaError

    e = pickle.loads(pickle.dumps(MediaError("a.mp4", "no video frames")))  # a worker's error crosses back whole
    assert (e.path, e.reason, str(e)) == ("a.mp4", "no video frames", "a.mp4: no video frames")
    root, _ = roots
    shutil.copytree(root / "a", root / "c", dirs_exist_ok=True)
    bodies = [{"video": c.video, "clip_id": c.clip_id, "title": c.title} for c in clips[:3]]
    threaded = {b["clip_id"]: _post(server, b).json() for b in bodies}
    with Server(create_app(_config(roots, processes=2))) as s:
        s.wait_ready()
        with ThreadPoolExecutor(6) as pool:
            pending = [pool.submit(_post, s, b) for b in bodies * 2]
            swap = _post(s, {"index": "c"}, path="/v1/admin/index")
            answers = [f.result() for f in pending]
        assert swap.status_code == 200 and swap.json()["index"].endswith("/c")
        for r in answers + [_post(s, bodies[0])]:
            assert r.status_code == 200, r.text
            _same(r.json(), threaded[r.json()["clip_id"]])
        known = next(c.program_id for c in clips if c.program_id)
        r = httpx.get(f"{s.url}/v1/programs/{known}", headers={"X-API-Key": KEY})
        assert r.status_code == 200 and r.json()["program_id"] == known
        assert httpx.get(f"{s.url}/readyz").json()["status"] == "ready"


def test_index_swap_drops_no_request(roots, clips):
    root, _ = roots
    shutil.copytree(root / "a", root / "b", dirs_exist_ok=True)
    with Server(create_app(_config(roots))) as s:
        s.wait_ready()
        bodies = [{"video": c.video, "clip_id": c.clip_id} for c in clips[:3]] * 3
        with ThreadPoolExecutor(6) as pool:
            pending = [pool.submit(_post, s, b) for b in bodies]
            swap = _post(s, {"index": "b"}, path="/v1/admin/index")
            codes = [f.result().status_code for f in pending]
        assert swap.status_code == 200 and swap.json()["index"].endswith("/b")
        assert codes == [200] * len(bodies)
        assert httpx.get(f"{s.url}/readyz").json()["index"].endswith("/b")
        r = _post(s, {"index": "../../elsewhere"}, path="/v1/admin/index")
        assert r.status_code == 403 and "outside the index root" in r.json()["detail"]
        r = _post(s, {"index": "missing"}, path="/v1/admin/index")
        assert r.status_code == 422 and "the current one stays" in r.json()["detail"]
        assert _post(s, bodies[0]).status_code == 200


def test_readyz_is_503_until_the_index_is_loaded(roots):
    app = create_app(_config(roots))
    gate = threading.Event()
    load = app.state.holder.load
    app.state.holder.load = lambda path: (gate.wait(30), load(path))[1]
    with Server(app) as s:
        r = httpx.get(f"{s.url}/readyz")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        assert _post(s, {"video": "clips/x.mp4"}).status_code == 503
        gate.set()
        assert s.wait_ready()["status"] == "ready"
    bad = create_app(_replace(_config(roots), index=roots[0] / "does-not-exist"))
    with Server(bad) as s:
        time.sleep(1.0)
        r = httpx.get(f"{s.url}/readyz")
        assert r.status_code == 503 and "does-not-exist" in r.json()["error"]
