"""CLI commands for the leaderboard area (registered by mlip_bench.cli):
``mlip-bench leaderboard build`` and ``mlip-bench leaderboard serve``."""

from __future__ import annotations

from pathlib import Path

import typer

from mlip_bench.errors import ConfigError

DEFAULT_RESULTS = Path("leaderboard/results")
DEFAULT_SITE = Path("leaderboard/site")

leaderboard_app = typer.Typer(
    name="leaderboard",
    help="Build the static leaderboard site from run records, or serve it locally.",
)


@leaderboard_app.command("build")
def build(
    results: list[Path] = typer.Option(
        None, "--results", "-r", help="Results folder or record file (repeatable). Default: leaderboard/results."
    ),
    out: Path = typer.Option(DEFAULT_SITE, "--out", "-o", help="Output folder for the site."),
    published: Path = typer.Option(
        None, "--published", help="Published-numbers YAML. Default: the packaged mlip_bench/configs/published.yaml."
    ),
    no_static_figures: bool = typer.Option(
        False, "--no-static-figures", help="Skip the SVG fallbacks (faster; interactive plots only)."
    ),
    md: list[Path] = typer.Option(
        None,
        "--md",
        help="Folder of MD records (repeatable), besides each results folder's own md/ (mlip-bench md --out RESULTS/md).",
    ),
    plan: Path = typer.Option(
        None,
        "--plan",
        help="Planned-curves YAML whose coverage (certified / still improving / not run, per cell) the curves page "
        "shows. Default: leaderboard/planned_curves.yaml of this checkout, when present.",
    ),
) -> None:
    """Render run records (and MD records, when there are any) into a static site (works from file:// offline)."""
    from mlip_bench.leaderboard.build import build_site

    dirs = list(results) if results else [DEFAULT_RESULTS]
    index = build_site(dirs, out, published, static_figures=not no_static_figures, md_dirs=list(md or []), plan=plan)
    typer.echo(f"leaderboard written: {index}")


@leaderboard_app.command("coverage")
def coverage(
    results: list[Path] = typer.Option(
        None, "--results", "-r", help="Results folder or record file (repeatable). Default: leaderboard/results."
    ),
    plan: Path = typer.Option(
        None, "--plan", help="Planned-curves YAML. Default: leaderboard/planned_curves.yaml of this checkout."
    ),
) -> None:
    """Print which planned learning-curve points are certified, still improving, failed or not run (Markdown)."""
    from mlip_bench.leaderboard.coverage import coverage_markdown, default_plan_path, load_plan, plan_coverage
    from mlip_bench.results.io import load_records

    if plan is None:
        plan = default_plan_path()
        if plan is None:
            raise ConfigError("no leaderboard/planned_curves.yaml in this checkout; pass a plan with --plan FILE")
    dirs = list(results) if results else [DEFAULT_RESULTS]
    typer.echo(coverage_markdown(plan_coverage(load_plan(plan), load_records(dirs))), nl=False)


@leaderboard_app.command("serve")
def serve(
    site: Path = typer.Option(DEFAULT_SITE, "--site", help="Site folder made by `leaderboard build`."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0 picks a free one)."),
) -> None:
    """Serve the site on http://127.0.0.1:PORT until Ctrl+C (local only)."""
    import functools
    import http.server

    if not (site / "index.html").is_file():
        raise ConfigError(f"{site} holds no index.html; run `mlip-bench leaderboard build --out {site}` first")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another --port") from None
    typer.echo(f"serving {site} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.add_typer(leaderboard_app, name="leaderboard")
