"""CLI commands for importing local data files (registered by mlip_bench.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlip_bench.errors import ConfigError

ROOT_HELP = "Directory holding stores (default: $MLIP_BENCH_ROOT, else the user cache dir)."


def _parse_units(units: str | None, energy_unit: str | None, length_unit: str | None) -> tuple[str, str]:
    """Energy and length unit from ``--units E[,L]`` and the explicit options (which win)."""
    energy, length = "eV", "Angstrom"
    if units:
        parts = [p.strip() for p in units.split(",")]
        if len(parts) > 2 or not parts[0]:
            raise ConfigError(f"--units {units!r}: write ENERGY or ENERGY,LENGTH, e.g. kcal/mol or Hartree,Bohr")
        energy = parts[0]
        if len(parts) == 2:
            length = parts[1]
    return energy_unit or energy, length_unit or length


def _parse_file_pairs(items: list[str], option: str, example: str) -> dict[str, str]:
    """``FILE=VALUE`` items of a repeatable option as a dict (``ConfigError`` on a malformed one)."""
    out = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not value:
            raise ConfigError(f"{option} {item!r}: write {example}")
        out[name] = value
    return out


def import_command(
    paths: list[Path] = typer.Argument(..., help="Data files or DeePMD system folders; several make one variant."),
    name: str = typer.Option(..., "--as", help="Variant to create: NAME or NAME/MOLECULE (e.g. md17/aspirin, lips)."),
    energy_unit: Optional[str] = typer.Option(
        None, "--energy-unit", help="Energy unit of the files (eV, meV, kcal/mol, Hartree)."
    ),
    length_unit: Optional[str] = typer.Option(None, "--length-unit", help="Length unit of the files (Angstrom, Bohr)."),
    force_unit: Optional[str] = typer.Option(
        None, "--force-unit", help="Force unit ENERGY/LENGTH (default: energy unit / length unit)."
    ),
    units: Optional[str] = typer.Option(None, "--units", help="Shorthand ENERGY[,LENGTH], e.g. kcal/mol."),
    file_unit: list[str] = typer.Option(
        [], "--file-unit", help="FILE=ENERGY_UNIT for one file whose energies differ (repeatable)."
    ),
    label: list[str] = typer.Option(
        [],
        "--label",
        help="FILE=LABEL: the subset label of one file (train, val, test, or test_NAME for an extra named "
        "test set, e.g. test_600K), instead of the word in its name (repeatable).",
    ),
    fmt: Optional[str] = typer.Option(
        None, "--format", help="extxyz, npz, deepmd, asedb or mlearn (default: from the name)."
    ),
    root: Optional[Path] = typer.Option(None, "--root", help=ROOT_HELP),
    force: bool = typer.Option(False, "--force", help="Replace an existing store of this variant."),
    dedupe: bool = typer.Option(
        False, "--dedupe", help="Drop repeated frames (same species and positions), keeping the first."
    ),
    subset: Optional[bool] = typer.Option(
        None,
        "--subset/--full",
        help="Mark the store as an imported subset (default: when files carry train/val/test labels).",
    ),
    no_labels: bool = typer.Option(False, "--no-labels", help="Do not take train/val/test labels from file names."),
    level_of_theory: Optional[str] = typer.Option(
        None, "--level-of-theory", help="Level of theory (default: the card's)."
    ),
) -> None:
    """Import local files into the canonical store of a dataset variant, with their sha256 as provenance."""
    from rich.console import Console
    from rich.table import Table

    from mlip_bench.data.importers.variant_import import import_variant

    energy, length = _parse_units(units, energy_unit, length_unit)
    result = import_variant(
        paths,
        name,
        root=root,
        fmt=fmt,
        energy_unit=energy,
        length_unit=length,
        force_unit=force_unit,
        file_energy_units=_parse_file_pairs(
            file_unit, "--file-unit", "FILE=ENERGY_UNIT, e.g. reduced_100.xyz=kcal/mol"
        ),
        file_labels=_parse_file_pairs(label, "--label", "FILE=LABEL, e.g. test_600K.xyz=test_600K"),
        labels=not no_labels,
        subset=subset,
        dedupe=dedupe,
        level_of_theory=level_of_theory,
        force=force,
    )
    console = Console(highlight=False, soft_wrap=False)
    table = Table(title=f"{result.variant} ({result.provenance})")
    for column in ("file", "format", "frames", "subset", "energy unit", "sha256"):
        table.add_column(column)
    for source in result.sources:
        table.add_row(
            source.file,
            source.format,
            str(source.n_frames),
            source.subset or "-",
            source.units["energy"],
            source.sha256[:16] + "...",
        )
    console.print(table)
    store = result.store
    energies = store.energies()
    console.print(
        f"{store.n_frames} frames written to {result.path}; mean energy {energies.mean():.4f} eV; "
        f"content sha256 {store.sha256[:16]}..."
    )
    report = result.duplicates
    if result.n_dropped_duplicates:
        console.print(f"dropped {result.n_dropped_duplicates} repeated frames (--dedupe)")
    if report["n_groups"]:
        between = report.get("between_subsets") or {}
        detail = ", ".join(f"{pair}: {count}" for pair, count in between.items())
        console.print(
            f"duplicates: {report['n_groups']} groups ({report['n_redundant_frames']} redundant frames)"
            + (f"; shared between subsets: {detail} (kept out of test sets by the splits)" if detail else "")
        )
    else:
        console.print("duplicates: none")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("import")(import_command)
