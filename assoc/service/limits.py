"""Request limits and where clip files may come from.

Uploads are capped while they stream in (Content-Length is checked first, and a chunked body is
counted), so an oversized upload is refused with 413 before it fills a disk. A JSON request names a
file relative to the media root; the resolved path (symlinks followed) must stay inside it.
"""

from __future__ import annotations

import json
from pathlib import Path

from assoc.errors import InputError


class Refused(InputError):
    """A request the service refuses; `status` is the HTTP code to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Answer 413 for request bodies over `limit` bytes on the routes that take uploads."""

    def __init__(self, app, limit: int, prefix: str = "/v1/"):
        self.app, self.limit, self.prefix = app, limit, prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send, int(length))
        seen = 0
        started = False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge()
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, seen)

    async def _refuse(self, send, size: int) -> None:
        body = json.dumps({"detail": f"request body of {size} bytes or more is over the limit of {self.limit} "
                                     "bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def media_path(media_root: Path | None, video: str) -> Path:
    """The file a JSON request names, refused unless it resolves inside the media root."""
    if media_root is None:
        raise Refused(400, "this service has no media root (ASSOC_MEDIA_ROOT): upload the clip as multipart instead")
    if not video or "\x00" in video:
        raise Refused(422, "video must be a non-empty path relative to the media root")
    candidate = Path(video)
    if candidate.is_absolute():
        raise Refused(403, f"video '{video}' is an absolute path; give a path relative to the media root")
    resolved = (media_root / candidate).resolve()
    if not resolved.is_relative_to(media_root):
        raise Refused(403, f"video '{video}' resolves outside the media root")
    if not resolved.is_file():
        raise Refused(404, f"video '{video}' not found under the media root")
    return resolved
