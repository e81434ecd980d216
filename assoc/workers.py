"""Work over many items in worker processes: index builds (episodes), evaluations and re-ranker training (clips).

Each worker is a spawned process (no state inherited from the parent: torch, FAISS and decord threads are not
fork-safe) with its share of the CPU threads, set up once by `setup(*setup_args)`, which typically opens the index
or unpickles an encoder into a module-level dict of its own module. The work function and the setup function must
be module-level functions (they are pickled by name).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from assoc.errors import InputError


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


def map_in_workers(work: Callable, arg_tuples: Iterable[tuple], workers: int, setup: Callable | None = None,
                   setup_args: tuple = (), window: int | None = None) -> Iterator:
    """Yield `work(*args)` for each tuple of `arg_tuples`, in their order, computed in `workers` spawned processes.

    At most `window` items (default 4 per worker) are submitted ahead of the one the caller waits for, so results
    that arrive early do not pile up in memory. An exception raised by `work` is raised here, at its item; the
    items not yet started are cancelled.
    """
    if workers < 1:
        raise InputError(f"workers must be at least 1 (got {workers})")
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    window = window or 4 * workers
    items = iter(arg_tuples)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init,
                               initargs=(thread_share(workers), setup, setup_args))
    try:
        pending: deque = deque()
        for args in items:
            pending.append(pool.submit(work, *args))
            if len(pending) >= window:
                break
        while pending:
            result = pending.popleft().result()
            for args in items:  # keep the window full
                pending.append(pool.submit(work, *args))
                break
            yield result
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
