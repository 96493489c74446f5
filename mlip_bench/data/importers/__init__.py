"""Importers: read local data files into :class:`Frame` objects in eV, Å and eV/Å.

Formats (``fmt``): ``extxyz`` (.xyz/.extxyz), ``npz`` (MD17/sGDML, rMD17 and nequip keys),
``deepmd`` (raw/npy system folders), ``asedb`` (.db) and ``mlearn`` (.json). Units are converted
once, here; malformed input raises ``DatasetError`` "FILE, frame K: what is wrong".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlip_bench.data.frame import Frame
from mlip_bench.data.importers.conversion import ImportedFrame, UnitConversion
from mlip_bench.errors import ConfigError, DatasetError

FORMATS: tuple[str, ...] = ("extxyz", "npz", "deepmd", "asedb", "mlearn")
_ALIASES = {
    "xyz": "extxyz",
    "extxyz": "extxyz",
    "npz": "npz",
    "deepmd": "deepmd",
    "deepmd/npy": "deepmd",
    "asedb": "asedb",
    "ase-db": "asedb",
    "db": "asedb",
    "mlearn": "mlearn",
    "mlearn-json": "mlearn",
    "json": "mlearn",
}
_SUFFIXES = {".xyz": "extxyz", ".extxyz": "extxyz", ".npz": "npz", ".db": "asedb", ".json": "mlearn"}

__all__ = ["FORMATS", "ImportedFrame", "UnitConversion", "detect_format", "read_frames", "read_imported_frames"]


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """The format name for ``path``: ``fmt`` (aliases allowed) or guessed from the suffix / folder."""
    path = Path(path)
    if fmt is not None:
        try:
            return _ALIASES[fmt.lower()]
        except KeyError:
            raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}") from None
    if path.is_dir():
        return "deepmd"
    suffix = path.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise DatasetError(f"{path}: cannot tell the format from the name; pass --format with one of {', '.join(FORMATS)}")


def read_imported_frames(
    path: str | Path,
    fmt: str | None = None,
    energy_unit: str = "eV",
    length_unit: str = "Angstrom",
    force_unit: str | None = None,
) -> Iterator[ImportedFrame]:
    """Like :func:`read_frames`, but each item also carries the frame's index in its source."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: file not found")
    name = detect_format(path, fmt)
    units = UnitConversion.from_names(energy_unit, length_unit, force_unit)
    if name == "extxyz":
        from mlip_bench.data.importers.extxyz import read_extxyz

        return read_extxyz(path, units)
    if name == "npz":
        from mlip_bench.data.importers.npz import read_npz

        explicit = (energy_unit, length_unit, force_unit) != ("eV", "Angstrom", None)
        return read_npz(path, units, units_explicit=explicit)
    if name == "deepmd":
        from mlip_bench.data.importers.deepmd import read_deepmd

        return read_deepmd(path, units)
    if name == "asedb":
        from mlip_bench.data.importers.asedb import read_asedb

        return read_asedb(path, units)
    from mlip_bench.data.importers.mlearn_json import read_mlearn_json

    return read_mlearn_json(path, units)


def read_frames(
    path: str | Path,
    fmt: str | None = None,
    energy_unit: str = "eV",
    length_unit: str = "Angstrom",
    force_unit: str | None = None,
) -> Iterator[Frame]:
    """Frames of a data file in eV, Å and eV/Å (``force_unit`` defaults to energy/length unit).

    ``fmt`` is one of ``FORMATS`` or None to guess from the file name. Raises ``DatasetError``
    "FILE, frame K: what is wrong" on malformed input and ``ConfigError`` on unknown units.
    """
    for item in read_imported_frames(path, fmt, energy_unit, length_unit, force_unit):
        yield item.frame
