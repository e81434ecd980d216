"""What the service is told at start (the CLI fills it from the one Settings object)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from assoc.lookup import LookupSettings


@dataclass
class ServiceConfig:
    index: Path
    media_root: Path | None = None  # JSON requests may name files under it; no other path is ever read
    api_key: str | None = None  # when set, every /v1 route needs it in X-API-Key
    max_upload_bytes: int = 200 * 1024 * 1024
    max_clip_seconds: float = 330.0  # clips are 5 s to 5 min; a little slack for containers
    max_batch: int = 32
    workers: int = 2  # lookups that run at once; the rest wait their turn
    # lookups run in this many worker processes, each with its own copy of the index (assoc/service/pool.py); 0: in
    # threads of the service's process
    processes: int = 0
    lookup: LookupSettings = field(default_factory=LookupSettings)
    es: dict | None = None
    vector_device: str = "cpu"
    index_root: Path | None = None  # where /v1/admin/index may load new indexes from (default: the index's parent)

    def __post_init__(self):
        self.index = Path(self.index)
        self.media_root = Path(self.media_root).resolve() if self.media_root else None
        self.index_root = Path(self.index_root or Path(self.index).resolve().parent).resolve()
