"""Work over many items in worker processes: index builds (episodes), evaluations and re-ranker training (clips).

Each worker is a spawned process (no state inherited from the parent: torch, FAISS and decord threads are not
fork-safe) with its share of the CPU threads, set up once by `setup(*setup_args)`, which typically opens the index
or unpickles an encoder into a module-level dict of its own module. The work function and the setup function must
be module-level functions (they are pickled by name). A script that calls the library with workers > 1 must guard
its entry (`if __name__ == "__main__":`), as for any spawned process: each process imports the script's main module
again; without the guard the worker stops with a WorkerError that says so, and so does the caller (as when a
worker is killed). The `assoc` command guards its entry.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from assoc.errors import AssocError, InputError

GUARD = ('a script that runs work in processes must guard its entry with `if __name__ == "__main__":` (each '
         'process imports the main module again)')


class WorkerError(AssocError):
    """A worker process ended abruptly (killed, out of memory, or a script's unguarded entry run again in it)."""


def thread_share(workers: int) -> int:
    """The CPU threads each of `workers` processes gets."""
    return max(1, (os.cpu_count() or 1) // workers)


def _init(threads: int, setup: Callable | None, setup_args: tuple) -> None:
    import faiss
    import torch

    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)
    if setup is not None:
        setup(*setup_args)


class WorkerPool:
    """`workers` spawned processes, each set up once by `setup(*setup_args)` with its share of the CPU threads;
    `map` may be called several times (a process starts in seconds: torch, timm and the index are imported and
    loaded once for all the work). Use as a context manager, or call close()."""

    def __init__(self, workers: int, setup: Callable | None = None, setup_args: tuple = ()):
        if workers < 1:
            raise InputError(f"workers must be at least 1 (got {workers})")
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if getattr(multiprocessing.current_process(), "_inheriting", False):  # multiprocessing's own test (spawn.py)
            raise WorkerError(f"worker processes were asked for while a worker process imported the main module; {GUARD}")
        self.workers = workers
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                                         initargs=(thread_share(workers), setup, setup_args))

    def map(self, work: Callable, arg_tuples: Iterable[tuple], window: int | None = None) -> Iterator:
        """Yield `work(*args)` for each tuple of `arg_tuples`, in their order.

        At most `window` items (default 4 per worker) are submitted ahead of the one the caller waits for, so
        results that arrive early do not pile up in memory. An exception raised by `work` is raised here, at its
        item; the items of this map not yet started are cancelled."""
        window = window or 4 * self.workers
        items = iter(arg_tuples)
        pending: deque = deque()
        from concurrent.futures.process import BrokenProcessPool

        try:
            for args in items:
                pending.append(self._pool.submit(work, *args))
                if len(pending) >= window:
                    break
            while pending:
                result = pending.popleft().result()
                for args in items:  # keep the window full
                    pending.append(self._pool.submit(work, *args))
                    break
                yield result
        except BrokenProcessPool as e:
            raise WorkerError(f"a worker process ended abruptly (killed, out of memory?); {GUARD}") from e
        finally:
            for future in pending:
                future.cancel()

    def call(self, work: Callable, *args):
        """`work(*args)` in one of the processes, waited for (thread-safe: several threads may call at once)."""
        from concurrent.futures.process import BrokenProcessPool

        try:
            return self._pool.submit(work, *args).result()
        except BrokenProcessPool as e:
            raise WorkerError(f"a worker process ended abruptly (killed, out of memory?); {GUARD}") from e

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_each(arg_tuples: list[tuple], here: Callable, work: Callable, workers: int = 1, setup: Callable | None = None,
             setup_args: tuple = (), pool: WorkerPool | None = None) -> Iterator:
    """The outcome of each item of `arg_tuples`, in their order, computed where the caller asks:
    in `pool` (`work(*args)`) when one is given; else, when `workers` > 1 and there is more than one item, in that
    many new processes set up by `setup(*setup_args)` (`work(*args)`); else in this process (`here(*args)`).
    `work` is the worker-side twin of `here` (it reads what `setup` left in its module), so the outcomes are the
    same wherever they are computed."""
    if pool is not None:
        return pool.map(work, arg_tuples)
    if workers > 1 and len(arg_tuples) > 1:
        return map_in_workers(work, arg_tuples, workers, setup, setup_args)
    return (here(*args) for args in arg_tuples)


def map_in_workers(work: Callable, arg_tuples: Iterable[tuple], workers: int, setup: Callable | None = None,
                   setup_args: tuple = (), window: int | None = None) -> Iterator:
    """`WorkerPool(workers, setup, setup_args).map(work, arg_tuples, window)`, the pool closed at the end."""
    with WorkerPool(workers, setup, setup_args) as pool:
        yield from pool.map(work, arg_tuples, window)
