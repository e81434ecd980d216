"""The index directory's manifest.json: what was built, with what, and a checksum of every file.

An index is written into a temporary sibling and renamed into place, so readers never see half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from indexes.errors import IndexCorruptError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_checksums(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): sha256_file(p)
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST}


def write_manifest(directory: Path, body: dict) -> dict:
    manifest = dict(body, format_version=FORMAT_VERSION,
                    created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    files=file_checksums(directory))
    (directory / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def read_manifest(directory: Path, verify: bool = True) -> dict:
    """Read manifest.json; with verify, refuse an index whose files do not match it."""
    path = directory / MANIFEST
    if not path.is_file():
        raise IndexCorruptError(f"{directory}: not an index directory (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise IndexCorruptError(f"{path}: invalid JSON: {e}") from e
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(f"{path}: format version {manifest.get('format_version')}, expected {FORMAT_VERSION}")
    if verify:
        expected = manifest.get("files", {})
        actual = file_checksums(directory)
        missing = sorted(set(expected) - set(actual))
        changed = sorted(f for f in expected if f in actual and actual[f] != expected[f])
        extra = sorted(set(actual) - set(expected))
        if missing or changed or extra:
            parts = [f"{what}: {', '.join(names[:5])}" for what, names in
                     (("missing", missing), ("changed", changed), ("unexpected", extra)) if names]
            raise IndexCorruptError(f"{directory}: files do not match the manifest ({'; '.join(parts)})")
    return manifest


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a temporary sibling to fill; on success it replaces `target` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        yield tmp
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
