"""The lookup service's routes. `create_app(config)` returns the ASGI app; `assoc serve` runs it with uvicorn.

Routes never read files other than an upload's temporary copy or a file under the media root.
Errors are the library's exceptions turned into HTTP answers here, at the boundary, with a
`detail` that names the clip and the reason.
"""


import secrets
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from assoc.errors import AssocError, InputError, MediaError
from assoc.lookup import Associator
from assoc.media import probe_duration
from assoc.schema import Program, Result
from assoc.service.config import ServiceConfig
from assoc.service.holder import IndexHolder
from assoc.service.limits import BodyLimitMiddleware, Refused, media_path
from assoc.service.metrics import ServiceMetrics
from indexes.errors import IndexBackendError


class ClipRequest(BaseModel):
    """A clip named by its path under the service's media root."""

    video: str = Field(description="path relative to the media root")
    clip_id: str | None = None
    title: str = ""
    description: str = ""


class BatchRequest(BaseModel):
    clips: list[ClipRequest] = Field(min_length=1)


class BatchResponse(BaseModel):
    results: list[Result]


class IndexSwap(BaseModel):
    index: str = Field(description="index directory under the service's index root")


_UPLOAD_BODY = {
    "requestBody": {"content": {
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary"}, "title": {"type": "string"},
            "description": {"type": "string"}, "clip_id": {"type": "string"}}}},
        "application/json": {"schema": {"$ref": "#/components/schemas/ClipRequest"}}}, "required": True}}


def create_app(config: ServiceConfig, load_now: bool = False) -> FastAPI:
    holder = IndexHolder(config)
    metrics = ServiceMetrics(holder.current)
    limiter = anyio.CapacityLimiter(max(1, config.workers, config.processes))
    @asynccontextmanager
    async def lifespan(_: FastAPI):
        if not holder.ready:
            holder.start()
        yield

    app = FastAPI(title="assoc lookup service", version="1", lifespan=lifespan,
                  description="Links short video clips to the long-form programs they were cut from.")
    app.state.holder, app.state.metrics, app.state.config = holder, metrics, config
    app.add_middleware(BodyLimitMiddleware, limit=config.max_upload_bytes)
    if load_now:
        holder.swap(config.index)

    @app.middleware("http")
    async def _count(request: Request, call_next):
        t0 = time.perf_counter()
        route = request.url.path if not request.url.path.startswith("/v1/programs/") else "/v1/programs/{id}"
        response = await call_next(request)
        metrics.requests.labels(route, str(response.status_code)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - t0)
        return response

    async def api_key(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if config.api_key and not (x_api_key and secrets.compare_digest(x_api_key, config.api_key)):
            raise HTTPException(401, "missing or wrong API key (send it in the X-API-Key header)")

    def associator() -> Associator:
        current = holder.current()
        if current is None:
            raise HTTPException(503, "the index is not loaded yet" + (f": {holder.error}" if holder.error else ""))
        return current

    Authorised = Depends(api_key)
    Current = Annotated[Associator, Depends(associator)]

    async def look_up(assoc: Associator, path: Path, clip_id: str, title: str, description: str) -> Result:
        duration = probe_duration(path)
        if duration > config.max_clip_seconds:
            raise Refused(422, f"clip {clip_id} is {duration:.1f} s long; the limit is {config.max_clip_seconds:.0f} s")
        async with limiter:
            result = await anyio.to_thread.run_sync(assoc.lookup_video, path, clip_id, title, description)
        metrics.observe_result(result)
        return result

    def http_error(e: Exception, clip_id: str) -> HTTPException:
        if isinstance(e, Refused):
            return HTTPException(e.status, str(e))
        if isinstance(e, MediaError):
            return HTTPException(422, f"clip {clip_id}: cannot use the video: {e.reason}")
        if isinstance(e, (InputError, AssocError, IndexBackendError)):
            return HTTPException(422, f"clip {clip_id}: {e}")
        return HTTPException(500, f"clip {clip_id}: internal error: {type(e).__name__}: {e}")

    @app.post("/v1/associate", response_model=Result, dependencies=[Authorised], openapi_extra=_UPLOAD_BODY,
              summary="Associate one clip: a multipart upload, or JSON naming a file under the media root")
    async def associate(request: Request, assoc: Current) -> Result:
        kind = request.headers.get("content-type", "")
        if kind.startswith("multipart/form-data"):
            return await _upload(request, assoc)
        if not kind.startswith("application/json"):
            raise HTTPException(415, "send multipart/form-data (file, title, description) or application/json "
                                     "({video, title, description})")
        try:
            clip = ClipRequest.model_validate_json(await request.body())
        except ValueError as e:
            raise HTTPException(422, f"invalid request body: {str(e).splitlines()[0]}") from None
        clip_id = clip.clip_id or Path(clip.video).stem
        try:
            return await look_up(assoc, media_path(config.media_root, clip.video), clip_id, clip.title,
                                 clip.description)
        except Exception as e:
            raise http_error(e, clip_id) from None

    async def _upload(request: Request, assoc: Associator) -> Result:
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "multipart request needs a 'file' part with the clip")
        clip_id = str(form.get("clip_id") or Path(upload.filename or "upload").stem or "upload")
        suffix = Path(upload.filename or "").suffix[:8] or ".mp4"
        with tempfile.TemporaryDirectory(prefix="assoc-upload-") as tmp:
            path = Path(tmp) / f"clip{suffix}"
            with path.open("wb") as f:
                while chunk := await upload.read(1 << 20):
                    f.write(chunk)
            try:
                return await look_up(assoc, path, clip_id, str(form.get("title") or ""),
                                     str(form.get("description") or ""))
            except Exception as e:
                raise http_error(e, clip_id) from None

    @app.post("/v1/associate/batch", response_model=BatchResponse, dependencies=[Authorised],
              summary="Associate several clips under the media root; a failing clip gets a result with `error`")
    async def associate_batch(batch: BatchRequest, assoc: Current) -> BatchResponse:
        if len(batch.clips) > config.max_batch:
            raise HTTPException(413, f"batch of {len(batch.clips)} clips is over the limit of {config.max_batch}")

        async def one(clip: ClipRequest) -> Result:
            clip_id = clip.clip_id or Path(clip.video).stem
            try:
                return await look_up(assoc, media_path(config.media_root, clip.video), clip_id, clip.title,
                                     clip.description)
            except Exception as e:
                err = http_error(e, clip_id)
                return Result(clip_id=clip_id, error=f"{err.status_code}: {err.detail}")

        results: list[Result | None] = [None] * len(batch.clips)

        async def run(i: int, clip: ClipRequest) -> None:
            results[i] = await one(clip)

        async with anyio.create_task_group() as tg:
            for i, clip in enumerate(batch.clips):
                tg.start_soon(run, i, clip)
        return BatchResponse(results=results)

    @app.get("/v1/programs/{program_id}", response_model=Program, dependencies=[Authorised])
    async def program(program_id: str, assoc: Current) -> Program:
        found = assoc.index.programs.get(program_id)
        if found is None:
            raise HTTPException(404, f"unknown program '{program_id}'")
        return found

    @app.post("/v1/admin/index", dependencies=[Authorised],
              summary="Switch to another index directory (under the index root) without dropping requests")
    async def swap_index(body: IndexSwap) -> dict:
        target = (config.index_root / body.index).resolve() if not Path(body.index).is_absolute() \
            else Path(body.index).resolve()
        if not target.is_relative_to(config.index_root):
            raise HTTPException(403, f"index '{body.index}' is outside the index root {config.index_root}")
        try:
            new = await anyio.to_thread.run_sync(holder.swap, target)
        except (AssocError, IndexBackendError) as e:
            raise HTTPException(422, f"index '{body.index}' was not loaded (the current one stays): {e}") from None
        return {"index": str(new.index.path), "signals": new.signals, "programs": len(new.index.programs)}

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        current = holder.current()
        if current is None:
            return JSONResponse({"status": "loading", "error": holder.error}, status_code=503)
        return {"status": "ready", "index": str(current.index.path), "signals": current.signals,
                "programs": len(current.index.programs), "reranker": current.reranker is not None}

    @app.get("/metrics")
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
