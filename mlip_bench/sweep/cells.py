"""Sweep cells: one (model, dataset, n_train, seed, protocol) run, its state on disk and its lock.

A cell's record lives at ``<out>/records/<run_id>.json`` (written by the harness; the layout is
:mod:`mlip_bench.results.io`'s). Its state is read
from that file: a complete record means *done*, a failed record *failed*, anything else *pending*.
A per-cell lock file (``<out>/locks/<run_id>.lock``, held with ``flock``) makes sure two workers,
two sweep processes or two Slurm tasks never run the same cell at once; the operating system
releases it when the holder dies, so a killed sweep leaves no stale locks. It is the run lock of
:mod:`mlip_bench.results.run_lock`, the one ``mlip-bench run`` takes, so a run and a sweep on the
same cell exclude each other too.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlip_bench.errors import ResultsError
from mlip_bench.results.io import read_record, record_path
from mlip_bench.results.run_lock import RunLock
from mlip_bench.results.schema import RunRecord

LOGS_DIR = "logs"
#: earlier failed attempts of a cell are moved here before it is retried (not read by the leaderboard)
ATTEMPTS_DIR = "failed-attempts"


class CellState(str, enum.Enum):
    """What the out dir says about a cell (``RUNNING`` only while a sweep process watches it)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Cell:
    """One run of a sweep. ``n_train`` is a number of training frames; ``overrides`` go to the runner."""

    model: str
    dataset: str
    n_train: int
    seed: int
    protocol: str
    run_id: str
    overrides: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: the sweep's label for the model entry (differs from ``model`` for controls such as 512x0e)
    model_label: str = ""

    @property
    def display_model(self) -> str:
        return self.model_label or self.model

    def label(self) -> str:
        """Short human-readable name, e.g. ``nequip-l1 md17/aspirin n=50 s=0``."""
        return f"{self.display_model} {self.dataset} n={self.n_train} s={self.seed}"


def log_path(out_dir: Path, run_id: str) -> Path:
    """Where a worker sends the output (and the traceback, on failure) of one cell."""
    return Path(out_dir) / LOGS_DIR / f"{run_id}.log"


def existing_record(out_dir: Path, run_id: str) -> RunRecord | None:
    """The record of ``run_id`` under ``out_dir`` if one exists and validates, else ``None``
    (a half-written or foreign file counts as no record)."""
    path = record_path(out_dir, run_id)
    if not path.is_file():
        return None
    try:
        return read_record(path)
    except ResultsError:
        return None


def cell_state(cell: Cell, out_dir: Path) -> CellState:
    """DONE for a complete record, FAILED for a failed one, PENDING otherwise (also for a complete
    run that its budget ended when the protocol's cap has been raised since: it trains on)."""
    return _record_state(existing_record(out_dir, cell.run_id), cell)


def cell_status(cell: Cell, out_dir: Path) -> tuple[CellState, float | None, str]:
    """(state, train seconds, error) of a cell as the out dir shows it right now.

    RUNNING when some process holds the cell's lock (a worker here, or a Slurm task elsewhere on a
    shared file system), else the state of its record.
    """
    record = existing_record(out_dir, cell.run_id)
    state = _record_state(record, cell)
    if state is CellState.DONE:
        return state, (record.timings.train_seconds if record.timings else None), ""
    if is_locked(out_dir, cell.run_id):
        return CellState.RUNNING, None, ""
    if state is CellState.FAILED:
        return state, None, record.error
    return CellState.PENDING, None, ""


def _record_state(record, cell: Cell) -> CellState:
    """The state :func:`cell_state` describes, from the cell's record (None: no record yet)."""
    from mlip_bench.train.harness import record_continues

    if record is None:
        return CellState.PENDING
    if record.status == "complete":
        return CellState.PENDING if record_continues(record, cell.protocol, cell.overrides) else CellState.DONE
    return CellState.FAILED


def archive_failed_record(out_dir: Path, run_id: str) -> Path | None:
    """Move a failed record out of ``records/`` before its cell is retried; returns the new path."""
    src = record_path(out_dir, run_id)
    if not src.exists():
        return None
    dest_dir = Path(out_dir) / ATTEMPTS_DIR
    dest_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    dest = dest_dir / f"{run_id}.{stamp}.json"
    os.replace(src, dest)
    return dest


#: the one run lock (``mlip-bench run`` takes the same one, on the same path)
CellLock = RunLock


def is_locked(out_dir: Path, run_id: str) -> bool:
    """True if some process holds the lock of ``run_id`` right now (i.e. the cell is running)."""
    lock = CellLock(out_dir, run_id)
    if not lock.path.exists():
        return False
    if lock.acquire(blocking=False):
        lock.release()
        return False
    return True
