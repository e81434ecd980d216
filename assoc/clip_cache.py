"""A directory of per-clip records under one key: what makes long runs over many clips resumable.

Each clip's record is written as soon as it is computed, one file a clip, to a temporary name renamed into place, so a
run that stops half-way keeps what it computed and the next run computes only the rest. `key.json` holds what the
records depend on besides the clip; a run under another key is refused (`mismatch="refuse"`: the directory is the
user's) or starts the directory over (`mismatch="reset"`: the directory is the command's own output). Each record
also carries a digest of the clip's record and video, so a clip that changed is computed again.

Used by `assoc train reranker --signals-cache` (assoc.rerank.signals_cache) and `assoc eval` (eval.runner). The
files are Python pickles (joblib): read only a directory you wrote yourself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import joblib

from assoc.errors import InputError
from indexes.manifest import sha256_file

KEY_FILE = "key.json"
CLIPS_DIR = "clips"
MISMATCH = ("refuse", "reset")


def index_digest(manifest: dict, skip: tuple[str, ...] = ()) -> str:
    """A digest of an index's files (from its manifest's checksums), leaving out those under `skip`."""
    files = {f: c for f, c in sorted(manifest.get("files", {}).items()) if not f.startswith(skip)}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def code_digest() -> str:
    """A digest of the assoc and indexes packages' source: records computed by other code are not reused."""
    import assoc
    import indexes

    h = hashlib.sha256()
    for package in (assoc, indexes):
        root = Path(package.__file__).parent
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def clip_digest(clip_record: str, video: Path | None) -> str:
    """The clip's record (its JSON) and its video's bytes: what makes a cached record the clip's."""
    h = hashlib.sha256(clip_record.encode("utf-8"))
    if video is not None and video.is_file():
        h.update(sha256_file(video).encode())
    return h.hexdigest()


class ClipCache:
    """One directory of per-clip records under one key (see the module's text)."""

    def __init__(self, directory: str | Path, key: dict, mismatch: str = "refuse", what: str = "cache"):
        if mismatch not in MISMATCH:
            raise ValueError(f"mismatch must be one of {MISMATCH}")
        self.directory = Path(directory)
        self.key = json.loads(json.dumps(key))  # as it reads back from key.json (tuples become lists)
        self.hits = 0
        self.written = 0
        self.reset_because: list[str] = []  # the key fields that differed when a "reset" cache started over
        key_path = self.directory / KEY_FILE
        saved = None
        if key_path.is_file():
            try:
                saved = json.loads(key_path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as e:
                if mismatch == "refuse":
                    raise InputError(f"{what} {self.directory}: {KEY_FILE} is not valid JSON ({e}); "
                                     f"delete the directory or name another") from e
                saved = {"unreadable": True}
            differ = sorted(k for k in set(saved) | set(self.key) if saved.get(k) != self.key.get(k))
            if differ and mismatch == "refuse":
                raise InputError(f"{what} {self.directory} was made with other settings or another index "
                                 f"(differs in: {', '.join(differ)}); name another directory or delete this one")
            if differ:  # the command's own output: its records start over
                self.reset_because = differ
                shutil.rmtree(self.directory / CLIPS_DIR, ignore_errors=True)
                saved = None
        elif self.directory.exists() and any(self.directory.iterdir()):
            raise InputError(f"{what} {self.directory}: the directory exists, is not empty and holds no "
                             f"{KEY_FILE}; name an empty or new directory")
        (self.directory / CLIPS_DIR).mkdir(parents=True, exist_ok=True)
        if saved is None:
            _write_atomic(key_path, json.dumps(self.key, indent=2, ensure_ascii=False).encode("utf-8"))

    def _path(self, clip_id: str) -> Path:
        # clip ids are not necessarily file names: the file is named by the id's digest, the id kept inside
        return self.directory / CLIPS_DIR / (hashlib.sha1(clip_id.encode("utf-8")).hexdigest() + ".joblib")

    def get(self, clip_id: str, digest: str):
        """The clip's record, or None when there is none for this digest (or it is unreadable, in which case it is
        computed again and overwritten)."""
        path = self._path(clip_id)
        if not path.is_file():
            return None
        try:
            entry = joblib.load(path)
        except Exception:  # a file damaged outside this code (writes are atomic): computed again
            return None
        if not isinstance(entry, dict) or entry.get("clip_id") != clip_id or entry.get("digest") != digest:
            return None
        self.hits += 1
        return entry["record"]

    def put(self, clip_id: str, digest: str, record) -> None:
        buf = io.BytesIO()
        joblib.dump({"clip_id": clip_id, "digest": digest, "record": record}, buf)
        _write_atomic(self._path(clip_id), buf.getvalue())
        self.written += 1


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
