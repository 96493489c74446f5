"""mlearn/maml JSON reader: a list of {"structure": pymatgen dict, "outputs": {"energy", "forces"}}."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mlip_bench.data.importers.conversion import ImportedFrame, UnitConversion, make_frame
from mlip_bench.errors import DatasetError


def _element(site: dict) -> str:
    species = site.get("species")
    if isinstance(species, list) and species:
        return str(species[0]["element"])
    return str(site.get("label"))


def read_mlearn_json(path: Path, units: UnitConversion) -> Iterator[ImportedFrame]:
    """Frames of an mlearn JSON file (total energies in eV, forces in eV/Å by convention)."""
    from ase.data import atomic_numbers

    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(records, dict):
        records = records.get("data", records.get("structures", [records]))
    if not isinstance(records, list) or not records:
        raise DatasetError(f"{path}: expected a list of mlearn records with 'structure' and 'outputs'")
    for k, record in enumerate(records):
        try:
            structure = record["structure"]
            outputs = record.get("outputs", {})
            sites = structure["sites"]
            positions = np.asarray([site["xyz"] for site in sites], dtype=np.float64)
            numbers = [atomic_numbers[_element(site)] for site in sites]
            periodic = structure.get("@class", "Structure") != "Molecule"
            cell = np.asarray(structure["lattice"]["matrix"], dtype=np.float64) if periodic else None
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{path}, frame {k}: malformed mlearn record (missing or bad {exc})") from None
        frame = make_frame(
            path,
            k,
            positions,
            numbers,
            outputs.get("energy"),
            outputs.get("forces"),
            units,
            cell=cell,
            pbc=periodic,
        )
        yield ImportedFrame(frame, k)
