"""Local executor: run sweep cells in a pool of worker processes on this machine.

Each worker is a fresh (spawned) Python process limited to ``threads`` torch threads; measured on a
2-core machine, two 1-thread workers give about 1.36x the throughput of one 2-thread run. At most
``workers`` cells are in flight, so "in flight" means "running". A cell whose lock is held by
another process (a second sweep on the same out dir, or a worker orphaned by a killed sweep) is
deferred and, once nothing else is left, waited for. A worker that dies (killed, out of memory)
breaks the pool: the cells that were in flight are rerun one at a time in a fresh pool, and the
one that kills its worker while running alone is recorded as failed.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from mlip_bench.sweep.cells import Cell, CellState, cell_state
from mlip_bench.sweep.progress import SweepProgress
from mlip_bench.sweep.worker import CellOutcome, execute_cell, pool_initializer, record_failure


@dataclass
class SweepSummary:
    """Run ids by what happened in this invocation (``skipped``: complete before it started)."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def cells_to_run(
    cells: list[Cell], out_dir: Path, retry_failed: bool = True, progress: SweepProgress | None = None
) -> tuple[list[Cell], SweepSummary]:
    """Split ``cells`` by their state in ``out_dir``: the ones to run, and a summary of the rest."""
    summary = SweepSummary()
    todo: list[Cell] = []
    for cell in cells:
        state = cell_state(cell, out_dir)
        if state is CellState.DONE:
            summary.skipped.append(cell.run_id)
        elif state is CellState.FAILED and not retry_failed:
            summary.failed.append(cell.run_id)
        else:
            todo.append(cell)
        if progress is not None and state is not CellState.PENDING:
            progress.set_state(cell, state)
    return todo, summary


def run_local(
    cells: list[Cell],
    out_dir: Path,
    root: Path | None = None,
    runner: str = "mlip_bench.train.harness:run_cell",
    workers: int = 1,
    threads: int = 1,
    retry_failed: bool = True,
    progress: SweepProgress | None = None,
) -> SweepSummary:
    """Run every cell that is not done, ``workers`` at a time; returns what happened.

    Completed cells are skipped (a rerun continues an interrupted sweep); a failed cell is recorded
    as failed and does not stop the others. Ctrl-C cancels the queue; running cells keep their
    checkpoints and resume on the next run.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    todo, summary = cells_to_run(cells, out_dir, retry_failed, progress)
    queue: deque[Cell] = deque(todo)
    deferred: deque[Cell] = deque()
    context = multiprocessing.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=max(1, workers), mp_context=context, initializer=pool_initializer, initargs=(threads,)
        )

    pool = new_pool()
    in_flight: dict[Future[CellOutcome], Cell] = {}
    suspects: deque[Cell] = deque()  # cells in flight when a worker died: rerun one at a time
    # a suspect may have finished its record just before the pool broke: its rerun then finds the
    # record and skips, but the cell was done by this sweep
    suspected: set[str] = set()
    alone = False  # the only cell in flight is a suspect running by itself

    def suspect(cell: Cell) -> None:
        """``cell`` was in flight when a worker died: queue it to rerun alone."""
        suspects.append(cell)
        suspected.add(cell.run_id)
        if progress is not None:
            progress.mark_finished(cell, CellState.PENDING, error="a worker died; rerunning alone")

    try:
        while queue or deferred or suspects or in_flight:
            if suspects and not in_flight:
                cell = suspects.popleft()
                in_flight[pool.submit(execute_cell, cell, out_dir, root, runner, False, True)] = cell
                alone = True
                if progress is not None:
                    progress.mark_running(cell)
            while (
                not alone
                and not suspects
                and len(in_flight) < max(1, workers)
                and (queue or (deferred and not in_flight))
            ):
                waiting = not queue
                cell = queue.popleft() if queue else deferred.popleft()
                in_flight[pool.submit(execute_cell, cell, out_dir, root, runner, waiting, True)] = cell
                if progress is not None:
                    progress.mark_running(cell)
            finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                cell = in_flight.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    broken = True
                    if alone:  # it ran by itself, so it is the cell that kills its worker
                        message = "worker process died while running this cell (killed, crashed or out of memory)"
                        record_failure(cell, out_dir, message)
                        summary.failed.append(cell.run_id)
                        if progress is not None:
                            progress.mark_finished(cell, CellState.FAILED, error=message)
                    else:
                        suspect(cell)
                    continue
                if outcome.outcome == "skipped" and cell.run_id in suspected:
                    outcome = replace(outcome, outcome="done")
                _account(outcome, cell, summary, deferred, progress)
            alone = False
            if broken:
                for future, cell in list(in_flight.items()):
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        suspect(cell)
                        continue
                    _account(outcome, cell, summary, deferred, progress)
                in_flight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool()
    except BaseException:
        # Ctrl-C in a terminal reaches the workers as well; a signal to the sweep alone (``kill
        # -INT <pid>``) does not, and the interpreter would wait at exit for cells that run for
        # hours: stop them (their checkpoints, written atomically, resume on the next run)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return summary


def _account(
    outcome: CellOutcome,
    cell: Cell,
    summary: SweepSummary,
    deferred: deque[Cell],
    progress: SweepProgress | None,
) -> None:
    if outcome.outcome == "busy":
        deferred.append(cell)
        if progress is not None:
            progress.mark_finished(cell, CellState.PENDING, 0.0, "running in another process; will wait for it")
        return
    if outcome.outcome == "failed":
        summary.failed.append(cell.run_id)
        state = CellState.FAILED
    elif outcome.outcome == "skipped":
        summary.skipped.append(cell.run_id)
        state = CellState.DONE
    else:
        summary.done.append(cell.run_id)
        state = CellState.DONE
    if progress is not None:
        progress.mark_finished(cell, state, outcome.seconds, outcome.error)
