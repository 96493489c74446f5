"""`mlip-bench` command line: thin commands; typed errors become one line and an exit code."""

from __future__ import annotations

import os
import sys

import typer

from mlip_bench.errors import MlipBenchError

app = typer.Typer(
    name="mlip-bench",
    help="Checkable replication of MLIP papers: datasets, training harness, learning curves, leaderboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    if debug:
        os.environ["MLIP_BENCH_DEBUG"] = "1"


def _register_commands() -> None:
    from mlip_bench.commands import (
        data_commands,
        import_commands,
        leaderboard_commands,
        run_commands,
        sweep_commands,
    )

    for module in (data_commands, import_commands, run_commands, leaderboard_commands, sweep_commands):
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        app(args=argv, standalone_mode=False)
    except MlipBenchError as err:
        if debug or os.environ.get("MLIP_BENCH_DEBUG"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 1
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
