"""Issue 11: `mlip-bench run` and a sweep on the same cell exclude each other through one lock on
one path (``results.run_lock.RunLock``; the sweep's ``CellLock`` is the same class)."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from mlip_bench.errors import ResultsError
from mlip_bench.results.run_lock import RunLock, lock_path, run_lock
from mlip_bench.sweep.cells import Cell, CellLock, is_locked
from mlip_bench.sweep.worker import execute_cell
from mlip_bench.train.harness import cell_run_id

RUN_ID = cell_run_id("nequip-l0-cpu", "rmd17/ethanol", 50, 0, "smoke", None)


def _hold_run_lock(out_dir: str, run_id: str, ready, release) -> None:
    with run_lock(Path(out_dir), run_id):
        ready.set()
        release.wait(60)


def test_one_lock_class_on_one_path(tmp_path):
    assert CellLock is RunLock
    assert CellLock(tmp_path, RUN_ID).path == lock_path(tmp_path, RUN_ID)


def test_a_sweep_worker_holding_the_cell_refuses_run(tmp_path):
    """The sweep side holds the lock (as execute_cell does): `run`'s lock refuses in one line."""
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    worker = ctx.Process(target=_hold_cell_lock, args=(str(tmp_path), RUN_ID, ready, release))
    worker.start()
    try:
        assert ready.wait(60)
        with pytest.raises(ResultsError, match=r"already running in another process \(pid \d+"):
            with run_lock(tmp_path, RUN_ID):
                pass
    finally:
        release.set()
        worker.join(30)
    with run_lock(tmp_path, RUN_ID):  # released with its holder
        pass


def _hold_cell_lock(out_dir: str, run_id: str, ready, release) -> None:
    lock = CellLock(Path(out_dir), run_id)
    assert lock.acquire(blocking=False)
    ready.set()
    release.wait(60)


def test_a_running_run_makes_the_sweep_cell_busy(tmp_path):
    """`run` holds the lock (in another process): the sweep sees the cell running and skips it as busy,
    without calling its runner; a SIGKILLed run leaves no stale lock."""
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_run_lock, args=(str(tmp_path), RUN_ID, ready, release))
    holder.start()
    cell = Cell("nequip-l0-cpu", "rmd17/ethanol", 50, 0, "smoke", RUN_ID)
    try:
        assert ready.wait(60)
        assert is_locked(tmp_path, RUN_ID)
        outcome = execute_cell(cell, tmp_path, runner="tests.results.test_run_lock:_must_not_run", log_to_file=False)
        assert outcome.outcome == "busy"
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(30)
    finally:
        if holder.is_alive():
            holder.kill()
    assert not is_locked(tmp_path, RUN_ID)


def _must_not_run(**kwargs):  # pragma: no cover - reached only if the lock failed
    raise AssertionError("the sweep ran a cell that `mlip-bench run` holds")
