"""assoc serve: the lookup service over HTTP (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import boundary, settings


def service_config(index: Path, media_root: Path | None = None, api_key: str | None = None):
    """The service's config from the one Settings object (ASSOC_* variables, assoc.toml) and the options."""
    from assoc.lookup import LookupSettings
    from assoc.service.config import ServiceConfig

    s = settings()
    return ServiceConfig(
        index=index, media_root=media_root or (Path(s.media_root) if s.media_root else None),
        api_key=api_key or s.api_key, max_upload_bytes=int(s.max_upload_mb * 1024 * 1024),
        max_clip_seconds=s.max_clip_seconds, max_batch=s.max_batch, workers=s.serve_workers,
        processes=s.serve_processes,
        lookup=LookupSettings(fps=s.lookup_fps, max_frames=s.lookup_max_frames, neighbours=s.neighbours,
                              top_k=s.top_k, threshold=s.threshold, catalog_root=s.catalog_root,
                              scan_cache_mb=s.scan_cache_mb),
        es=s.es(), vector_device=s.vector_device)


@boundary
def serve(
    index: Path = typer.Option(..., help="index directory to serve"),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, help="port to listen on"),
    media_root: Path = typer.Option(None, help="JSON requests may name clips under this folder (default: ASSOC_MEDIA_ROOT)"),
    api_key: str = typer.Option(None, help="require this key in X-API-Key (default: ASSOC_API_KEY; none: open)"),
    log_level: str = typer.Option("info", help="uvicorn log level"),
) -> None:
    """Serve lookups over HTTP: POST /v1/associate, /v1/associate/batch, GET /v1/programs/{id}, /healthz,
    /readyz, /metrics, /docs."""
    import uvicorn

    from assoc.service.app import create_app

    app = create_app(service_config(index, media_root, api_key))
    uvicorn.run(app, host=host, port=port, log_level=log_level, backlog=4096, timeout_keep_alive=30)
