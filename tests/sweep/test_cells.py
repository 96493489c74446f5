"""Cell state from the out dir, and the per-cell lock that keeps two processes off one cell."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from mlip_bench.results.io import record_path, write_record
from mlip_bench.sweep.cells import (
    Cell,
    CellLock,
    CellState,
    archive_failed_record,
    cell_state,
    cell_status,
    existing_record,
    is_locked,
)
from mlip_bench.sweep.worker import failed_cell_record
from tests.sweep import cell_runner_for_tests as fake


def _cell(n: int = 10) -> Cell:
    return Cell("m-a", "rmd17/ethanol", n, 0, "smoke", fake.run_id("m-a", "rmd17/ethanol", n, 0, "smoke"))


def test_state_follows_the_record_on_disk(tmp_path: Path) -> None:
    cell = _cell()
    assert cell_state(cell, tmp_path) is CellState.PENDING
    write_record(failed_cell_record(cell, "TrainingError: loss is NaN"), tmp_path)
    assert cell_state(cell, tmp_path) is CellState.FAILED
    failed = existing_record(tmp_path, cell.run_id)
    assert (
        failed is not None and failed.error == "TrainingError: loss is NaN" and failed.dataset.name == "rmd17/ethanol"
    )
    moved = archive_failed_record(tmp_path, cell.run_id)
    assert moved is not None and moved.exists() and "failed-attempts" in str(moved)
    assert cell_state(cell, tmp_path) is CellState.PENDING
    fake.run_cell("m-a", "rmd17/ethanol", 10, 0, "smoke", tmp_path)
    assert cell_state(cell, tmp_path) is CellState.DONE
    assert cell_status(cell, tmp_path)[:2] == (CellState.DONE, 0.0)
    # a truncated (corrupt) file is not mistaken for a finished cell
    record_path(tmp_path, cell.run_id).write_text('{"run_id": "x", "status": "comple')
    assert cell_state(cell, tmp_path) is CellState.PENDING
    record_path(tmp_path, cell.run_id).write_bytes(b"\xff\xfe not utf-8")
    assert cell_state(cell, tmp_path) is CellState.PENDING and existing_record(tmp_path, cell.run_id) is None


def _hold_lock(out_dir: str, run_id: str, ready: "multiprocessing.synchronize.Event") -> None:
    lock = CellLock(Path(out_dir), run_id)
    assert lock.acquire(blocking=True)
    ready.set()
    time.sleep(60)


def test_lock_excludes_other_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), "cell-1", ready))
    holder.start()
    try:
        assert ready.wait(60)
        assert is_locked(tmp_path, "cell-1")
        running = Cell("m", "d", 1, 0, "smoke", "cell-1")
        assert cell_status(running, tmp_path)[0] is CellState.RUNNING  # what --dry-run shows
        mine = CellLock(tmp_path, "cell-1")
        assert not mine.acquire(blocking=False)
        assert CellLock(tmp_path, "cell-2").acquire(blocking=False)  # other cells are free
        os.kill(holder.pid, signal.SIGKILL)  # a killed holder leaves no stale lock
        holder.join(30)
        assert mine.acquire(blocking=True)
        assert not is_locked(tmp_path, "cell-1") or mine.held
        mine.release()
        assert not is_locked(tmp_path, "cell-1")
    finally:
        if holder.is_alive():
            holder.kill()
