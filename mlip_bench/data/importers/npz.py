"""NumPy ``.npz`` reader for the MD17/sGDML, rMD17 and nequip key conventions."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mlip_bench.data.importers.conversion import (
    ImportedFrame,
    UnitConversion,
    energy_unit_name,
    length_unit_name,
    make_frame,
)
from mlip_bench.errors import ConfigError, DatasetError

#: key conventions: role -> key in the file
KEY_CONVENTIONS: dict[str, dict[str, str]] = {
    "sgdml": {"positions": "R", "numbers": "z", "energy": "E", "forces": "F"},
    "rmd17": {"positions": "coords", "numbers": "nuclear_charges", "energy": "energies", "forces": "forces"},
    "nequip": {
        "positions": "pos",
        "numbers": "atomic_numbers",
        "energy": "energy",
        "forces": "forces",
        "cell": "cell",
        "pbc": "pbc",
    },
}


def detect_convention(keys: set[str]) -> str | None:
    """Name of the key convention whose position and atomic-number keys are present."""
    for name, roles in KEY_CONVENTIONS.items():
        if roles["positions"] in keys and roles["numbers"] in keys:
            return name
    return None


def _declared_units(data, units: UnitConversion, explicit: bool, path: Path) -> UnitConversion:
    """Use the sGDML ``e_unit``/``r_unit`` entries when the caller gave no units."""
    if "e_unit" not in data.files and "r_unit" not in data.files:
        return units
    e_unit = str(data["e_unit"]) if "e_unit" in data.files else "eV"
    r_unit = str(data["r_unit"]) if "r_unit" in data.files else "Angstrom"
    try:
        declared = UnitConversion.from_names(energy_unit_name(e_unit), length_unit_name(r_unit))
    except ConfigError:
        raise DatasetError(
            f"{path}: declares units e_unit={e_unit!r}, r_unit={r_unit!r} that mlip-bench does not know"
        ) from None
    if explicit and declared != units:
        raise ConfigError(
            f"{path} declares energies in {e_unit} and lengths in {r_unit}, but other units were given; drop the unit options"
        )
    return declared


def read_npz(path: Path, units: UnitConversion, units_explicit: bool = False) -> Iterator[ImportedFrame]:
    """Frames of an ``.npz`` file (arrays stacked over frames; atomic numbers shared or per frame)."""
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise DatasetError(f"{path}: the file is empty (0 bytes); not a .npz file")
    try:
        data = np.load(path, allow_pickle=False)
        keys = set(data.files)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: not a readable .npz file ({detail}); truncated or corrupt?") from None
    if not hasattr(data, "files"):  # np.load read a plain .npy array
        raise DatasetError(f"{path}: a single .npy array, not a .npz archive of named arrays")
    convention = detect_convention(keys)
    if convention is None:
        known = "; ".join(f"{n}: {', '.join(r.values())}" for n, r in KEY_CONVENTIONS.items())
        raise DatasetError(f"{path}: unknown npz keys {sorted(keys)}; expected one of {known}")
    roles = KEY_CONVENTIONS[convention]
    try:
        units = _declared_units(data, units, units_explicit, path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DatasetError(f"{path}: cannot read its unit entries ({exc}); the file is truncated or corrupt") from None
    for role in ("energy", "forces"):
        if roles[role] not in keys:
            raise DatasetError(
                f"{path}, frame 0: no {role} (array {roles[role]!r} missing); each frame needs energy and forces"
            )
    try:
        positions = np.asarray(data[roles["positions"]])
        numbers = np.asarray(data[roles["numbers"]])
        energy = np.asarray(data[roles["energy"]])
        forces = np.asarray(data[roles["forces"]])
        cell = np.asarray(data[roles["cell"]]) if "cell" in roles and roles["cell"] in keys else None
        pbc = np.asarray(data[roles["pbc"]]) if "pbc" in roles and roles["pbc"] in keys else None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: cannot read arrays ({detail}); the file is truncated or corrupt") from None
    if positions.ndim == 2:
        positions, forces = positions[None], forces.reshape(1, *forces.shape)
    if positions.ndim != 3 or positions.shape[-1] != 3:
        raise DatasetError(f"{path}: positions have shape {positions.shape}, expected (n_frames, n_atoms, 3)")
    n_frames = positions.shape[0]
    energy = energy.reshape(n_frames, -1) if energy.size == n_frames else energy
    if energy.shape[0] != n_frames or energy.size != n_frames:
        raise DatasetError(f"{path}: {energy.size} energies for {n_frames} frames")
    if forces.shape[0] != n_frames:
        raise DatasetError(f"{path}: forces for {forces.shape[0]} frames, positions for {n_frames}")

    def per_frame(array, k, frame_ndim):
        if array is None:
            return None
        return array[k] if array.ndim > frame_ndim else array

    for k in range(n_frames):
        frame = make_frame(
            path,
            k,
            positions[k],
            per_frame(numbers, k, 1),
            energy[k],
            forces[k],
            units,
            cell=per_frame(cell, k, 2),
            pbc=per_frame(pbc, k, 1),
        )
        yield ImportedFrame(frame, k)
