"""``mlip-bench demo`` (registered by mlip_bench.cli): NequIP (l_max 0 and 1) and SchNet trained on
the embedded rMD17 ethanol frames, evaluated, and the leaderboard built from their records."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlip_bench.commands.run_commands import ROOT_HELP
from mlip_bench.errors import ConfigError, MlipBenchError

#: the demo: models, dataset, training sizes and protocol (budget measured in docs/protocols.md)
DEMO_MODELS = ("nequip-l0-cpu", "nequip-l1-cpu", "schnet")
DEMO_DATASET = "rmd17/ethanol"
DEMO_LADDER = (50, 100, 200)
DEMO_PROTOCOL = "demo"


def demo_command(
    out: Path = typer.Option(
        Path("mlip-bench-demo"), "--out", "-o", help="Folder for records, checkpoints and the site."
    ),
    root: Optional[Path] = typer.Option(None, "--root", help=ROOT_HELP),
    protocol: str = typer.Option(
        DEMO_PROTOCOL, "--protocol", "-p", help="Protocol preset (demo = a 5-15 min CPU budget)."
    ),
) -> None:
    """Train NequIP (l_max 0 and 1) and SchNet on the embedded rMD17 ethanol frames, evaluate them
    and build the leaderboard; finishes in 5-15 minutes on 2 CPU cores."""
    import time

    from mlip_bench.commands.console import make_console
    from mlip_bench.commands.summary import metrics_summary
    from mlip_bench.models.registry import available_models
    from mlip_bench.train.harness import run_cell

    console = make_console()
    started = time.perf_counter()
    available = set(available_models())
    models = [m for m in DEMO_MODELS if m in available]
    for m in DEMO_MODELS:
        if m not in available:
            console.print(f"[yellow]skipping {m}: no model config {m!r} in this install[/]")
    if not models:
        raise ConfigError("none of the demo models is available; check mlip_bench/configs/models/ of this install")
    records = []
    for n in DEMO_LADDER:
        for m in models:
            console.print(f"[bold]{m}[/] on {DEMO_DATASET}, n_train={n}")
            try:
                records.append(run_cell(m, DEMO_DATASET, n, 0, protocol, out, root=root, progress=True))
            except MlipBenchError as err:
                if not err.__class__.__name__ == "ModelError":
                    raise
                console.print(f"[yellow]skipping {m}: {err}[/]")
                models = [x for x in models if x != m]
    console.print(metrics_summary(records, f"demo: {DEMO_DATASET} ({protocol} protocol)"))
    site = out / "site"
    index = _build_site(out, site)
    minutes = (time.perf_counter() - started) / 60
    console.print(f"results: {out / 'records'} ({len(records)} runs, {minutes:.1f} min)")
    console.print(f"leaderboard: {index}")
    console.print(f"list them again with `mlip-bench results list --out {out}`")


def _build_site(results: Path, site: Path) -> Path:
    """The leaderboard site for ``results`` (a plain table page when the leaderboard package is absent)."""
    try:
        from mlip_bench.leaderboard.build import build_site
    except ImportError:
        return _placeholder_site(results, site)
    return Path(build_site([results], site))


def _placeholder_site(results: Path, site: Path) -> Path:
    import html

    from mlip_bench.atomic_files import write_text_atomic
    from mlip_bench.results.io import records_dataframe

    df = records_dataframe(results)
    body = df.to_html(index=False, float_format=lambda v: f"{v:.2f}") if len(df) else "<p>no runs yet</p>"
    page = (
        "<!doctype html><meta charset='utf-8'><title>mlip-bench results</title>"
        f"<h1>mlip-bench results</h1><p>records in {html.escape(str(results))}</p>{body}"
    )
    return write_text_atomic(page, site / "index.html")


def register(app: typer.Typer) -> None:
    """Add the demo command to the root app."""
    app.command("demo")(demo_command)
