"""Stability criteria of an MD trajectory (definitions in docs/md.md, "Stability").

* Molecules (no periodic axis): bonds are the atom pairs of the starting frame closer than
  ``BOND_FACTOR`` (1.2) times the sum of their covalent radii (``ase.data.covalent_radii``);
  each bond's reference length is its mean over the reference (dataset) frames, or its length in
  the starting frame when no reference frames share the starting frame's atoms. A frame fails
  when any bond deviates from its reference length by more than ``BOND_TOLERANCE_A`` (0.5 Å),
  as in Fu et al., "Forces are not enough" (2022).
* Periodic systems: a frame fails when any force is not finite or when two atoms are closer
  than ``MIN_DISTANCE_A`` (0.5 Å, minimum image).
* Both: non-finite positions, energies or forces, or a force evaluation that raises, fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOND_FACTOR = 1.2
BOND_TOLERANCE_A = 0.5
MIN_DISTANCE_A = 0.5


def find_bonds(positions: np.ndarray, numbers: np.ndarray, factor: float = BOND_FACTOR) -> np.ndarray:
    """Pairs ``(i, j)``, ``i < j``, closer than ``factor`` times their covalent radii sum; (B, 2) int."""
    from ase.data import covalent_radii

    positions = np.asarray(positions, dtype=np.float64)
    radii = covalent_radii[np.asarray(numbers, dtype=int)]
    d = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    limit = factor * (radii[:, None] + radii[None, :])
    i, j = np.nonzero(np.triu(d < limit, k=1))
    return np.stack([i, j], axis=1).astype(np.int64)


def bond_lengths(positions: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Lengths (Å) of ``bonds`` in one frame (N, 3) or many frames (F, N, 3)."""
    positions = np.asarray(positions, dtype=np.float64)
    return np.linalg.norm(positions[..., bonds[:, 0], :] - positions[..., bonds[:, 1], :], axis=-1)


@dataclass
class StabilityCheck:
    """The failure test of one system: ``check(positions, forces, energy)`` -> reason or ``""``."""

    kind: str  # "molecule" | "periodic"
    bonds: np.ndarray  # (B, 2) molecules; empty for periodic systems
    reference_lengths: np.ndarray  # (B,) Å
    cell: np.ndarray | None = None
    pbc: np.ndarray | None = None
    bond_tolerance_a: float = BOND_TOLERANCE_A
    min_distance_a: float = MIN_DISTANCE_A

    @classmethod
    def for_system(
        cls,
        positions: np.ndarray,
        numbers: np.ndarray,
        cell: np.ndarray | None = None,
        pbc: np.ndarray | None = None,
        reference_positions: np.ndarray | None = None,
        bond_tolerance_a: float = BOND_TOLERANCE_A,
        min_distance_a: float = MIN_DISTANCE_A,
    ) -> "StabilityCheck":
        """The check for a starting frame; ``reference_positions`` (F, N, 3): frames of the same
        molecule whose mean bond lengths are the reference (else the starting frame's)."""
        periodic = pbc is not None and bool(np.any(pbc))
        if periodic:
            return cls(
                "periodic",
                np.zeros((0, 2), dtype=np.int64),
                np.zeros(0),
                np.asarray(cell, dtype=np.float64),
                np.asarray(pbc, dtype=bool),
                bond_tolerance_a,
                min_distance_a,
            )
        bonds = find_bonds(positions, numbers)
        if reference_positions is not None and len(reference_positions):
            reference = bond_lengths(reference_positions, bonds).mean(axis=0)
        else:
            reference = bond_lengths(positions, bonds)
        return cls("molecule", bonds, reference, None, None, bond_tolerance_a, min_distance_a)

    def describe(self) -> str:
        if self.kind == "molecule":
            return (
                f"any of {len(self.bonds)} bonds (pairs within {BOND_FACTOR} x covalent radii sum in the starting "
                f"frame) deviating more than {self.bond_tolerance_a} Å from its mean reference length; "
                "or non-finite positions, energy or forces"
            )
        return (
            f"non-finite forces, energy or positions, or two atoms closer than {self.min_distance_a} Å (minimum image)"
        )

    def check(self, positions: np.ndarray, forces: np.ndarray | None = None, energy: float | None = None) -> str:
        """Why this frame has failed, or ``""`` when it has not."""
        positions = np.asarray(positions, dtype=np.float64)
        if not np.all(np.isfinite(positions)):
            return "non-finite positions"
        if forces is not None and not np.all(np.isfinite(forces)):
            return "non-finite forces"
        if energy is not None and not np.isfinite(energy):
            return "non-finite energy"
        if self.kind == "molecule":
            if len(self.bonds) == 0:
                return ""
            deviation = np.abs(bond_lengths(positions, self.bonds) - self.reference_lengths)
            worst = int(np.argmax(deviation))
            if deviation[worst] > self.bond_tolerance_a:
                i, j = (int(x) for x in self.bonds[worst])
                return (
                    f"bond {i}-{j} deviates {deviation[worst]:.3f} Å from its reference "
                    f"{self.reference_lengths[worst]:.2f} Å"
                )
            return ""
        closest = min_distance(positions, self.cell, self.pbc, self.min_distance_a)
        if closest is not None:
            return f"atoms {closest[0]}-{closest[1]} at {closest[2]:.2f} Å, closer than {self.min_distance_a} Å"
        return ""


def min_distance(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, floor: float
) -> tuple[int, int, float] | None:
    """The closest pair ``(i, j, d)`` (minimum image) if it is closer than ``floor``, else None."""
    from mlip_bench.data.graphs import neighbor_list

    i, j, shifts = neighbor_list(positions, cell, pbc, floor)
    if len(i) == 0:
        return None
    d = np.linalg.norm(positions[j] - positions[i] + shifts @ np.asarray(cell, dtype=np.float64), axis=-1)
    k = int(np.argmin(d))
    return int(i[k]), int(j[k]), float(d[k])
