"""CLI commands for the data area: ``download``, ``datasets list`` and ``datasets info``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

ROOT_HELP = "Directory holding stores and downloads (default: $MLIP_BENCH_ROOT, else the user cache dir)."


def _console():
    from mlip_bench.commands.console import make_console

    return make_console(highlight=False, soft_wrap=False)


def _cells(*values: str) -> list[str]:
    """Table cells with rich markup escaped (file and dataset names may contain ``[...]``)."""
    from rich.markup import escape

    return [escape(str(v)) for v in values]


def _symbols(numbers) -> str:
    from ase.data import chemical_symbols

    return " ".join(chemical_symbols[int(z)] for z in numbers)


def _atoms_range(n_atoms) -> str:
    lo, hi = int(n_atoms.min()), int(n_atoms.max())
    return str(lo) if lo == hi else f"{lo}-{hi}"


def download_command(
    name: str = typer.Argument(
        ..., help="Dataset: NAME (all its main variants: md17, rmd17, lips, ...) or NAME/MOLECULE (rmd17/ethanol)."
    ),
    molecule: Optional[str] = typer.Option(None, "--molecule", "-m", help="Only this molecule (md17, rmd17)."),
    all_variants: bool = typer.Option(
        False, "--all", help="Also the extra variants (md17: the sGDML CCSD / CCSD(T) sets)."
    ),
    root: Optional[Path] = typer.Option(None, "--root", help=ROOT_HELP),
    mirror: Optional[str] = typer.Option(
        None, "--mirror", help="Local directory or base URL holding the official files (or $MLIP_BENCH_MIRROR)."
    ),
    force: bool = typer.Option(False, "--force", help="Download and convert again even if the store exists."),
) -> None:
    """Download, verify (sha256), extract and convert a dataset into its canonical stores."""
    from mlip_bench.data.cards import list_cards, load_card
    from mlip_bench.data.catalog import resolve_variant
    from mlip_bench.data.download import download_variant
    from mlip_bench.errors import ConfigError

    base = name.strip().lower()
    if "/" not in base and not molecule and base in list_cards() and load_card(base).molecules:
        _download_dataset(base, root=root, mirror=mirror, force=force, extras=all_variants)
        return
    if all_variants and ("/" in base or molecule):
        dataset = base.split("/")[0]
        raise ConfigError(
            f"--all downloads every variant of a dataset; drop the molecule: `mlip-bench download {dataset} --all`"
        )
    variant = resolve_variant(name, molecule, root=root)
    outcome = download_variant(variant, root=root, mirror=mirror, force=force)
    _console().print(_outcome_line(outcome), markup=False, soft_wrap=True)


def _outcome_line(outcome) -> str:
    """One line per variant: what the download did and where the store is."""
    if outcome.skipped:
        return f"{outcome.variant}: nothing to do, {outcome.reason} ({outcome.store})"
    from mlip_bench.data.store import Store

    with Store(outcome.store) as store:
        n_frames = store.n_frames
    fetched = outcome.fetch
    how = ""
    if fetched is not None:
        how = f"; source {fetched.source}, sha256 {fetched.sha256[:16]}..."
        if not fetched.pinned:
            how += " (not pinned on the card: recorded)"
    return f"{outcome.variant}: {n_frames} frames written to {outcome.store}{how}"


def _n_frames(path: Path) -> str:
    from mlip_bench.data.store import Store
    from mlip_bench.errors import MlipBenchError

    try:
        with Store(path) as store:
            return str(store.n_frames)
    except MlipBenchError:
        return "?"


def _download_dataset(name: str, *, root, mirror, force: bool, extras: bool) -> None:
    """``download NAME`` for a dataset with variants: every main variant, then a summary."""
    from mlip_bench.data.cards import load_card
    from mlip_bench.data.catalog import data_root
    from mlip_bench.data.download import download_dataset

    console = _console()
    result = download_dataset(
        name,
        root=root,
        mirror=mirror,
        force=force,
        extras=extras,
        on_outcome=lambda outcome: console.print(_outcome_line(outcome), markup=False, soft_wrap=True),
    )
    failed = dict(result.failures)
    if result.outcomes:
        total = len(result.outcomes) + len(failed)
        where = data_root(root) / "stores" / name
        head = f"{name}: {len(result.outcomes)} of {total} variants local under {where}"
        console.print(head, markup=False, soft_wrap=True)
        width = max(len(v.split("/", 1)[1]) for v in [*(o.variant for o in result.outcomes), *failed])
        rows = {
            o.variant: (_n_frames(o.store), "already local" if o.skipped else "downloaded now") for o in result.outcomes
        }
        rows.update((variant, ("-", "failed")) for variant in failed)
        order = load_card(name).variants
        for variant in sorted(rows, key=order.index):
            frames, status = rows[variant]
            line = f"  {variant.split('/', 1)[1]:<{width}}  {frames:>9} frames  {status}"
            console.print(line, markup=False, soft_wrap=True)
        if result.left_out:
            short = ", ".join(v.split("/", 1)[1] for v in result.left_out)
            tail = f"  not asked for: {short} (add --all, or name one: {result.left_out[0]})"
            console.print(tail, markup=False, soft_wrap=True)
    if failed:
        first_variant, first_error = result.failures[0]
        others = [v for v in failed if v != first_variant]
        names = ", ".join(v.split("/", 1)[1] for v in others)
        also = f"; {len(others)} more not downloaded: {names}" if others else ""
        raise type(first_error)(f"{first_variant}: {first_error}{also}")


def list_command(
    root: Optional[Path] = typer.Option(None, "--root", help=ROOT_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (machine-readable) instead of a table."),
) -> None:
    """Every dataset card and which variants are available locally."""
    from rich.table import Table

    from mlip_bench.data.cards import list_cards, load_card
    from mlip_bench.data.catalog import data_root, embedded_store_path, imported_variants

    local = set(imported_variants(root))
    if as_json:
        from mlip_bench.commands.console import print_json

        print_json(_list_payload(root, local))
        return
    table = Table(title=f"datasets (stores under {data_root(root)})")
    for column in ("name", "kind", "variants", "local stores", "level of theory", "raw energy unit", "url"):
        table.add_column(column, overflow="fold", no_wrap=column == "name")
    for name in list_cards():
        card = load_card(name)
        variants = card.variants
        have = [v for v in variants if v in local]
        embedded = [v for v in variants if v not in local and embedded_store_path(v) is not None]
        local_text = ", ".join(have) or "-"
        if embedded:
            local_text += f" (embedded demo: {', '.join(embedded)})"
        shown = f"{len(card.molecules)} molecules" if card.molecules else name
        status = {f.url_status for f in card.files}
        table.add_row(
            *_cells(
                name,
                card.kind,
                shown,
                local_text,
                card.level_of_theory.split(" (")[0],
                card.units.energy,
                "unverified" if "unverified" in status else "known",
            )
        )
    cards = set(list_cards())
    for variant in sorted(local):
        if variant.split("/")[0] not in cards:
            table.add_row(*_cells(variant, "-", variant, variant, "-", "eV", "-"))
    _console().print(table)


def _list_payload(root, local: set[str]) -> dict:
    """``datasets list --json``: the data root, every card with its variants and local stores,
    then the imported variants that have no card."""
    from mlip_bench.data.cards import list_cards, load_card
    from mlip_bench.data.catalog import data_root, embedded_store_path

    datasets = []
    for name in list_cards():
        card = load_card(name)
        datasets.append(
            {
                "name": name,
                "card": True,
                "title": card.title,
                "kind": card.kind,
                "variants": list(card.variants),
                "local_stores": [v for v in card.variants if v in local],
                "embedded_demo_stores": [
                    v for v in card.variants if v not in local and embedded_store_path(v) is not None
                ],
                "level_of_theory": card.level_of_theory,
                "raw_energy_unit": card.units.energy,
                "url_status": sorted({f.url_status for f in card.files}),
            }
        )
    cards = set(list_cards())
    for variant in sorted(local):
        if variant.split("/")[0] not in cards:
            datasets.append({"name": variant, "card": False, "variants": [variant], "local_stores": [variant]})
    return {"root": str(data_root(root)), "datasets": datasets}


def _card_rows(card, variant: str | None) -> list[tuple[str, str]]:
    rows = [
        ("title", card.title),
        ("kind", card.kind),
        ("level of theory", card.level_of_theory_for(variant) if variant else card.level_of_theory),
        (
            "official raw units",
            f"energy {card.units.energy} (x {card.units.energy_to_ev:g} -> eV), forces {card.units.forces} "
            f"(x {card.units.forces_to_ev_per_angstrom:g} -> eV/Å), lengths {card.units.length}",
        ),
        ("license", card.license),
        ("citation", card.citation.strip().splitlines()[0] + " ..."),
    ]
    source = card.variant_source(variant) if variant else None
    files = [card.file(source.file)] if source else card.files
    for file in files[:3]:
        pin = file.sha256 or "not pinned (recorded in pins.json on first download)"
        rows.append((f"file {file.name}", f"{file.url} [{file.url_status}]; sha256 {pin}"))
    if len(files) > 3:
        rows.append(("files", f"... and {len(files) - 3} more"))
    if source is not None:
        expected = [
            f"{source.n_frames} frames" if source.n_frames else "frame count unknown",
            f"{source.atoms_per_frame} atoms per frame" if source.atoms_per_frame else "",
            " ".join(source.species),
        ]
        rows.append(("official data", ", ".join(x for x in expected if x)))
        rows.append(("archive layout", ", ".join(m.path for m in source.members)))
    s = card.splits
    test = "every remaining frame" if s.n_test is None else f"fixed {s.n_test} frames"
    rows.append(("split recipe", f"n_val {s.n_val}, test {test}, training ladder {', '.join(map(str, s.ladder))}"))
    return rows


def _store_rows(store) -> list[tuple[str, str]]:
    from mlip_bench.data.duplicates import duplicate_report

    attrs = store.attrs
    n_atoms = store.n_atoms
    rows = [
        ("store", str(store.path)),
        ("frames", str(store.n_frames)),
        ("species", _symbols(store.species)),
        ("atoms per frame", _atoms_range(n_atoms)),
        ("units", "energy eV (total, float64), positions Å, forces eV/Å"),
        ("provenance", str(attrs.get("provenance", "?"))),
    ]
    if attrs.get("level_of_theory"):
        rows.append(("level of theory (store)", str(attrs["level_of_theory"])))
    for file, digest in (attrs.get("source_sha256") or {}).items():
        rows.append((f"source {Path(file).name}", str(digest)))
    rows.append(("content sha256", store.sha256))
    subsets = store.subsets
    if subsets is not None:
        labels: dict[str, int] = {}
        for label in subsets:
            labels[label or "(none)"] = labels.get(label or "(none)", 0) + 1
        rows.append(("subset labels", ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))))
    official = sorted((attrs.get("official_splits") or {}).keys())
    labelled = subsets is not None and "train" in set(subsets) and "test" in set(subsets)
    splits = ["default (by the train/test labels)" if labelled else "default (seeded, card recipe)"]
    splits += official
    saved = sorted(p.name for p in store.path.parent.glob(f"{store.path.stem}.*.split-*.json"))
    rows.append(("available splits", ", ".join(splits)))
    if saved:
        rows.append(("saved splits", ", ".join(saved)))
    report = attrs.get("duplicates")
    if not isinstance(report, dict):
        report = duplicate_report(store.fingerprints, list(subsets) if subsets is not None else None)
    dup = f"{report.get('n_groups', 0)} groups, {report.get('n_redundant_frames', 0)} redundant frames"
    between = report.get("between_subsets") or {}
    if between:
        dup += "; across subsets: " + ", ".join(f"{k} {v}" for k, v in between.items())
    rows.append(("duplicates", dup))
    return rows


def info_command(
    name: str = typer.Argument(..., help="Dataset: NAME or NAME/MOLECULE."),
    molecule: Optional[str] = typer.Option(None, "--molecule", "-m", help="Molecule, for md17 and rmd17."),
    root: Optional[Path] = typer.Option(None, "--root", help=ROOT_HELP),
    verify: bool = typer.Option(
        False, "--verify", help="Read every chunk of the store and check its arrays against the content sha256."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (machine-readable) instead of a table."),
) -> None:
    """Frames, species, atoms per frame, units, level of theory, provenance, splits, duplicates."""
    from rich.table import Table

    from mlip_bench.data.cards import list_cards, load_card
    from mlip_bench.data.catalog import (
        data_root,
        download_hint,
        embedded_store_path,
        open_store,
        resolve_variant,
        store_path,
        verified_cache_dir,
    )
    from mlip_bench.data.store import check_store_integrity
    from mlip_bench.errors import DatasetError

    console = _console()
    base = name.strip().lower().split("/")[0]
    if base in list_cards() and "/" not in name and not molecule and load_card(base).molecules:
        if verify:
            raise DatasetError(f"--verify checks one store: name a molecule, e.g. {load_card(base).variants[0]}")
        card = load_card(base)
        table = Table(title=f"{card.name}: {card.title}", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value", overflow="fold")
        for key, value in _card_rows(card, None):
            table.add_row(*_cells(key, value))
        local = []
        for v in card.variants:
            if store_path(v, root).is_file():
                local.append(v.split("/")[1])
            elif embedded_store_path(v) is not None:
                local.append(v.split("/")[1] + " (embedded demo)")
        table.add_row(*_cells("molecules", ", ".join(card.molecules)))
        table.add_row(*_cells("available locally", ", ".join(local) or f"none under {data_root(root)}"))
        if as_json:
            from mlip_bench.commands.console import print_json

            print_json(
                {
                    "name": card.name,
                    "variant": None,
                    "card": dict(_card_rows(card, None)),
                    "molecules": list(card.molecules),
                    "available_locally": local,
                    "root": str(data_root(root)),
                }
            )
            return
        console.print(table)
        return
    variant = resolve_variant(name, molecule, root=root)
    card = load_card(variant.split("/")[0]) if variant.split("/")[0] in list_cards() else None
    table = Table(title=variant if card is None else f"{variant}: {card.title}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    if card is not None:
        for key, value in _card_rows(card, variant):
            table.add_row(*_cells(key, value))
    has_store = store_path(variant, root).is_file() or embedded_store_path(variant) is not None
    payload: dict = {
        "name": variant.split("/")[0],
        "variant": variant,
        "card": dict(_card_rows(card, variant)) if card is not None else None,
        "store": None,
        "root": str(data_root(root)),
    }
    if has_store:
        with open_store(variant, root=root) as store:
            rows = _store_rows(store)
            for key, value in rows:
                table.add_row(*_cells(key, value))
            payload["store"] = dict(rows)
            payload["store"].update(
                path=str(store.path),
                n_frames=int(store.n_frames),
                species=_symbols(store.species).split(),
                content_sha256=store.sha256,
            )
            if verify:  # every chunk read: a corrupt one or changed arrays end in one error line
                check_store_integrity(store, cache_dir=verified_cache_dir(root), every_chunk=True)
                table.add_row(*_cells("integrity", "verified: every chunk read, the arrays match the content sha256"))
                payload["store"]["integrity"] = "verified"
            else:  # the recorded hash above is not a check: say so, and how to make one
                table.add_row(*_cells("integrity", "not checked here; --verify reads every chunk"))
                payload["store"]["integrity"] = "not checked"
    else:
        if verify:
            raise DatasetError(f"no store for {variant} to verify under {data_root(root)}; {download_hint(variant)}")
        table.add_row(*_cells("store", f"not available under {data_root(root)}; {download_hint(variant)}"))
        payload["store_hint"] = download_hint(variant)
    if as_json:
        from mlip_bench.commands.console import print_json

        print_json(payload)
        return
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("download")(download_command)
    datasets_app = typer.Typer(help="Dataset cards and local stores.")
    datasets_app.command("list")(list_command)
    datasets_app.command("info")(info_command)
    app.add_typer(datasets_app, name="datasets")
