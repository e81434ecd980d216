"""Lookups in worker processes (`ASSOC_SERVE_PROCESSES`): each process opens its own copy of the index.

The service otherwise runs its lookups in threads of one process, and two lookups at once then barely beat one: on
the small universe's index, 12 lookups took 21.5 s in one thread, 19.7 s in two threads and 14.3 s in two processes
(`python /work/an/s33/gil.py`, stop 33; docs/service.md). The cost is memory: the index (vectors, text index,
models) once per process, plus the service's own copy, which answers everything but the lookups (programs, readiness,
the index swap). Each process keeps its own scan cache; its counts come back with each lookup and /metrics shows their
sum.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from assoc.lookup import Associator, LookupSettings
from assoc.schema import Result
from assoc.workers import WorkerPool

# the Associator of one worker process (opened once by _open, used by _lookup)
_WORKER: dict = {}


def _open(path: str, lookup: LookupSettings, es: dict | None, vector_device: str) -> None:
    _WORKER["assoc"] = Associator.open(path, lookup, es=es, vector_device=vector_device).warm()


def _lookup(path: str, clip_id: str | None, title: str, description: str) -> tuple[Result, int, dict | None]:
    """The result, and this process's id and scan cache counts after it (for /metrics)."""
    assoc = _WORKER["assoc"]
    result = assoc.lookup_video(path, clip_id, title, description)
    return result, os.getpid(), assoc.scan_cache_stats()


SUMMED = ("hits", "misses", "episodes", "bytes")


def sum_stats(by_process: dict[int, dict | None]) -> dict | None:
    """The scan caches of several processes as one: their counts added; None when none keeps a cache."""
    kept = [s for s in by_process.values() if s is not None]
    if not kept:
        return None
    total = {key: sum(s.get(key, 0) for s in kept) for key in SUMMED}
    total["mb"] = round(total["bytes"] / 2**20, 1)
    total["processes"] = len(kept)
    return total


class PooledAssociator:
    """What the service reads of an Associator, with `lookup_video` run in `processes` worker processes (each opened
    on the same index with the same settings). The processes stop when this object is dropped (after an index swap,
    once its last request ends) or closed."""

    def __init__(self, local: Associator, processes: int, lookup: LookupSettings, es: dict | None, vector_device: str):
        self.local = local
        self.processes = processes
        self.pool = WorkerPool(processes, _open, (str(local.index.path), lookup, es, vector_device))
        # every process is started (tasks submitted at once each start one) and has opened the index before the
        # service says it is ready
        assert all(self.pool.map(_warm, [()] * processes))
        self._finalizer = weakref.finalize(self, self.pool.close, False)
        self._stats: dict[int, dict | None] = {}  # each process's scan cache counts after its latest lookup
        self._stats_lock = threading.Lock()

    @property
    def index(self):
        return self.local.index

    @property
    def signals(self):
        return self.local.signals

    @property
    def reranker(self):
        return self.local.reranker

    def lookup_video(self, path: str | Path | None, clip_id: str | None = None, title: str = "",
                     description: str = "") -> Result:
        result, pid, stats = self.pool.call(_lookup, str(path) if path is not None else None, clip_id, title,
                                            description)
        with self._stats_lock:
            self._stats[pid] = stats
        return result

    def scan_cache_stats(self) -> dict | None:
        """The processes' scan caches added up, each as of its latest lookup (`processes`: how many have reported);
        None before any lookup, or when the lookups keep no scan cache."""
        with self._stats_lock:
            return sum_stats(dict(self._stats))

    def close(self) -> None:
        self._finalizer()


def _warm() -> bool:
    import time

    time.sleep(0.2)  # holds this process, so the next task goes to another
    return "assoc" in _WORKER
