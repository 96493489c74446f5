"""CLI commands for the run area (registered by mlip_bench.cli): ``run``, ``evaluate`` and
``results list`` (``demo`` is in :mod:`mlip_bench.commands.demo_commands`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from mlip_bench.errors import ConfigError

DEFAULT_OUT = Path("results")
DEFAULT_DATASET = "rmd17/ethanol"
ROOT_HELP = "Data root (default: $MLIP_BENCH_ROOT, else the user cache dir)."


def parse_n_train(spec: str, ladder: list[int] | None, dataset: str = "this dataset") -> list[int]:
    """Training sizes from ``--n-train`` in the grammar of :mod:`mlip_bench.data.ladder` (a list,
    one size or ``A..B`` over the card's ``ladder``), ascending; ``ConfigError`` otherwise."""
    from mlip_bench.data.ladder import parse_ladder, resolve_ladder

    try:
        return resolve_ladder(parse_ladder(spec), dataset, ladder)
    except ValueError as err:
        raise ConfigError(f"--n-train {spec.strip()}: {err}") from None


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as YAML scalars); ``model.key=value`` goes to the model config."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: use KEY=VALUE, e.g. --set max_steps=500")
        value = yaml.safe_load(raw)
        key = key.strip()
        if key.startswith("model."):
            out.setdefault("model", {})[key[len("model.") :]] = value
        else:
            out[key] = value
    return out


def _metrics_table(records: list, title: str):
    """The closing summary: the full table where it fits, a compact one with a legend in 80 columns."""
    from mlip_bench.commands.summary import metrics_summary

    return metrics_summary(records, title)


def _console():
    from mlip_bench.commands.console import make_console

    return make_console()


def _refuse_stale_record(
    model: str, variant: str, n: int, seed: int, protocol: str, out: Path, root, overrides
) -> None:
    """``ResultsError`` when a finished record of this run was made from another store than the
    current one (imported or downloaded again since): say so instead of returning old numbers."""
    from mlip_bench.data.catalog import open_store
    from mlip_bench.errors import DatasetError, ResultsError
    from mlip_bench.results.io import read_record, record_path
    from mlip_bench.train.harness import cell_run_id, checkpoint_dir

    rid = cell_run_id(model, variant, n, seed, protocol, overrides)
    path = record_path(out, rid)
    if not path.is_file():
        return
    record = read_record(path)
    if record.status != "complete":
        return
    try:
        with open_store(variant, root=root) as store:
            current = store.sha256
    except DatasetError:  # no store any more: the record is all there is
        return
    if record.dataset.store_sha256 != current:
        ckpt = checkpoint_dir(out, rid)
        raise ResultsError(
            f"{path} is stale: made from store sha256 {record.dataset.store_sha256[:12]}..., but {variant} is now "
            f"{current[:12]}... (imported or downloaded again since); run `rm {path}` and `rm -rf {ckpt}` "
            "to train it again, or use a new --out"
        )


def run_command(
    model: str = typer.Argument(..., help="Model variant (nequip-l1-cpu, schnet, ...) or a model YAML file."),
    dataset: str = typer.Option(
        DEFAULT_DATASET, "--dataset", "-d", help="Dataset variant, e.g. md17 or rmd17/ethanol."
    ),
    molecule: Optional[str] = typer.Option(None, "--molecule", "-m", help="Molecule of a multi-molecule dataset."),
    n_train: Optional[str] = typer.Option(
        None,
        "--n-train",
        "-n",
        help="Training sizes: 50,100,250 or A..B (the card's ladder in [A, B]). Default: the card's default.",
    ),
    seeds: int = typer.Option(1, "--seeds", min=1, help="Number of seeds (0..K-1); each seed draws its own split."),
    one_seed: Optional[int] = typer.Option(
        None, "--seed", min=0, help="Run this one seed only (instead of --seeds), e.g. to reproduce one record."
    ),
    protocol: str = typer.Option(
        "cpu",
        "--protocol",
        "-p",
        help="Protocol: a preset (paper, plateau, cpu, short, demo, smoke) or a protocol YAML file.",
    ),
    out: Path = typer.Option(DEFAULT_OUT, "--out", "-o", help="Results folder (records/ and checkpoints/)."),
    root: Optional[Path] = typer.Option(None, "--root", help=ROOT_HELP),
    set_: Optional[list[str]] = typer.Option(
        None, "--set", help="Protocol override KEY=VALUE (repeatable), or model.KEY=VALUE."
    ),
    device: Optional[str] = typer.Option(None, "--device", help="cpu or cuda (default: cuda when available)."),
    compile_step: bool = typer.Option(
        False,
        "--compile-step",
        help="Compile each training step's loss and gradient into one graph (2-5x faster steps on a CPU, "
        "benchmarks/results; same numerics up to summation order; a one-off compile of a few minutes per run).",
    ),
) -> None:
    """Train MODEL on every requested training size and seed; rerun to resume or skip finished runs."""
    from rich.markup import escape

    from mlip_bench.data.catalog import card_for, resolve_variant
    from mlip_bench.devices import check_device
    from mlip_bench.models.registry import load_model_config
    from mlip_bench.results.run_lock import run_lock
    from mlip_bench.train.harness import cell_run_id, run_cell
    from mlip_bench.train.protocols import load_protocol

    variant = resolve_variant(dataset, molecule, root=root)
    load_model_config(model)  # unknown model -> one line before any data is touched
    load_protocol(protocol)  # unknown preset, bad protocol file -> one line
    device = check_device(device)
    card = card_for(variant)
    if n_train is None:
        if card is None:
            raise ConfigError(f"{variant} has no dataset card; give --n-train, e.g. --n-train 50,100")
        sizes = [card.splits.default_n_train]
    else:
        sizes = parse_n_train(n_train, list(card.ladder) if card else None, variant)
    overrides = parse_overrides(set_)
    console = _console()
    records = []
    if one_seed is not None and seeds != 1:
        raise ConfigError("give either --seed K (one seed) or --seeds K (seeds 0..K-1), not both")
    for seed in [one_seed] if one_seed is not None else range(seeds):
        for n in sizes:
            console.print(
                f"[bold]{escape(model)}[/] on {variant}, n_train={n}, seed={seed}, protocol {escape(protocol)}"
            )
            _refuse_stale_record(model, variant, n, seed, protocol, out, root, overrides or None)
            with run_lock(out, cell_run_id(model, variant, n, seed, protocol, overrides or None)):
                record = run_cell(
                    model,
                    variant,
                    n,
                    seed,
                    protocol,
                    out,
                    root=root,
                    overrides=overrides or None,
                    progress=True,
                    device=device,
                    compile_step=compile_step,
                )
            m = record.metrics["test"]
            console.print(
                f"  test: energy MAE {m.energy_mae_mev:.2f} meV, force MAE {m.force_mae_mev_per_a:.2f} meV/Å "
                f"({m.n_frames} frames) -> {out / 'records' / (record.run_id + '.json')}"
            )
            records.append(record)
    console.print(_metrics_table(records, f"{model} on {variant}"))


def evaluate_command(
    checkpoint: Path = typer.Argument(
        ..., help="best_model.pt or last.pt of a run (under <out>/checkpoints/<run_id>/)."
    ),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Dataset variant (default: the run's)."),
    molecule: Optional[str] = typer.Option(None, "--molecule", "-m", help="Molecule of a multi-molecule dataset."),
    split: str = typer.Option("test", "--split", help="test, val, train (the training pool) or all."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, help="Split seed, 0 or more (default: the run's)."),
    max_frames: Optional[int] = typer.Option(
        None, "--max-frames", min=1, help="Evaluate at most this many frames (seeded sample)."
    ),
    root: Optional[Path] = typer.Option(None, "--root", help=ROOT_HELP),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the metrics as JSON here."),
) -> None:
    """Score a trained model (EMA weights of its best epoch) on a split of any dataset."""
    from rich.markup import escape
    from rich.table import Table

    from mlip_bench.train.evaluate import evaluate_checkpoint

    result = evaluate_checkpoint(checkpoint, dataset, molecule, split, seed, max_frames, root)
    metrics = result.metrics
    console = _console()
    table = Table(title=escape(f"{result.model} on {result.dataset} ({split}, {metrics.n_frames} frames)"))
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.model_dump().items():
        if isinstance(value, dict):
            for symbol, v in value.items():
                table.add_row(f"force MAE {symbol} (meV/Å)", f"{v:.3f}")
        else:
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    if json_out is not None:
        import json

        from mlip_bench.atomic_files import write_text_atomic

        write_text_atomic(json.dumps(result.payload(), indent=1) + "\n", json_out)
        console.print(f"metrics written to {json_out}")


def results_list_command(
    out: list[Path] = typer.Option(None, "--out", "-o", help="Results folder(s) (repeatable). Default: results."),
    model: Optional[str] = typer.Option(None, "--model", help="Only this model."),
    dataset: Optional[str] = typer.Option(None, "--dataset", help="Only this dataset variant."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per run) instead of a table."),
) -> None:
    """Show the run records of a results folder as a table."""
    from mlip_bench.results.io import load_records

    folders = list(out) if out else [DEFAULT_OUT]
    missing = [str(f) for f in folders if not f.exists()]
    if missing:
        raise ConfigError(f"no results folder {', '.join(missing)}; run `mlip-bench run MODEL --out DIR` first")
    records = load_records(folders)
    records = [
        r for r in records if (model is None or r.model == model) and (dataset is None or r.dataset.name == dataset)
    ]
    records.sort(key=lambda r: (r.dataset.name, r.model, r.protocol, r.n_train, r.seed))
    if as_json:
        from mlip_bench.commands.console import print_json

        print_json([_record_summary(r) for r in records])
        return
    console = _console()
    if not records:
        console.print(f"no run records in {', '.join(map(str, folders))}")
        return
    console.print(_metrics_table(records, f"{len(records)} runs in {', '.join(map(str, folders))}"))


def _record_summary(record) -> dict:
    """``results list --json``: a run's identity, status, metrics per evaluation set and cost."""
    return {
        "run_id": record.run_id,
        "status": record.status,
        "error": record.error,
        "model": record.model,
        "dataset": record.dataset.name,
        "n_train": record.n_train,
        "seed": record.seed,
        "protocol": record.protocol,
        "certified": record.certified,
        "metrics": {name: m.model_dump(mode="json") for name, m in record.metrics.items()},
        "steps": record.timings.steps if record.timings else None,
        "train_seconds": record.timings.train_seconds if record.timings else None,
        "created": record.created,
    }


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("run")(run_command)
    app.command("evaluate")(evaluate_command)
    results_app = typer.Typer(help="Run records.")
    results_app.command("list")(results_list_command)
    app.add_typer(results_app, name="results")
