"""Unit conversion and per-frame checks shared by the format readers.

Every reader turns raw arrays into :class:`Frame` objects through :func:`make_frame`, which
converts to eV, Å and eV/Å once and raises ``DatasetError`` "FILE, frame K: what is wrong".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mlip_bench.data.frame import Frame
from mlip_bench.data.store import validate_frame
from mlip_bench.errors import ConfigError, DatasetError
from mlip_bench.units import energy_factor_to_ev, length_factor_to_angstrom

_LENGTH_ALIASES = {"Å": "Angstrom", "Ang": "Angstrom", "angstrom": "Angstrom", "bohr": "Bohr", "a0": "Bohr"}
_ENERGY_ALIASES = {"ev": "eV", "mev": "meV", "kcal/mol": "kcal/mol", "kcal mol-1": "kcal/mol", "hartree": "Hartree"}


def energy_unit_name(unit: str) -> str:
    """Canonical name of an energy unit (accepts common spellings such as 'ev', 'hartree')."""
    return _ENERGY_ALIASES.get(unit.strip().lower(), unit.strip())


def length_unit_name(unit: str) -> str:
    """Canonical name of a length unit (accepts 'Å', 'Ang', 'bohr')."""
    return _LENGTH_ALIASES.get(unit.strip(), unit.strip())


@dataclass(frozen=True)
class UnitConversion:
    """Factors that take raw file values to eV (energy), Å (length) and eV/Å (forces)."""

    energy: float = 1.0
    length: float = 1.0
    force: float = 1.0

    @classmethod
    def from_names(
        cls, energy_unit: str = "eV", length_unit: str = "Angstrom", force_unit: str | None = None
    ) -> "UnitConversion":
        """Factors for the named units; ``force_unit`` defaults to energy_unit/length_unit.

        ``force_unit`` is written ENERGY/LENGTH, e.g. "kcal/mol/Angstrom" or "Hartree/Bohr".
        """
        energy = energy_factor_to_ev(energy_unit_name(energy_unit))
        length = length_factor_to_angstrom(length_unit_name(length_unit))
        if force_unit is None:
            force = energy / length
        else:
            head, sep, tail = force_unit.strip().rpartition("/")
            if not sep or not head:
                raise ConfigError(f"force unit {force_unit!r} must read ENERGY/LENGTH, e.g. 'kcal/mol/Angstrom'")
            force = energy_factor_to_ev(energy_unit_name(head)) / length_factor_to_angstrom(length_unit_name(tail))
        return cls(energy=energy, length=length, force=force)


class ImportedFrame(NamedTuple):
    """A frame read from a file plus the index the source gives it (its position, or a recorded index)."""

    frame: Frame
    source_index: int


def make_frame(
    source: Path,
    k: int,
    positions,
    numbers,
    energy,
    forces,
    units: UnitConversion,
    cell=None,
    pbc=None,
) -> Frame:
    """Build and check one frame from raw values, converting to eV, Å and eV/Å.

    Raises ``DatasetError`` "SOURCE, frame K: ..." for missing forces/energy, NaN or bad shapes.
    """
    prefix = f"{source}, frame {k}"
    if energy is None:
        raise DatasetError(f"{prefix}: no energy found; each frame needs a total energy")
    if forces is None:
        raise DatasetError(f"{prefix}: no forces found; each frame needs forces")
    try:
        positions = np.asarray(positions, dtype=np.float64) * units.length
        forces = np.asarray(forces, dtype=np.float64) * units.force
        energy_value = np.asarray(energy, dtype=np.float64)
        cell_array = (
            np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64).reshape(3, 3) * units.length
        )
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{prefix}: values are not numeric or have the wrong shape ({exc})") from None
    if energy_value.size != 1:
        raise DatasetError(f"{prefix}: energy has {energy_value.size} values, expected one total energy")
    numbers = np.asarray(numbers)
    if numbers.dtype.kind == "f" and np.all(numbers == np.round(numbers)):
        numbers = numbers.astype(np.int64)
    pbc_array = np.zeros(3, dtype=bool) if pbc is None else np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy()
    frame = Frame(
        positions=positions,
        numbers=numbers,
        energy=float(energy_value.reshape(-1)[0]) * units.energy,
        forces=forces,
        cell=cell_array,
        pbc=pbc_array,
    )
    validate_frame(frame, str(source), k)
    frame.numbers = numbers.astype(np.int64)
    return frame
