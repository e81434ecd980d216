"""assoc.workers: spawned processes with their share of the threads, results in order, errors at their item."""

import math
import operator
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from assoc.errors import InputError
from assoc.workers import WorkerError, WorkerPool, run_each, thread_share


def test_pool_keeps_order_shares_threads_and_raises_at_the_failing_item():
    with WorkerPool(2) as pool:
        items = [(i, i + 1) for i in range(20)]
        assert list(pool.map(operator.mul, items, window=3)) == [a * b for a, b in items]
        pids = set(pool.map(os.getpid, [()] * 8))
        assert os.getpid() not in pids  # computed in other processes
        assert set(pool.map(torch.get_num_threads, [()] * 4)) == {thread_share(2)}
        results = pool.map(math.sqrt, [(4.0,), (-1.0,), (9.0,)])
        assert next(results) == 2.0
        with pytest.raises(ValueError, match="math domain error"):
            next(results)
        assert list(pool.map(abs, [(-3,)])) == [3]  # the pool outlives a failed map


def test_run_each_computes_where_it_is_asked_with_the_same_outcomes():
    items = [(i, 3) for i in range(6)]
    here = list(run_each(items, operator.mul, operator.mul, workers=1))
    assert here == list(run_each(items, operator.mul, operator.mul, workers=2)) == [3 * i for i in range(6)]
    me = os.getpid()
    assert set(run_each([()] * 3, os.getpid, os.getpid, workers=1)) == {me}
    assert set(run_each([()], os.getpid, os.getpid, workers=2)) == {me}  # one item: no processes started for it
    assert me not in set(run_each([()] * 3, os.getpid, os.getpid, workers=2))
    with WorkerPool(2) as pool:  # a pool given wins over `workers`
        assert me not in set(run_each([()] * 3, os.getpid, os.getpid, workers=1, pool=pool))


def test_workers_below_one_are_refused():
    with pytest.raises(InputError, match="at least 1"):
        WorkerPool(0)


def test_a_worker_that_dies_is_an_error_that_says_so():
    with WorkerPool(2) as pool:
        with pytest.raises(WorkerError, match="ended abruptly"):
            list(pool.map(os._exit, [(3,)]))


def test_an_unguarded_script_is_told_to_guard_its_entry(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""
        import operator
        from assoc.workers import map_in_workers
        print(list(map_in_workers(operator.mul, [(1, 2), (3, 4)], 2)))
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "WorkerError" in run.stderr and 'if __name__ == "__main__":' in run.stderr
    assert "while a worker process imported the main module" in run.stderr  # said by the worker itself
