"""One process per run: an advisory lock file ``<out>/locks/<run_id>.lock``.

The lock is an ``flock`` held for as long as the run's process lives, so a run killed with
``kill -9`` leaves no stale lock (the kernel drops it); the file itself stays and is reused.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mlip_bench.errors import ResultsError

LOCKS_DIR = "locks"


def lock_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / LOCKS_DIR / f"{run_id}.lock"


@contextlib.contextmanager
def run_lock(out_dir: Path, run_id: str) -> Iterator[Path]:
    """Hold the lock of ``run_id`` under ``out_dir``; ``ResultsError`` (one line) when another
    process holds it. Where ``fcntl`` is missing (Windows) the lock is a no-op."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover
        yield lock_path(out_dir, run_id)
        return
    path = lock_path(out_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            except OSError:
                holder = "?"
            raise ResultsError(
                f"run {run_id} is already running in another process (pid {holder}, lock {path}); "
                "wait for it to finish, or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the flock
