"""DeePMD raw/npy system reader: ``type.raw``, ``type_map.raw`` and ``set.*/{coord,energy,force,box}.npy``.

DeePMD arrays are often float32; they are widened to float64 here (the precision already lost in
the file cannot be recovered). A folder of several systems is read system by system, sorted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mlip_bench.data.importers.conversion import ImportedFrame, UnitConversion, make_frame
from mlip_bench.errors import DatasetError


def is_deepmd_system(path: Path) -> bool:
    """True when ``path`` is a folder with ``type.raw`` and at least one ``set.*`` folder."""
    return path.is_dir() and (path / "type.raw").is_file() and any(path.glob("set.*"))


def deepmd_systems(path: Path) -> list[Path]:
    """The DeePMD systems at ``path``: itself, or its sub-folders (sorted) that are systems."""
    if is_deepmd_system(path):
        return [path]
    systems = sorted((p for p in path.rglob("type.raw")), key=lambda p: str(p))
    return [p.parent for p in systems if is_deepmd_system(p.parent)]


def _load(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read {what} ({exc}); the file is truncated or corrupt") from None


def _species(system: Path) -> np.ndarray:
    from ase.data import atomic_numbers

    try:
        types = np.loadtxt(system / "type.raw", dtype=np.int64, ndmin=1)
    except ValueError as exc:
        raise DatasetError(f"{system / 'type.raw'}: not a list of integer atom types ({exc})") from None
    type_map_file = system / "type_map.raw"
    if not type_map_file.is_file():
        raise DatasetError(f"{system}: type_map.raw missing; mlip-bench needs it to know the elements")
    names = type_map_file.read_text().split()
    try:
        numbers = np.asarray([atomic_numbers[name] for name in names], dtype=np.int64)
    except KeyError as exc:
        raise DatasetError(f"{type_map_file}: unknown element {exc.args[0]!r}") from None
    if types.min() < 0 or types.max() >= len(numbers):
        raise DatasetError(f"{system / 'type.raw'}: atom type {int(types.max())} has no entry in type_map.raw")
    return numbers[types]


def read_deepmd(path: Path, units: UnitConversion) -> Iterator[ImportedFrame]:
    """Frames of one DeePMD system or of every system under a folder; source index runs over all."""
    systems = deepmd_systems(path)
    if not systems:
        raise DatasetError(f"{path}: no DeePMD system found (need type.raw and set.*/coord.npy)")
    k = 0
    for system in systems:
        numbers = _species(system)
        n = len(numbers)
        periodic = not (system / "nopbc").exists()
        for set_dir in sorted(system.glob("set.*")):
            where = set_dir
            for name in ("coord.npy", "energy.npy", "force.npy"):
                if not (set_dir / name).is_file():
                    raise DatasetError(
                        f"{where}, frame {k}: {name} missing; each frame needs positions, energy and forces"
                    )
            coord = _load(set_dir / "coord.npy", "coordinates").astype(np.float64)
            energy = _load(set_dir / "energy.npy", "energies").astype(np.float64).reshape(-1)
            force = _load(set_dir / "force.npy", "forces").astype(np.float64)
            box = None
            if periodic:
                if not (set_dir / "box.npy").is_file():
                    raise DatasetError(f"{where}: box.npy missing (add a 'nopbc' file for molecules)")
                box = _load(set_dir / "box.npy", "cells").astype(np.float64)
            n_frames = coord.shape[0]
            if coord.size != n_frames * n * 3 or force.size != n_frames * n * 3:
                raise DatasetError(
                    f"{where}: coord/force arrays of shape {coord.shape}/{force.shape} do not match {n} atoms in type.raw"
                )
            if energy.size != n_frames or (box is not None and box.size != n_frames * 9):
                raise DatasetError(f"{where}: energy/box arrays do not have {n_frames} frames")
            coord = coord.reshape(n_frames, n, 3)
            force = force.reshape(n_frames, n, 3)
            for local in range(n_frames):
                frame = make_frame(
                    where,
                    local,
                    coord[local],
                    numbers,
                    energy[local],
                    force[local],
                    units,
                    cell=None if box is None else box[local].reshape(3, 3),
                    pbc=periodic,
                )
                yield ImportedFrame(frame, k)
                k += 1
