"""`mlip-bench` command line: thin commands, one error path.

Every way a command can end goes through :func:`main`:

- usage errors (unknown command or option, missing or out-of-range value): the usage line and one
  ``error:`` line, exit 2;
- Ctrl-C: ``error: interrupted; rerun to resume``, exit 130;
- typed errors (:class:`~mlip_bench.errors.MlipBenchError`): one line, the error's exit code;
- anything else is a bug: one line naming the bug-report file written with the traceback, exit 1.

``--debug`` anywhere on the line (before a ``--``) shows the traceback instead. The handler
recognises typer/click exceptions by their public attributes (``exit_code``, ``show``, ``ctx``),
never by importing click: typer vendors its own copy of click in recent releases.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from mlip_bench.errors import MlipBenchError
from mlip_bench.interrupts import recording_sigint

DEBUG_ENV = "MLIP_BENCH_DEBUG"
PROG = "mlip-bench"
INTERRUPTED = "error: interrupted; rerun to resume"

app = typer.Typer(
    name=PROG,
    help="Checkable replication of MLIP papers: datasets, training harness, learning curves, leaderboard.",
    no_args_is_help=False,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def package_version() -> str:
    """The installed distribution's version (the one in pyproject.toml)."""
    from mlip_bench import __version__

    return __version__


def _show_version(value: bool) -> None:
    if value:
        print(f"{PROG} {package_version()}")
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors (accepted anywhere)."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


def _register_commands() -> None:
    from mlip_bench.commands import (
        data_commands,
        demo_commands,
        import_commands,
        leaderboard_commands,
        md_commands,
        run_commands,
        sweep_commands,
    )

    for module in (
        data_commands,
        import_commands,
        run_commands,
        demo_commands,
        leaderboard_commands,
        sweep_commands,
        md_commands,
    ):
        module.register(app)


_register_commands()


# -- the error path ----------------------------------------------------------------------------


def _split_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug`` flags (before a ``--``), and whether one was given."""
    out: list[str] = []
    debug = False
    for i, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == "--debug":
            debug = True
            continue
        out.append(arg)
    return out, debug


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_error(exc: BaseException) -> None:
    """Print ``Usage: ...`` (when the failing command is known) and one ``error:`` line."""
    ctx = getattr(exc, "ctx", None)
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    message = _one_line(message).rstrip(".") or "invalid command line"
    if ctx is not None:
        try:
            usage = ctx.get_usage()
        except Exception:  # noqa: BLE001 (usage is a courtesy; the error line matters)
            usage = ""
        if usage:
            print(usage.strip().splitlines()[0], file=sys.stderr)
        if message.lower().startswith("missing command"):
            names = _subcommands(ctx)
            if names:
                message += f"; one of: {', '.join(names)}"
        path = getattr(ctx, "command_path", "") or PROG
        message += f" (see `{path} --help`)"
    print(f"error: {message[:1].lower()}{message[1:]}", file=sys.stderr)


def _subcommands(ctx: object) -> list[str]:
    """The group's commands in the order they were registered (``list_commands`` sorts them in
    older typer releases and keeps that order in newer ones; the message should not depend on it)."""
    command = getattr(ctx, "command", None)
    commands = getattr(command, "commands", None)
    if isinstance(commands, dict):
        return [str(name) for name, cmd in commands.items() if not getattr(cmd, "hidden", False)]
    list_commands = getattr(command, "list_commands", None)
    return list(list_commands(ctx)) if callable(list_commands) else []


def _is_click_error(exc: BaseException) -> bool:
    """A typer/click exception that knows how to report itself (usage error, bad file, ...)."""
    return isinstance(getattr(exc, "exit_code", None), int) and callable(getattr(exc, "show", None))


def _is_abort(exc: BaseException) -> bool:
    """typer's / click's ``Abort`` (Ctrl-C or end of input at a prompt)."""
    if isinstance(exc, typer.Abort):
        return True
    return any(cls.__name__ == "Abort" and "click" in cls.__module__ for cls in type(exc).__mro__)


def _bug_report(exc: BaseException, argv: list[str]) -> Path | None:
    """Write the traceback of an unexpected error to a file; its path, or None if none could be written."""
    import datetime
    import platform
    import tempfile
    import traceback

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (
        f"{PROG} {package_version()} on Python {platform.python_version()} ({platform.platform()})\n"
        f"command: {' '.join([PROG, *argv])}\n\n" + "".join(traceback.format_exception(exc))
    )
    candidates = []
    try:
        import platformdirs

        candidates.append(Path(platformdirs.user_cache_dir(PROG)) / "bug-reports")
    except ImportError:  # pragma: no cover
        pass
    candidates.append(Path(tempfile.gettempdir()))
    for directory in candidates:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{PROG}-bug-{stamp}-{os.getpid()}.txt"
            path.write_text(text)
            return path
        except OSError:
            continue
    return None


def _unexpected(exc: BaseException, argv: list[str]) -> int:
    report = _bug_report(exc, argv)
    where = f"traceback saved to {report}" if report else "rerun with --debug for the traceback"
    detail = _one_line(str(exc))
    detail = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    print(
        f"error: unexpected {detail[:300]} (a bug in {PROG} {package_version()}; {where}; "
        "please report it with that file)",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script: run the command, turn every ending into an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    args, debug_flag = _split_debug(args)
    if debug_flag:
        os.environ[DEBUG_ENV] = "1"

    def debug() -> bool:
        return debug_flag or bool(os.environ.get(DEBUG_ENV))

    try:
        with recording_sigint():  # a Ctrl-C that lands in a weakref callback is raised again
            code = app(args=args, prog_name=PROG, standalone_mode=False)
    except MlipBenchError as err:
        if debug():
            raise
        print(f"error: {_one_line(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        if debug():
            raise
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except BrokenPipeError:  # `mlip-bench ... | head`: the reader left; not an error of ours
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001 (the one place that turns any error into a line)
        if _is_abort(exc):
            if debug():
                raise
            print(INTERRUPTED, file=sys.stderr)
            return 130
        if _is_click_error(exc):
            _usage_error(exc)
            return int(exc.exit_code)  # type: ignore[attr-defined]
        exit_code = getattr(exc, "exit_code", None)
        if isinstance(exit_code, int) and type(exc).__name__ == "Exit":  # typer.Exit raised, not returned
            return _exit_status(exit_code)
        if debug():
            raise
        return _unexpected(exc, args)
    return _exit_status(code)


def _exit_status(code: object) -> int:
    """typer returns the exit code of ``typer.Exit`` (130 for Ctrl-C) under standalone_mode=False."""
    if not isinstance(code, int) or code == 0:
        return 0
    if code == 130:
        print(INTERRUPTED, file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
