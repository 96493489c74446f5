"""Slurm executor: one submitit array job per sweep, one array task per cell.

Resources come from the sweep file's ``resources`` block. Each task runs the same
:func:`~mlip_bench.sweep.worker.execute_cell` as a local worker (lock, skip-complete, failed
record), so a resubmitted sweep skips finished cells. Tasks are checkpointable: on preemption or
timeout submitit requeues the task, and the harness resumes from its own checkpoint.

``cluster="debug"`` (in-process) and ``cluster="local"`` (subprocesses) use submitit's own test
executors and go through exactly the same submission path.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import submitit
from submitit.helpers import Checkpointable

from mlip_bench.errors import ConfigError
from mlip_bench.sweep.cells import Cell, CellState, cell_state
from mlip_bench.sweep.progress import SweepProgress
from mlip_bench.sweep.spec import SlurmResources
from mlip_bench.sweep.worker import CellOutcome, configure_threads, execute_cell

SUBMITIT_DIR = "submitit"


class CellTask(Checkpointable):
    """The callable submitted for each array task: runs one cell, requeued on preemption."""

    def __init__(self, out_dir: Path, root: Path | None, runner: str, threads: int, log_to_file: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.root = root
        self.runner = runner
        self.threads = threads
        self.log_to_file = log_to_file

    def __call__(self, cell: Cell) -> CellOutcome:
        configure_threads(self.threads)
        return execute_cell(
            cell, self.out_dir, self.root, self.runner, wait_for_lock=True, log_to_file=self.log_to_file
        )


def make_executor(
    resources: SlurmResources, folder: Path, job_name: str, cluster: str = "slurm", threads: int = 1
) -> submitit.AutoExecutor:
    """A submitit executor configured from the sweep's resources (``cluster``: slurm, local or debug)."""
    try:
        executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    except RuntimeError as err:  # submitit's Slurm executor wants srun on PATH
        raise ConfigError(f"no Slurm here ({err}); use --executor local") from None
    params: dict[str, Any] = {
        "name": job_name,
        "timeout_min": resources.timeout_min,
        "mem_gb": resources.mem_gb,
        "cpus_per_task": max(resources.cpus, threads),
        "slurm_array_parallelism": resources.array_parallelism,
    }
    if resources.gpus:
        params["gpus_per_node"] = resources.gpus
    if resources.partition:
        params["slurm_partition"] = resources.partition
    if resources.account:
        params["slurm_account"] = resources.account
    if resources.qos:
        params["slurm_qos"] = resources.qos
    if resources.setup:
        params["slurm_setup"] = list(resources.setup)
    if resources.additional:
        params["slurm_additional_parameters"] = dict(resources.additional)
    if cluster == "local":  # the local executor knows nothing of partitions and memory
        params = {k: v for k, v in params.items() if k in ("name", "timeout_min", "gpus_per_node")}
    elif cluster == "debug":
        params = {"name": job_name}
    executor.update_parameters(**params)
    return executor


def submit_array(
    cells: list[Cell],
    out_dir: Path,
    resources: SlurmResources,
    job_name: str,
    root: Path | None = None,
    runner: str = "mlip_bench.train.harness:run_cell",
    threads: int = 1,
    cluster: str = "slurm",
) -> list[submitit.Job]:
    """Submit ``cells`` as one array job (``executor.map_array``); returns its jobs, one per cell."""
    if not cells:
        return []
    out_dir = Path(out_dir)
    folder = out_dir / SUBMITIT_DIR / "%j"
    executor = make_executor(resources, folder, job_name, cluster=cluster, threads=threads)
    task = CellTask(out_dir, root, runner, threads, log_to_file=cluster != "debug")
    try:
        return executor.map_array(task, cells)
    except (FileNotFoundError, subprocess.CalledProcessError, submitit.core.utils.FailedJobError) as err:
        raise ConfigError(
            f"Slurm submission failed ({str(err).splitlines()[0] if str(err) else type(err).__name__}); "
            "is sbatch available here? use --executor local otherwise"
        ) from None


def wait_for_jobs(
    jobs: list[submitit.Job],
    cells: list[Cell],
    out_dir: Path,
    progress: SweepProgress | None = None,
    poll_s: float = 5.0,
) -> dict[str, CellState]:
    """Wait until every job ends, following progress through the record files; final cell states.

    Debug-executor jobs run (in this process) when their result is asked for.
    """
    by_id = {c.run_id: c for c in cells}
    reported: set[str] = set()
    pending = list(zip(jobs, cells))
    while pending:
        still = []
        for job, cell in pending:
            if isinstance(job, submitit.local.debug.DebugJob):
                if progress is not None:
                    progress.mark_running(cell)
                _report(job, cell, out_dir, progress)
                reported.add(cell.run_id)
            elif job.done():
                _report(job, cell, out_dir, progress)
                reported.add(cell.run_id)
            else:
                still.append((job, cell))
                if progress is not None and job.state in ("RUNNING",) and cell.run_id not in progress.started:
                    progress.mark_running(cell)
        pending = still
        if pending:
            time.sleep(poll_s)
    return {rid: cell_state(by_id[rid], out_dir) for rid in reported}


def _report(job: submitit.Job, cell: Cell, out_dir: Path, progress: SweepProgress | None) -> None:
    error = ""
    seconds = None
    try:
        outcome = job.result()
        error, seconds = outcome.error, outcome.seconds
    except Exception as err:  # the task itself died (timeout without requeue, node failure)
        error = " ".join(str(err).split())[:300]
    state = cell_state(cell, out_dir)
    if state is CellState.PENDING and error:
        state = CellState.FAILED
    if progress is not None:
        progress.mark_finished(cell, state, seconds, error)
