"""Run one sweep cell inside a worker process (local pool or Slurm array task).

:func:`execute_cell` takes the cell's lock, skips a cell whose complete record exists, calls the
runner (the harness's ``run_cell`` by default) and, when the runner raises, writes a failed
:class:`RunRecord` with the error so the sweep goes on and the failure is visible. It never trains
anything itself.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from mlip_bench.errors import ConfigError
from mlip_bench.paths import model_config_path, protocol_name
from mlip_bench.results.failed import failed_record
from mlip_bench.results.io import record_path
from mlip_bench.results.schema import RunRecord
from mlip_bench.sweep.cells import (
    Cell,
    CellLock,
    CellState,
    archive_failed_record,
    cell_state,
    existing_record,
    log_path,
)

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

Outcome = Literal["done", "failed", "skipped", "busy"]


@dataclass(frozen=True)
class CellOutcome:
    """What happened to a cell in one attempt. ``seconds``: wall time of the runner call."""

    run_id: str
    outcome: Outcome
    seconds: float = 0.0
    error: str = ""


def resolve_runner(path: str) -> Callable[..., Any]:
    """Import ``"package.module:function"`` (``ConfigError`` if it cannot be found)."""
    module_name, _, func_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"runner {path!r}: cannot import {module_name!r} ({err})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise ConfigError(f"runner {path!r}: {module_name} has no function {func_name!r}")
    return func


def configure_threads(threads: int) -> None:
    """Limit this process to ``threads`` compute threads.

    Sets the OpenMP/MKL variables (torch reads them when it is first imported) and, if torch is
    already imported, ``torch.set_num_threads``; importing torch is left to the runner.
    """
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    os.environ["MLIP_BENCH_WORKER_THREADS"] = str(threads)
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):  # only settable before the first parallel op
            torch.set_num_interop_threads(1)


def die_with_parent() -> None:
    """Linux: get SIGTERM when the sweep process that started this worker dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        return
    if os.getppid() == 1:  # parent already gone before prctl took effect
        os._exit(1)


def pool_initializer(threads: int) -> None:
    """Initializer of local pool workers: thread limits and die-with-parent."""
    die_with_parent()
    configure_threads(threads)


@contextlib.contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout/stderr (file descriptors 1 and 2) to ``path`` for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "(no message)"
    return f"{type(err).__name__}: {text}"[:2000]


def failed_cell_record(cell: Cell, error: str, seconds: float = 0.0) -> RunRecord:
    """The failed RunRecord of a cell whose runner raised ``error`` (model details filled in when
    its config loads; see :func:`mlip_bench.results.failed.failed_record`)."""
    family, config, name = "unknown", {}, cell.model
    baseline = model_config_path(cell.model)
    known = baseline.is_file() or Path(cell.model).suffix in (".yaml", ".yml")
    with contextlib.suppress(Exception):
        if not known:  # an unknown model: do not import the model stack just to fail again
            raise LookupError(cell.model)
        from mlip_bench.models.registry import load_model_config

        cfg = load_model_config(cell.model, **dict(cell.overrides.get("model") or {}))
        family, config, name = cfg.model, cfg.model_dump(mode="json"), cfg.name
    return failed_record(
        run_id=cell.run_id,
        error=error,
        model=name,
        model_family=family,
        model_config_full=config,
        dataset=cell.dataset,
        n_train=cell.n_train,
        seed=cell.seed,
        protocol=protocol_name(cell.protocol),
        protocol_config={"overrides": cell.overrides} if cell.overrides else {},
        notes=f"recorded by the sweep worker after {seconds:.1f} s",
    )


def record_failure(cell: Cell, out_dir: Path, error: str, seconds: float = 0.0) -> None:
    """Write a failed record for ``cell`` unless the runner already left a record behind."""
    from mlip_bench.results.io import write_record

    if existing_record(out_dir, cell.run_id) is not None:
        return
    write_record(failed_cell_record(cell, error, seconds), out_dir)


def execute_cell(
    cell: Cell,
    out_dir: Path,
    root: Path | None = None,
    runner: str = "mlip_bench.train.harness:run_cell",
    wait_for_lock: bool = False,
    log_to_file: bool = True,
) -> CellOutcome:
    """Run ``cell`` once under its lock.

    Returns ``skipped`` if its complete record exists, ``busy`` if another process holds its lock
    (only with ``wait_for_lock=False``), ``done`` or ``failed`` otherwise. A failed record from an
    earlier attempt is moved to ``<out>/failed-attempts/`` before the retry. Exceptions from the
    runner become a failed record; ``KeyboardInterrupt``/``SystemExit`` propagate (the cell stays
    pending and resumes from its checkpoint next time).
    """
    out_dir = Path(out_dir)
    lock = CellLock(out_dir, cell.run_id)
    if not lock.acquire(blocking=wait_for_lock):
        return CellOutcome(cell.run_id, "busy")
    try:
        state = cell_state(cell, out_dir)
        if state is CellState.DONE:
            return CellOutcome(cell.run_id, "skipped")
        if state is CellState.FAILED:  # (a complete record that trains on is replaced when the run ends)
            archive_failed_record(out_dir, cell.run_id)
        start = time.monotonic()
        log = log_path(out_dir, cell.run_id)
        redirect = output_to(log) if log_to_file else contextlib.nullcontext()
        try:
            with redirect:
                print(
                    f"=== {datetime.now(timezone.utc).isoformat(timespec='seconds')} {cell.label()} "
                    f"protocol={cell.protocol} pid={os.getpid()}",
                    flush=True,
                )
                run = resolve_runner(runner)
                threads = os.environ.get("MLIP_BENCH_WORKER_THREADS")
                if threads:
                    configure_threads(int(threads))
                result = run(
                    model=cell.model,
                    dataset=cell.dataset,
                    n_train=cell.n_train,
                    seed=cell.seed,
                    protocol=cell.protocol,
                    out_dir=out_dir,
                    root=root,
                    overrides=dict(cell.overrides) or None,
                )
        except Exception as err:  # the cell failed; record it and let the sweep go on
            seconds = time.monotonic() - start
            message = _one_line(err)
            if log_to_file:
                with open(log, "a") as handle:
                    traceback.print_exc(file=handle)
                message = f"{message} (log: {log})"[:2000]
            record_failure(cell, out_dir, message, seconds)
            return CellOutcome(cell.run_id, "failed", seconds, message)
        seconds = time.monotonic() - start
        if isinstance(result, RunRecord) and existing_record(out_dir, cell.run_id) is None:
            from mlip_bench.results.io import write_record

            write_record(result, out_dir)
        record = existing_record(out_dir, cell.run_id)
        if record is None:
            message = f"runner {runner} returned without writing {record_path(out_dir, cell.run_id)}"
            record_failure(cell, out_dir, message, seconds)
            return CellOutcome(cell.run_id, "failed", seconds, message)
        if record.status != "complete":
            return CellOutcome(cell.run_id, "failed", seconds, record.error)
        return CellOutcome(cell.run_id, "done", seconds)
    finally:
        lock.release()
