"""`Frame`: one atomic configuration with its reference labels, in eV and Å."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Frame:
    """One configuration.

    positions: (n, 3) float64, Å.  numbers: (n,) int64 atomic numbers.
    energy: total energy, float (Python float / float64), eV.  forces: (n, 3) float64, eV/Å.
    cell: (3, 3) float64, Å (rows are lattice vectors; zeros for molecules).  pbc: (3,) bool.
    index: position of this frame in its store (``-1`` when not from a store).
    """

    positions: np.ndarray
    numbers: np.ndarray
    energy: float = float("nan")
    forces: np.ndarray | None = None
    cell: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))
    pbc: np.ndarray = field(default_factory=lambda: np.zeros(3, dtype=bool))
    index: int = -1

    @property
    def n_atoms(self) -> int:
        return int(len(self.numbers))

    @property
    def is_periodic(self) -> bool:
        return bool(np.any(self.pbc))

    @classmethod
    def from_atoms(cls, atoms, energy: float | None = None, forces: np.ndarray | None = None) -> "Frame":
        """Build a frame from an ``ase.Atoms`` (labels from arguments, else from its calculator)."""
        if energy is None and atoms.calc is not None:
            energy = atoms.get_potential_energy()
        if forces is None and atoms.calc is not None:
            forces = atoms.get_forces()
        return cls(
            positions=np.asarray(atoms.get_positions(), dtype=np.float64),
            numbers=np.asarray(atoms.get_atomic_numbers(), dtype=np.int64),
            energy=float("nan") if energy is None else float(energy),
            forces=None if forces is None else np.asarray(forces, dtype=np.float64),
            cell=np.asarray(atoms.get_cell()[:], dtype=np.float64),
            pbc=np.asarray(atoms.get_pbc(), dtype=bool),
        )

    def to_atoms(self):
        """The configuration as an ``ase.Atoms`` (no calculator attached)."""
        from ase import Atoms

        return Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
