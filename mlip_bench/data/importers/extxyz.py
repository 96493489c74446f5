"""Extended XYZ reader (through ``ase.io``): energy/forces from info/arrays or the calculator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlip_bench.data.importers.conversion import ImportedFrame, UnitConversion, make_frame
from mlip_bench.errors import DatasetError

#: info keys tried for the total energy, in order
ENERGY_KEYS = ("energy", "REF_energy", "dft_energy", "DFT_energy", "total_energy", "Energy", "free_energy")
#: per-atom array keys tried for the forces, in order
FORCES_KEYS = ("forces", "REF_forces", "dft_forces", "DFT_forces", "force", "Forces")
#: info keys that record the frame's index in a larger original dataset
SOURCE_INDEX_KEYS = ("frame", "source_index")


def _labels(atoms, energy_key: str | None, forces_key: str | None):
    results = atoms.calc.results if atoms.calc is not None else {}
    energy = forces = None
    for key in (energy_key,) if energy_key else ENERGY_KEYS:
        if key in atoms.info:
            energy = atoms.info[key]
            break
        if key in results:
            energy = results[key]
            break
    for key in (forces_key,) if forces_key else FORCES_KEYS:
        if key in atoms.arrays:
            forces = atoms.arrays[key]
            break
        if key in results:
            forces = results[key]
            break
    return energy, forces


def read_extxyz(
    path: Path, units: UnitConversion, energy_key: str | None = None, forces_key: str | None = None
) -> Iterator[ImportedFrame]:
    """Frames of an extended XYZ file; the source index is the info key ``frame`` when present."""
    import ase.io

    k = 0
    reader = ase.io.iread(str(path), index=":", format="extxyz")
    while True:
        try:
            atoms = next(reader)
        except StopIteration:
            break
        except Exception as exc:  # ase raises many types on malformed text
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DatasetError(f"{path}, frame {k}: cannot parse extended XYZ ({message})") from None
        energy, forces = _labels(atoms, energy_key, forces_key)
        frame = make_frame(
            path,
            k,
            atoms.get_positions(),
            atoms.get_atomic_numbers(),
            energy,
            forces,
            units,
            cell=atoms.get_cell()[:],
            pbc=atoms.get_pbc(),
        )
        source_index = k
        for key in SOURCE_INDEX_KEYS:
            value = atoms.info.get(key)
            if isinstance(value, (int,)) or (hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0):
                source_index = int(value)
                break
        yield ImportedFrame(frame, source_index)
        k += 1
    if k == 0:
        raise DatasetError(f"{path}: no frames found in extended XYZ file")
