"""A directory that keeps each training clip's signals, so `assoc train reranker` can resume and refit.

Running the index's signals over the val clips is nearly all of a re-ranker's training time (on the bench, about
40 minutes for 600 clips; the fits take seconds). With `--signals-cache DIR` each clip's signals are written there as
soon as they are computed, one file a clip, written to a temporary name and renamed into place: a run that stops
half-way keeps what it computed, and the next run computes only the rest; a refit with other model settings (kind,
target precision, folds, seed, which features it reads) computes nothing.

What the signals depend on is the cache's key, saved in `key.json` when the directory is created: the index's files
(but not its re-ranker, which training does not use), the candidate depth, the auxiliary visual lists, the
verification settings, and the assoc version and source (signals computed by other code are not reused). A run
whose key differs is refused with the fields that differ, so signals computed one way are never fitted as if
computed another; use another directory, or delete it. Each clip's file also records a digest of the clip's record
and of its video, so a clip that changed is computed again.

The files are Python pickles (joblib): read only a cache you wrote yourself. The directory's mechanics are
assoc.clip_cache's, shared with `assoc eval`'s per-clip records.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assoc import __version__
from assoc.clip_cache import ClipCache, clip_digest, code_digest, index_digest

CACHE_FORMAT = 1
# index files that do not change the signals training computes (the stored episode frames are the pixels a lookup
# decodes otherwise: assoc.episode_frames)
UNUSED_BY_TRAINING = ("reranker/", "episode_frames/")


def cache_key(manifest: dict, depth: int, aux_visual: tuple[str, ...], verify: dict | bool) -> dict:
    """What a clip's signals depend on, besides the clip itself."""
    return {"format": CACHE_FORMAT, "assoc": __version__, "code": code_digest(),
            "index": index_digest(manifest, UNUSED_BY_TRAINING), "text_index": manifest.get("backends", {}).get("text"),
            "depth": depth, "aux_visual": list(aux_visual), "verify": verify}


@dataclass
class CachedClip:
    signals: object  # assoc.rerank.features.ClipSignals
    program_id: str | None  # the clip's true program (None: open set)
    category: tuple[str, ...] | None


def open_signals_cache(directory: str | Path, key: dict) -> ClipCache:
    """The user's directory: a cache made under another key is refused, never overwritten."""
    return ClipCache(directory, key, mismatch="refuse", what="signals cache")


__all__ = ["CachedClip", "cache_key", "clip_digest", "open_signals_cache"]
