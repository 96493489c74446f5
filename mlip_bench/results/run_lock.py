"""One process per run: an advisory lock file ``<out>/locks/<run_id>.lock``.

This is the only run lock. ``mlip-bench run`` takes it through :func:`run_lock` and every sweep
worker (local pool or Slurm task) through :class:`RunLock` (``sweep.cells.CellLock`` is this class),
so a run and a sweep on the same cell and the same ``--out`` exclude each other.

The lock is an ``flock`` held for as long as the holder's descriptor is open, so a run killed with
``kill -9`` leaves no stale lock (the kernel drops it); the file itself stays and is reused. The
descriptor is not inherited by child processes (``O_CLOEXEC``).

The same lock guards a store while it is written and a dataset file while it is downloaded
(:meth:`RunLock.on_file`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from mlip_bench.errors import ResultsError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: locks are no-ops
    fcntl = None  # type: ignore[assignment]

LOCKS_DIR = "locks"


def lock_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / LOCKS_DIR / f"{run_id}.lock"


class RunLock:
    """An exclusive, non-inheritable ``flock`` on ``<out>/locks/<run_id>.lock``.

    Released on :meth:`release` or automatically when the holding process exits (even by SIGKILL).
    """

    def __init__(self, out_dir: Path, run_id: str) -> None:
        self.path = lock_path(out_dir, run_id)
        self._fd: int | None = None

    #: remove the lock file on release (see :meth:`on_file`)
    _transient = False

    @classmethod
    def on_file(cls, path: Path, transient: bool = False) -> RunLock:
        """The same kind of lock on any lock file (a store being written, a file being downloaded).

        ``transient``: the holder deletes the file before it lets go, so nothing is left beside
        the thing it guards; a process that locked a file deleted meanwhile notices (another inode
        than the path's) and tries again on the new one."""
        lock = cls.__new__(cls)
        lock.path = Path(path)
        lock._fd = None
        lock._transient = transient
        return lock

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock; with ``blocking=False`` return False at once if another process holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            if fcntl is None:  # pragma: no cover
                self._fd = fd
                return True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            if not self._transient or self._still_linked(fd):
                break
            os.close(fd)  # its holder deleted that file as it let go: lock the current one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {os.uname().nodename}\n".encode(), 0)
        self._fd = fd
        return True

    def _still_linked(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def holder(self) -> str:
        """The pid (and host) written by the process holding the lock, or "?"."""
        try:
            return self.path.read_text(encoding="ascii", errors="replace").strip() or "?"
        except OSError:
            return "?"

    def release(self) -> None:
        """Give the lock back (the lock file stays, it is only a handle; a transient one is deleted)."""
        if self._fd is not None:
            if self._transient:  # deleted while still held: no one can lock this inode after us
                with contextlib.suppress(OSError):
                    self.path.unlink()
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> RunLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def run_lock(out_dir: Path, run_id: str) -> Iterator[Path]:
    """Hold the lock of ``run_id`` under ``out_dir``; ``ResultsError`` (one line) when another
    process (another ``mlip-bench run``, or a sweep worker) holds it."""
    lock = RunLock(out_dir, run_id)
    if not lock.acquire(blocking=False):
        raise ResultsError(
            f"run {run_id} is already running in another process (pid {lock.holder()}, lock {lock.path}); "
            "wait for it to finish, or use another --out"
        )
    try:
        yield lock.path
    finally:
        lock.release()
