"""CLI commands for the sweep area (registered by mlip_bench.cli)."""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path

import typer

from mlip_bench.errors import ConfigError, TrainingError


class Executor(str, Enum):
    local = "local"
    slurm = "slurm"
    debug = "debug"


def _check_models(models: list[str]) -> None:
    from mlip_bench.models.registry import available_models

    known = available_models()
    unknown = [m for m in models if m not in known and not Path(m).suffix]
    if unknown:
        raise ConfigError(
            f"unknown model(s) {', '.join(unknown)} in the sweep; available: {', '.join(known) or '(no model configs installed)'}"
        )


def sweep(
    sweep_file: Path = typer.Argument(..., help="Sweep YAML (see sweeps/*.yaml)."),
    executor: Executor = typer.Option(
        Executor.local,
        "--executor",
        "-e",
        help="local: worker processes here; slurm: one submitit array job; debug: submitit's in-process executor.",
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-j", min=1, help="Local worker processes (default: the sweep file's, else 1)."
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help="Torch threads per worker (default 1)."),
    compile_step: bool | None = typer.Option(
        None,
        "--compile-step/--eager-step",
        help="Train with each step's loss and gradient compiled into one graph (2-5x faster steps on a CPU, "
        "benchmarks/results; same numerics up to summation order; a one-off compile of a few minutes per run). "
        "Default: the sweep file's compile_step, else eager.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: the sweep file's `out`, else runs/<sweep name>)."
    ),
    root: Path | None = typer.Option(None, "--root", help="Data root (default: $MLIP_BENCH_ROOT or the user cache)."),
    protocol: str | None = typer.Option(
        None,
        "--protocol",
        help="Override the sweep's protocol: a preset (paper, cpu, smoke, ...) or a protocol YAML file.",
    ),
    runner: str | None = typer.Option(
        None, "--runner", help="Cell runner 'module:function' (default: the training harness)."
    ),
    retry_failed: bool = typer.Option(
        True, "--retry-failed/--skip-failed", help="Rerun cells whose last attempt failed."
    ),
    wait: bool | None = typer.Option(
        None, "--wait/--no-wait", help="Slurm: watch the jobs until they end (default: submit and return)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the cells and their state; run nothing."),
    only_model: list[str] | None = typer.Option(
        None, "--model", "-m", help="Run only this model's cells (repeatable; the sweep's label or registry name)."
    ),
    only_n_train: str | None = typer.Option(
        None, "--n-train", help="Run only these training-set sizes of the ladder, e.g. 350 or 350,950."
    ),
    only_seeds: str | None = typer.Option(None, "--seeds", help="Run only these seeds, e.g. 2 or 1,2 or 0..2."),
) -> None:
    """Run a sweep: models x datasets x n_train ladder x seeds, one run record per cell.

    Completed cells are skipped, so rerunning the same command continues an interrupted sweep.
    --model, --n-train and --seeds run a part of the sweep first (same run ids and records).
    """
    from rich.console import Console

    from mlip_bench.sweep.local import cells_to_run, run_local
    from mlip_bench.sweep.progress import SweepProgress
    from mlip_bench.sweep.spec import DEFAULT_RUNNER, expand_cells, load_sweep
    from mlip_bench.sweep.worker import resolve_runner

    spec = load_sweep(sweep_file)
    updates: dict[str, object] = {}
    if protocol:
        updates["protocol"] = protocol
    if runner:
        updates["runner"] = runner
    if updates:
        from mlip_bench.sweep.spec import replace_fields

        spec = replace_fields(spec, str(sweep_file), **updates)
    if spec.runner == DEFAULT_RUNNER:
        from mlip_bench.train.protocols import load_protocol

        _check_models(spec.model_names)
        load_protocol(spec.protocol)  # an unknown preset or a bad protocol file: one line, before any cell
    resolve_runner(spec.runner)  # fail now, not in every worker
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", spec.name):  # it becomes runs/<name>/ and a job name
        raise ConfigError(f"sweep name {spec.name[:60]!r}: use letters, digits, '.', '_', '+', '-' (no '/' or '..')")
    cells = expand_cells(spec, root=root)
    if only_model or only_n_train or only_seeds:
        from mlip_bench.sweep.spec import cell_filters, select_cells

        cells = select_cells(cells, **cell_filters(only_model, only_n_train, only_seeds))
    out_dir = out or Path(spec.out or Path("runs") / spec.name)
    n_workers = workers or spec.workers
    n_threads = threads or spec.threads_per_worker
    if compile_step if compile_step is not None else spec.compile_step:
        from mlip_bench.train.harness import COMPILE_STEP_VARIABLE

        os.environ[COMPILE_STEP_VARIABLE] = "1"  # workers (spawned or submitted) inherit it
    console = Console(stderr=True, soft_wrap=True)

    if dry_run:
        from mlip_bench.sweep.cells import cell_status

        progress = SweepProgress(spec.name, cells, n_workers, console=Console(), max_rows=len(cells), live=False)
        for cell in cells:
            state, seconds, error = cell_status(cell, out_dir)
            progress.set_state(cell, state, seconds, error)
        Console(soft_wrap=True).print(progress.render())
        return

    console.print(
        f"sweep {spec.name}: {len(cells)} cells, protocol {spec.protocol}, out {out_dir}, executor {executor.value}"
        + (f", {n_workers} worker(s) x {n_threads} thread(s)" if executor is Executor.local else "")
    )
    if executor is Executor.local:
        with SweepProgress(spec.name, cells, n_workers, console=console) as progress:
            summary = run_local(
                cells,
                out_dir,
                root=root,
                runner=spec.runner,
                workers=n_workers,
                threads=n_threads,
                retry_failed=retry_failed,
                progress=progress,
            )
        console.print(
            f"sweep {spec.name}: {len(summary.done)} run, {len(summary.skipped)} already complete, "
            f"{len(summary.failed)} failed; records in {out_dir / 'records'}"
        )
        if summary.failed:
            raise TrainingError(
                f"{len(summary.failed)} of {len(cells)} cells failed (e.g. {summary.failed[0]}); "
                f"their records say why, logs in {out_dir / 'logs'}; rerun the same command to retry them"
            )
        return

    from mlip_bench.sweep.slurm import submit_array, wait_for_jobs

    todo, summary = cells_to_run(cells, out_dir, retry_failed)
    if not todo:
        console.print(f"sweep {spec.name}: all {len(cells)} cells are complete; nothing to submit")
        return
    cluster = "slurm" if executor is Executor.slurm else "debug"
    jobs = submit_array(
        todo,
        out_dir,
        spec.resources,
        job_name=f"mlip-{spec.name}",
        root=root,
        runner=spec.runner,
        threads=n_threads,
        cluster=cluster,
    )
    console.print(
        f"submitted {len(jobs)} array task(s) as job {jobs[0].job_id.split('_')[0]} ({len(summary.skipped)} cells already complete); "
        f"logs in {out_dir / 'submitit'}"
    )
    if cluster == "slurm" and not wait:
        console.print(f"follow it with: mlip-bench sweep {sweep_file} --dry-run" + (f" --out {out}" if out else ""))
        return
    with SweepProgress(spec.name, cells, len(todo), console=console) as progress:
        cells_to_run(cells, out_dir, retry_failed, progress)
        states = wait_for_jobs(jobs, todo, out_dir, progress)
    failed = [rid for rid, state in states.items() if state.value != "done"]
    console.print(f"sweep {spec.name}: {len(states) - len(failed)} done, {len(failed)} failed or unfinished")
    if failed:
        raise TrainingError(
            f"{len(failed)} of {len(cells)} cells failed or did not finish (e.g. {failed[0]}); "
            f"see {out_dir / 'records'} and {out_dir / 'submitit'}; rerun the same command to retry them"
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("sweep")(sweep)
