"""The service's current Associator: loaded in the background, swapped in one reference assignment.

A request takes the reference once at its start, so a swap never changes an index under a request
in flight; the old Associator is dropped when its last request ends.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from assoc.lookup import Associator
from assoc.service.config import ServiceConfig


class IndexHolder:
    def __init__(self, config: ServiceConfig):
        self.config = config
        self._current: Associator | None = None
        self._swap_lock = threading.Lock()
        self.error: str | None = None
        self.loaded_at: float | None = None

    @property
    def ready(self) -> bool:
        return self._current is not None

    def current(self) -> Associator | None:
        return self._current

    def load(self, path: Path) -> Associator:
        """Open and warm an index (the slow part, outside any lock held by requests)."""
        c = self.config
        local = Associator.open(path, c.lookup, es=c.es, vector_device=c.vector_device).warm()
        if c.processes > 0:
            from assoc.service.pool import PooledAssociator

            return PooledAssociator(local, c.processes, c.lookup, c.es, c.vector_device)
        return local

    def swap(self, path: Path) -> Associator:
        """Load `path` fully, then make it current; on failure the current index stays."""
        with self._swap_lock:  # one swap at a time; lookups never take this lock
            new = self.load(path)
            self._current, self.error, self.loaded_at = new, None, time.time()
            return new

    def start(self) -> threading.Thread:
        """Load the configured index in the background; /readyz answers 503 until it is in."""
        def run():
            try:
                self.swap(self.config.index)
            except Exception as e:  # reported by /readyz; the process stays up to say why
                self.error = f"{type(e).__name__}: {e}"

        t = threading.Thread(target=run, name="index-loader", daemon=True)
        t.start()
        return t
