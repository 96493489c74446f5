"""Ctrl-C that is never lost.

CPython runs a signal handler between two bytecodes of the main thread, and that may be inside a
weakref callback or a ``__del__`` (the import system's module-lock callback is a common one). A
``KeyboardInterrupt`` raised there is printed as "Exception ignored in: ..." and dropped: the
command carries on as if no key had been pressed, and a download stuck on a silent server then
waits for its full network timeout.

:func:`recording_sigint` replaces the SIGINT handler with one that also *records* the request. Long loops
call :func:`raise_if_interrupted` once per step, so a dropped interrupt is raised again at the next
step. Blocking waits that no step interrupts (a socket read) run inside :func:`interruptible`:
while a recorded interrupt has not ended that block, a watchdog thread sends SIGINT to the main
thread again every :data:`REDELIVER_AFTER_S` seconds, which breaks the blocking call.

Outside :func:`recording_sigint` (mlip-bench used as a library) nothing is recorded and both helpers are
no-ops, so a host application keeps its own SIGINT handling.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: seconds after a recorded, unhandled interrupt before SIGINT is sent to the main thread again
REDELIVER_AFTER_S = 1.0

_lock = threading.Lock()
_requested_at: float | None = None
_blocking_depth = 0
_watchdog: threading.Thread | None = None


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _requested_at
    _requested_at = time.monotonic()
    raise KeyboardInterrupt


@contextmanager
def recording_sigint() -> Iterator[None]:
    """Within the block, every Ctrl-C is recorded and still raises ``KeyboardInterrupt``.

    The CLI's ``main`` runs each command in it; the previous handler comes back afterwards. Off the
    main thread (where no signal handler can be set) it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        clear()
        signal.signal(signal.SIGINT, previous)


def clear() -> None:
    """Forget a recorded interrupt (it was handled: the caller caught ``KeyboardInterrupt``)."""
    global _requested_at
    _requested_at = None


def interrupt_requested() -> bool:
    """Whether Ctrl-C was pressed and not yet :func:`clear`-ed."""
    return _requested_at is not None


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (its first raise may have been dropped)."""
    if _requested_at is not None:
        raise KeyboardInterrupt


def _watch(main_ident: int) -> None:
    global _requested_at
    while True:
        time.sleep(REDELIVER_AFTER_S / 4)
        with _lock:
            due = (
                _blocking_depth > 0
                and _requested_at is not None
                and time.monotonic() - _requested_at >= REDELIVER_AFTER_S
            )
            if due:
                _requested_at = time.monotonic()
        if due:
            signal.pthread_kill(main_ident, signal.SIGINT)


@contextmanager
def interruptible() -> Iterator[None]:
    """Run a blocking wait that Ctrl-C must end even when its first ``KeyboardInterrupt`` was dropped."""
    global _blocking_depth, _watchdog
    recording = signal.getsignal(signal.SIGINT) is _on_sigint
    if not recording or threading.current_thread() is not threading.main_thread():
        yield
        return
    with _lock:
        _blocking_depth += 1
        if _watchdog is None:
            _watchdog = threading.Thread(
                target=_watch, args=(threading.main_thread().ident,), name="sigint-watchdog", daemon=True
            )
            _watchdog.start()
    try:
        raise_if_interrupted()
        yield
    finally:
        with _lock:
            _blocking_depth -= 1
