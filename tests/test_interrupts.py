"""Ctrl-C is never lost: a KeyboardInterrupt that CPython drops (raised inside ``__del__`` or a
weakref callback) is raised again, at the next loop step or by re-sending SIGINT to a blocked read."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from mlip_bench import interrupts

# A child that swallows its first KeyboardInterrupt the way the import system's module-lock
# callback does (the handler runs inside __del__), then blocks on a socket that never delivers.
_CHILD = textwrap.dedent(
    """
    import socket, sys, time
    from mlip_bench import interrupts

    class SlowFinaliser:
        def __del__(self):
            print("in-finaliser", flush=True)
            started = time.monotonic()
            while time.monotonic() - started < 30:  # SIGINT lands here (and ends the loop);
                pass                                 # CPython drops the raise

    quiet, _ = socket.socketpair()
    with interrupts.recording_sigint():
        with interrupts.interruptible():
            SlowFinaliser()
            print("blocking", flush=True)
            {blocking}
    print("not interrupted", flush=True)
    """
)


def _run_child(blocking: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(blocking=blocking)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "in-finaliser"
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("Ctrl-C was lost: the child still blocked on its read")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_a_dropped_ctrl_c_still_ends_a_blocked_socket_read():
    result = _run_child("quiet.recv(1)")
    assert "Exception ignored" in result.stderr, "the first KeyboardInterrupt was not dropped: test is void"
    assert "blocking" in result.stdout and "not interrupted" not in result.stdout
    assert result.returncode != 0 and result.stderr.rstrip().endswith("KeyboardInterrupt")


def test_a_dropped_ctrl_c_is_raised_again_at_the_next_step():
    result = _run_child(
        "while True:\n                interrupts.raise_if_interrupted()\n                time.sleep(0.01)"
    )
    assert "Exception ignored" in result.stderr
    assert "not interrupted" not in result.stdout
    assert result.returncode != 0 and result.stderr.rstrip().endswith("KeyboardInterrupt")


def test_outside_the_cli_nothing_is_recorded_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGINT)
    with interrupts.recording_sigint():
        assert signal.getsignal(signal.SIGINT) is not before
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        assert interrupts.interrupt_requested()
        with pytest.raises(KeyboardInterrupt):
            interrupts.raise_if_interrupted()
    assert signal.getsignal(signal.SIGINT) is before
    assert not interrupts.interrupt_requested()
    interrupts.raise_if_interrupted()  # a library caller is never interrupted by stale state
    with interrupts.interruptible():
        pass


def test_off_the_main_thread_recording_is_a_no_op():
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with interrupts.recording_sigint(), interrupts.interruptible():
                interrupts.raise_if_interrupted()
        except BaseException as exc:  # noqa: BLE001 (reported to the main thread)
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors == []
