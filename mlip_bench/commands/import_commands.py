"""CLI commands for importing local data files (registered by mlip_bench.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
