"""CLI command ``md`` (registered by mlip_bench.cli): the MD benchmark of a trained model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from mlip_bench.errors import ConfigError

DEFAULT_OUT = Path("md")


def _default(key: str) -> str:
    """The help's default of a setting a sweep file's ``md:`` block may give (from ``MDSettingsInput``)."""
    import dataclasses

    from mlip_bench.md.settings import MDSettingsInput

    value = {f.name: f.default for f in dataclasses.fields(MDSettingsInput)}[key]
    return (
        f"Default {value:g} (with --sweep: the file's md.{key} if set)."
        if isinstance(value, float)
        else (f"Default {value} (with --sweep: the file's md.{key} if set).")
    )


DEFAULT_RESULTS = Path("results")


def md_command(
    target: Optional[str] = typer.Argument(
        None, help="A checkpoint (<out>/checkpoints/<run_id>/best_model.pt) or a run id found under --results."
    ),
    temperature: Optional[float] = typer.Option(
        None,
        "--temperature",
        "-T",
        help="Temperature (K): thermostat target (nvt) and initial velocities. " + _default("temperature_k"),
    ),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="MD steps per replica. " + _default("steps")),
    timestep: Optional[float] = typer.Option(None, "--timestep", help="Time step (fs). " + _default("timestep_fs")),
    ensemble: Optional[str] = typer.Option(
        None, "--ensemble", help="nvt (Langevin) or nve (velocity Verlet). " + _default("ensemble")
    ),
    replicas: Optional[int] = typer.Option(
        None,
        "--replicas",
        min=1,
        help="Independent trajectories, each from its own test-set frame. " + _default("replicas"),
    ),
    seed: Optional[int] = typer.Option(
        None, "--seed", help="Seed of the starting frames, velocities and thermostat noise. " + _default("seed")
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Folder for MD records and figures. Default: md (with --sweep: RESULTS/md)."
    ),
    results: Optional[list[Path]] = typer.Option(
        None,
        "--results",
        help="Results folder(s) holding records/ and checkpoints/ of the run (repeatable). Default: results "
        "(with --sweep: the sweep's own).",
    ),
    sweep: Optional[Path] = typer.Option(
        None,
        "--sweep",
        help="Instead of TARGET: run the MD benchmark for every complete run of this sweep file, skipping "
        "finished MD records.",
    ),
    friction: Optional[float] = typer.Option(
        None, "--friction", help="Langevin friction (1/fs), nvt only. " + _default("friction_per_fs")
    ),
    sample_every: Optional[int] = typer.Option(
        None,
        "--sample-every",
        min=1,
        help="Keep a frame for observables every N steps. " + _default("sample_every"),
    ),
    checkpoint_every: int = typer.Option(
        200, "--checkpoint-every", min=1, help="Save each replica's state every N steps (resume point)."
    ),
    dataset: Optional[str] = typer.Option(
        None, "--dataset", "-d", help="Start from this dataset's test frames instead of the run's."
    ),
    structure: Optional[Path] = typer.Option(
        None, "--structure", help="Start every replica from this structure file (any ASE format)."
    ),
    reference_interval_fs: Optional[float] = typer.Option(
        None,
        "--reference-interval-fs",
        help="Time between consecutive reference frames (fs), for a reference diffusivity.",
    ),
    root: Optional[Path] = typer.Option(
        None, "--root", help="Data root (default: $MLIP_BENCH_ROOT, else the user cache dir)."
    ),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="torch CPU threads (default: torch's)."),
    compile_forces: Optional[bool] = typer.Option(
        None,
        "--compile/--eager",
        help="Evaluate energy and forces through one compiled graph: a one-off compile of 1-3 minutes, "
        "then ~2x the MD steps/s on a CPU (benchmarks/results/md_speed_compiled.json); checked once against the eager "
        "forces, eager if that fails. The record's speed.force_evaluation says which ran. Default: eager "
        "(with --sweep: the md: block's compile_forces).",
    ),
    only_model: Optional[list[str]] = typer.Option(
        None, "--model", "-m", help="With --sweep: only this model's runs (repeatable; label or registry name)."
    ),
    only_n_train: Optional[str] = typer.Option(
        None, "--n-train", help="With --sweep: only these training-set sizes, e.g. 50 or 50,150."
    ),
    only_seeds: Optional[str] = typer.Option(
        None, "--seeds", help="With --sweep: only the runs of these training seeds, e.g. 1,2 or 0..2."
    ),
    protocol: Optional[str] = typer.Option(
        None,
        "--protocol",
        help="With --sweep: the protocol the runs were trained under, when `sweep --protocol` overrode "
        "the file's (e.g. plateau).",
    ),
) -> None:
    """Run MD with a trained model from its test-set frames; record stability (time to failure),
    h(r)/RDF error against the dataset, Li diffusivity and speed. Rerun to resume."""
    from rich.console import Console

    from mlip_bench.md.runner import md_record_path, run_md
    from mlip_bench.md.settings import MDSettingsInput

    if (target is None) == (sweep is None):
        raise ConfigError("give either TARGET (a checkpoint or run id) or --sweep SWEEPFILE, not both or neither")
    if sweep is None and (only_model or only_n_train or only_seeds or protocol):
        raise ConfigError(
            "--model, --n-train, --seeds and --protocol choose runs of a sweep: use them with --sweep SWEEPFILE"
        )
    given = {
        "ensemble": ensemble.lower() if ensemble is not None else None,
        "temperature_k": temperature,
        "steps": steps,
        "timestep_fs": timestep,
        "replicas": replicas,
        "seed": seed,
        "friction_per_fs": friction,
        "sample_every": sample_every,
        "compile_forces": compile_forces,
    }
    given = {k: v for k, v in given.items() if v is not None}
    from_file: dict[str, object] = {}
    if sweep is not None:
        from mlip_bench.sweep.spec import load_sweep

        block = load_sweep(sweep).md  # a bad md: block stops here, one line naming the field
        from_file = block.given() if block is not None else {}
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    settings = MDSettingsInput(
        **{**from_file, **given},  # the command line beats the sweep file's md: block
        checkpoint_every=checkpoint_every,
        device=device,
        reference_interval_fs=reference_interval_fs,
    )
    command = " ".join(["mlip-bench", *sys.argv[1:]])
    if sweep is not None:
        from mlip_bench.sweep.spec import cell_filters

        only = cell_filters(only_model, only_n_train, only_seeds)
        _md_sweep(sweep, settings, results, out, root, command, sorted(set(from_file) - set(given)), only, protocol)
        return
    out = out or DEFAULT_OUT
    folders = list(results) if results else [DEFAULT_RESULTS]
    record = run_md(
        target,
        settings,
        out,
        results=folders,
        root=root,
        dataset=dataset,
        structure=structure,
        progress=True,
        command=command,
    )
    console = Console()
    st, ob, sp = record.stability, record.observables, record.speed
    console.print(f"[bold]{record.md_id}[/]")
    for r in record.replicas:
        status = (
            f"failed at {r.time_to_failure_ps:.3f} ps ({r.failure})"
            if r.failed
            else f"stable for {r.simulated_ps:.3f} ps"
        )
        extra = ""
        if r.energy_drift_mev_per_atom_per_ps is not None:
            extra = f", drift {r.energy_drift_mev_per_atom_per_ps:.3g} meV/atom/ps"
        temp = f", <T> {r.mean_temperature_k:.0f} K" if r.mean_temperature_k is not None else ""
        console.print(f"  replica {r.index} (frame {r.start_frame}): {status}{temp}{extra}")
    console.print(
        f"  stable {st.n_stable}/{st.n_replicas}; mean time to failure {st.mean_time_to_failure_ps:.3f} ps (of {st.length_ps:.3f})"
    )
    if ob.hr_mae is not None:
        floor = f", sampling floor {ob.hr_mae_sampling_floor:.4f}" if ob.hr_mae_sampling_floor is not None else ""
        console.print(
            f"  h(r) MAE {ob.hr_mae:.4f} ({ob.n_md_samples} MD samples vs {ob.n_reference_frames} reference frames{floor})"
        )
    if ob.rdf_mae_mean is not None:
        console.print("  RDF MAE " + ", ".join(f"{k} {v:.3f}" for k, v in ob.rdf_mae.items()))
    for symbol, d in ob.diffusivity_cm2_per_s.items():
        console.print(f"  D({symbol}) = {d:.3e} cm²/s")
    for name, why in ob.not_available.items():
        console.print(f"  [dim]{name}: not available ({why})[/]")
    console.print(
        f"  speed {sp.steps_per_second:.1f} steps/s, {sp.ns_per_day:.3f} ns/day, {sp.force_evaluation} forces"
    )
    print(f"record: {md_record_path(out, record.md_id)}")


def _md_sweep(
    sweep: Path,
    settings,
    results: Optional[list[Path]],
    out: Optional[Path],
    root,
    command: str,
    from_file: list[str],
    only: dict[str, list | None],
    protocol: str | None = None,
) -> None:
    """``md --sweep``: one MD benchmark per complete run of the sweep; a summary line per run.
    ``from_file``: the settings taken from the sweep file's ``md:`` block; ``only``: the
    ``models``/``n_train``/``seeds`` filters of the runs; ``protocol``: the file's protocol
    replaced, as ``sweep --protocol`` replaces it."""
    from rich.console import Console
    from rich.markup import escape

    from mlip_bench.md.sweep_md import DONE, FAILED, md_for_sweep

    if results and len(results) > 1:
        raise ConfigError("--sweep reads one results folder: give --results once (the sweep's --out)")
    console = Console()
    s = settings
    console.print(
        escape(
            f"MD settings: {s.ensemble.upper()} {s.temperature_k:g} K, {s.replicas} replica{'' if s.replicas == 1 else 's'} x {s.steps:,} "
            f"steps of {s.timestep_fs:g} fs, seed {s.seed}"
            + (f" ({', '.join(from_file)} from the file's md: block)" if from_file else "")
        )
    )

    def show(o) -> None:
        colour = {DONE: "green", FAILED: "red"}.get(o.outcome, "dim")
        console.print(
            f"[{colour}]{o.outcome:>11}[/] {escape(o.run_id)}" + (f": {escape(o.detail)}" if o.detail else "")
        )

    result = md_for_sweep(
        sweep,
        settings,
        results_dir=results[0] if results else None,
        md_dir=out,
        root=root,
        progress=True,
        command=command,
        on_outcome=show,
        protocol=protocol,
        **only,
    )
    counts = ", ".join(
        f"{result.count(k)} {k}" for k in ("done", "skipped", "busy", "failed", "not trained") if result.count(k)
    )
    print(f"md --sweep {sweep}: {counts or 'no cells'}; MD records in {result.md_dir}")
    if result.failed:
        first = result.failed[0]
        raise type(first.error)(
            f"{len(result.failed)} MD benchmark(s) failed; the first, of {first.run_id}: {first.detail}"
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("md")(md_command)
