"""ASE database reader (``.db``): energy and forces from each row's stored calculator results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlip_bench.data.importers.conversion import ImportedFrame, UnitConversion, make_frame
from mlip_bench.errors import DatasetError


def read_asedb(path: Path, units: UnitConversion) -> Iterator[ImportedFrame]:
    """Frames of an ASE database, in row order; the source index is the row id."""
    import ase.db

    try:
        db = ase.db.connect(str(path), type="db", create_indices=False, use_lock_file=False)
        rows = db.select()
        k = 0
        for row in rows:
            atoms = row.toatoms()
            results = atoms.calc.results if atoms.calc is not None else {}
            frame = make_frame(
                path,
                k,
                atoms.get_positions(),
                atoms.get_atomic_numbers(),
                results.get("energy", results.get("free_energy")),
                results.get("forces"),
                units,
                cell=atoms.get_cell()[:],
                pbc=atoms.get_pbc(),
            )
            yield ImportedFrame(frame, int(row.id))
            k += 1
    except DatasetError:
        raise
    except Exception as exc:  # sqlite3.DatabaseError and friends
        raise DatasetError(
            f"{path}: not a readable ASE database ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    if k == 0:
        raise DatasetError(f"{path}: the ASE database holds no rows")
