"""The one CLI error path, run as subprocesses against the installed `mlip-bench` entry point.

Usage errors: ``Usage:`` plus one ``error:`` line, exit 2. Ctrl-C: one line, exit 130. Typed
errors: one line and their exit code. Anything unexpected: one line naming the bug-report file,
exit 1. ``--debug`` anywhere on the line shows the traceback instead.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ENTRY = Path(sys.executable).with_name("mlip-bench")
pytestmark = pytest.mark.skipif(not ENTRY.is_file(), reason="the mlip-bench entry point is not installed")


@pytest.fixture
def env(tmp_path):
    """A clean environment: data root and user cache under tmp_path, no debug, wide terminal."""
    values = {k: v for k, v in os.environ.items() if not k.startswith("MLIP_BENCH_")}
    values.update(
        MLIP_BENCH_ROOT=str(tmp_path / "root"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        COLUMNS="200",
        PYTHONUNBUFFERED="1",
    )
    return values


def cli(args: list[str], env: dict, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(ENTRY), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def assert_usage_error(proc: subprocess.CompletedProcess, command: str) -> str:
    """Exit 2, nothing on stdout, exactly ``Usage: <command> ...`` and one ``error:`` line on stderr."""
    err = lines(proc.stderr)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "", proc.stdout
    assert len(err) == 2, proc.stderr
    assert err[0].startswith(f"Usage: {command} "), err[0]
    assert err[1].startswith("error: ") and "Traceback" not in proc.stderr, err[1]
    assert f"`{command} --help`" in err[1]
    return err[1]


@pytest.mark.parametrize(
    "args,command,message",
    [
        ([], "mlip-bench", "missing command; one of: download, import, run"),
        (["run"], "mlip-bench run", "missing argument"),
        (["dowload"], "mlip-bench", "no such command 'dowload'"),
        (["run", "nequip-l0-cpu", "--seeds", "0"], "mlip-bench run", "--seeds"),
        (["download", "md17", "--bogus"], "mlip-bench download", "no such option: --bogus"),
        (["datasets"], "mlip-bench datasets", "missing command; one of: list, info"),
        (["results"], "mlip-bench results", "missing command"),
        (["--debug", "run"], "mlip-bench run", "missing argument"),
    ],
)
def test_usage_errors_are_usage_plus_one_line_exit_2(args, command, message, env, tmp_path):
    assert message in assert_usage_error(cli(args, env, tmp_path), command)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_flags(flag, env, tmp_path):
    for args in ([flag], ["run", flag], ["datasets", "list", flag]):
        proc = cli(args, env, tmp_path)
        assert proc.returncode == 0 and "Usage: mlip-bench" in proc.stdout and proc.stderr == "", args


def test_version_comes_from_the_package_metadata(env, tmp_path):
    from importlib.metadata import version

    proc = cli(["--version"], env, tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    assert proc.stdout.strip() == f"mlip-bench {version('mlip-bench')}"


def test_typed_error_is_one_line_with_its_exit_code(env, tmp_path):
    proc = cli(["download", "md18"], env, tmp_path)
    assert proc.returncode == 3
    assert lines(proc.stderr) == [
        "error: unknown dataset 'md18'; valid names: cu-formate, li3po4, lips, md17, rmd17, water"
    ]
    proc = cli(["run", "no-such-model", "--protocol", "smoke"], env, tmp_path)
    assert proc.returncode == 6 and len(lines(proc.stderr)) == 1 and "unknown model" in proc.stderr


@pytest.mark.parametrize("where", ["first", "last"])
def test_debug_anywhere_shows_the_traceback_of_a_typed_error(where, env, tmp_path):
    args = ["download", "md18"]
    args = ["--debug", *args] if where == "first" else [*args, "--debug"]
    proc = cli(args, env, tmp_path)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "DatasetError: unknown dataset 'md18'" in proc.stderr


# -- unexpected errors: a command that raises something untyped ------------------------------------

_BROKEN = """
import sys
import mlip_bench.data.cards as cards

def broken(*args, **kwargs):
    raise RuntimeError("boom\\nsecond line")

cards.list_cards = broken
from mlip_bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_unexpected_error_is_one_line_naming_the_bug_report(env, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", _BROKEN, "datasets", "list"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    err = lines(proc.stderr)
    assert proc.returncode == 1 and len(err) == 1, proc.stderr
    assert err[0].startswith("error: unexpected RuntimeError: boom second line") and "report" in err[0]
    match = re.search(r"traceback saved to (\S+?);", err[0])
    assert match, err[0]
    report = Path(match.group(1))
    assert report.is_file() and str(report).startswith(str(tmp_path / "cache"))
    text = report.read_text()
    assert "Traceback" in text and "RuntimeError: boom" in text and "datasets list" in text

    proc = subprocess.run(
        [sys.executable, "-c", _BROKEN, "datasets", "list", "--debug"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "RuntimeError: boom" in proc.stderr


# -- Ctrl-C ----------------------------------------------------------------------------------------


class _StallingServer:
    """Answers every GET with headers for 10 MB and then sends nothing (a stuck download)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                self.send_response(200)
                self.send_header("Content-Length", str(10 << 20))
                self.end_headers()
                self.wfile.write(b"x" * 1000)
                self.wfile.flush()
                owner.requested.set()
                owner.release.wait(60)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self) -> "_StallingServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def _interrupt(proc: subprocess.Popen, ready, timeout: float = 120) -> tuple[int, str, str]:
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the command ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_ctrl_c_during_download_exits_130_with_one_line(env, tmp_path):
    with _StallingServer() as server:
        proc = subprocess.Popen(
            [str(ENTRY), "download", "lips", "--mirror", server.url],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        code, out, err = _interrupt(proc, server.requested.is_set)
    assert code == 130, err
    assert lines(err)[-1] == "error: interrupted; rerun to resume" and "Traceback" not in err, err
    assert [line for line in lines(err) if not line.startswith("warning:")] == [lines(err)[-1]]


def test_ctrl_c_during_run_exits_130_with_one_line(env, tmp_path):
    """`run ... && next` must not carry on after an interruption (typer returns 130, main keeps it)."""
    proc = subprocess.Popen(
        [
            str(ENTRY),
            "run",
            "nequip-l0-cpu",
            "--protocol",
            "smoke",
            "--n-train",
            "50",
            "--out",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    seen: list[str] = []

    def started() -> bool:  # the first progress line: the command itself is running
        return any("n_train=50" in line for line in seen)

    reader = threading.Thread(target=lambda: seen.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 180
    while not started() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "".join(seen) + proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    err = proc.stderr.read()
    proc.wait(timeout=60)
    reader.join(timeout=10)
    assert proc.returncode == 130, err
    assert lines(err) == ["error: interrupted; rerun to resume"], err


@pytest.mark.parametrize("to_group", [True, False], ids=["ctrl-c-to-the-group", "kill-int-to-the-sweep-alone"])
def test_ctrl_c_during_sweep_exits_130_and_leaves_no_worker(env, tmp_path, to_group):
    """Ctrl-C in a terminal reaches the whole process group: the sweep and its local workers.
    ``kill -INT`` of the sweep's pid alone must stop its workers too (they ignore nothing, but
    only the sweep got the signal)."""
    from tests.sweep.sweep_files_for_tests import write_sweep

    out = tmp_path / "sweep-out"
    sweep = write_sweep(tmp_path / "s.yaml", overrides={"sleep_s": 60}, out=str(out))
    repo = str(Path(__file__).resolve().parents[2])  # the test runner module lives in tests/
    env = dict(env, PYTHONPATH=os.pathsep.join(p for p in (repo, env.get("PYTHONPATH", "")) if p))
    proc = subprocess.Popen(
        [str(ENTRY), "sweep", str(sweep), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    calls = out / "runner-calls.log"

    def started() -> list[int]:  # the pids of the cells that are running (sleeping)
        text = calls.read_text() if calls.is_file() else ""
        return [int(line.split()[2]) for line in text.splitlines() if line.startswith("start ")]

    deadline = time.monotonic() + 120
    while len(started()) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None and len(started()) == 2, proc.stderr.read() if proc.poll() is not None else ""
    if to_group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert lines(err)[-1] == "error: interrupted; rerun to resume" and "Traceback" not in err, err
    assert [line for line in lines(err) if line.startswith("error:")] == [lines(err)[-1]]
    assert not list(out.glob("records/*.json"))  # the cells stay pending: rerun resumes them
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(pid) for pid in started()):
        time.sleep(0.1)
    assert not [pid for pid in started() if _alive(pid)], "a worker outlived the interrupted sweep"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- the error path does not depend on typer's release -------------------------------------------


def test_missing_command_lists_commands_in_registration_order(capsys):
    """typer 0.12 (real click) sorts ``list_commands``; newer typer keeps registration order. The
    message lists the group's commands in registration order either way."""
    from mlip_bench.cli import _usage_error

    class Group:
        commands = {"run": object(), "download": object(), "datasets": object()}

        def list_commands(self, ctx):  # click's own Group.list_commands
            return sorted(self.commands)

    class Ctx:
        command = Group()
        command_path = "mlip-bench"

        def get_usage(self):
            return "Usage: mlip-bench [OPTIONS] COMMAND [ARGS]..."

    class MissingCommand(Exception):
        exit_code = 2
        ctx = Ctx()

        def format_message(self):
            return "Missing command."

        def show(self):  # pragma: no cover (never called: the handler prints its own line)
            raise AssertionError

    _usage_error(MissingCommand())
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "Usage: mlip-bench [OPTIONS] COMMAND [ARGS]...",
        "error: missing command; one of: run, download, datasets (see `mlip-bench --help`)",
    ]
