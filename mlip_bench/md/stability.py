"""Stability criteria of an MD trajectory (definitions in docs/md.md, "Stability").

* Molecules (no periodic axis): bonds are the atom pairs of the starting frame closer than
  ``BOND_FACTOR`` (1.2) times the sum of their covalent radii (``ase.data.covalent_radii``);
  each bond's reference length is its mean over the reference (dataset) frames, or its length in
  the starting frame when no reference frames share the starting frame's atoms. A frame fails
  when any bond deviates from its reference length by more than ``BOND_TOLERANCE_A`` (0.5 Å),
  as in Fu et al., "Forces are not enough" (2022).
* Periodic systems: a frame fails when any force is not finite or when two atoms are closer
  than their pair's floor (minimum image). Each species pair's floor is ``PAIR_FLOOR_FACTOR``
  (0.75) times the shortest distance of that pair in the reference (dataset) frames, and never
  below ``MIN_DISTANCE_A`` (0.5 Å); a pair never closer than ``PAIR_REFERENCE_CUTOFF_A`` (4 Å)
  in the reference, or a run without reference frames, keeps the 0.5 Å floor. A single 0.5 Å
  floor misses an adsorbate collapsing into a metal slab (C-Cu at 1.1 Å in Cu-formate).
* Both: non-finite positions, energies or forces, or a force evaluation that raises, fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

BOND_FACTOR = 1.2
BOND_TOLERANCE_A = 0.5
MIN_DISTANCE_A = 0.5
PAIR_FLOOR_FACTOR = 0.75
PAIR_REFERENCE_CUTOFF_A = 4.0
#: the neighbour search of the floor check never uses a smaller radius (Å): vesin's cell list is
#: ~25x slower at 0.5 Å than at 2 Å in an 83-atom LiPS cell (8 ms against 0.3 ms per frame)
NEIGHBOUR_SEARCH_MIN_A = 2.0


def pair_name(za: int, zb: int) -> str:
    """``"C-Cu"``: the two element symbols, lower atomic number first."""
    from ase.data import chemical_symbols

    a, b = sorted((int(za), int(zb)))
    return f"{chemical_symbols[a]}-{chemical_symbols[b]}"


def reference_pair_minima(
    frames: np.ndarray,
    cells: np.ndarray,
    pbc: np.ndarray,
    numbers: np.ndarray,
    cutoff: float = PAIR_REFERENCE_CUTOFF_A,
) -> dict[tuple[int, int], float]:
    """Shortest distance (Å, minimum image) of each species pair ``(za <= zb)`` over ``frames``
    (F, N, 3) with cells (F, 3, 3); pairs never closer than ``cutoff`` are absent."""
    from mlip_bench.data.graphs import neighbor_list

    numbers = np.asarray(numbers, dtype=np.int64)
    minima: dict[tuple[int, int], float] = {}
    for positions, cell in zip(np.asarray(frames, dtype=np.float64), np.asarray(cells, dtype=np.float64)):
        i, j, shifts = neighbor_list(positions, cell, pbc, cutoff)
        if len(i) == 0:
            continue
        d = np.linalg.norm(positions[j] - positions[i] + shifts @ cell, axis=-1)
        za, zb = np.minimum(numbers[i], numbers[j]), np.maximum(numbers[i], numbers[j])
        for a, b in {(int(x), int(y)) for x, y in zip(za, zb)}:
            m = float(d[(za == a) & (zb == b)].min())
            minima[(a, b)] = min(m, minima.get((a, b), np.inf))
    return minima


def pair_floors(
    minima: dict[tuple[int, int], float], factor: float = PAIR_FLOOR_FACTOR, floor: float = MIN_DISTANCE_A
) -> dict[tuple[int, int], float]:
    """Each pair's stability floor (Å): ``factor`` times its reference minimum, at least ``floor``."""
    return {pair: max(floor, factor * m) for pair, m in sorted(minima.items())}


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
    #: periodic systems: per species pair ``(za <= zb)`` floor (Å); pairs absent use ``min_distance_a``
    floors: dict[tuple[int, int], float] | None = None
    numbers: np.ndarray | None = None

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
        reference_cells: np.ndarray | None = None,
        pair_floor_factor: float | None = PAIR_FLOOR_FACTOR,
        floors: dict[tuple[int, int], float] | None = None,
    ) -> "StabilityCheck":
        """The check for a starting frame; ``reference_positions`` (F, N, 3): frames of the same
        molecule whose mean bond lengths are the reference (else the starting frame's), or, for a
        periodic system with ``reference_cells`` (F, 3, 3), the frames whose shortest distance per
        species pair sets the pair floors (``pair_floor_factor`` None: one global floor); ``floors``:
        pair floors already computed from the same reference (another replica's), used as they are."""
        periodic = pbc is not None and bool(np.any(pbc))
        if periodic:
            if (
                floors is None
                and pair_floor_factor is not None
                and reference_positions is not None
                and len(reference_positions)
            ):
                cells = reference_cells
                if cells is None:
                    cells = np.broadcast_to(np.asarray(cell, dtype=np.float64), (len(reference_positions), 3, 3))
                minima = reference_pair_minima(reference_positions, cells, np.asarray(pbc, dtype=bool), numbers)
                floors = pair_floors(minima, pair_floor_factor, min_distance_a)
            return cls(
                "periodic",
                np.zeros((0, 2), dtype=np.int64),
                np.zeros(0),
                np.asarray(cell, dtype=np.float64),
                np.asarray(pbc, dtype=bool),
                bond_tolerance_a,
                min_distance_a,
                floors,
                np.asarray(numbers, dtype=np.int64),
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
        if self.floors:
            raised = {pair_name(*p): f for p, f in self.floors.items() if f > self.min_distance_a}
            listed = ", ".join(f"{k} {v:.2f} Å" for k, v in raised.items())
            return (
                "non-finite forces, energy or positions, or two atoms closer than their pair's floor (minimum image): "
                f"{PAIR_FLOOR_FACTOR:g} x the pair's shortest reference distance ({listed}), "
                f"{self.min_distance_a} Å for any other pair"
            )
        return (
            f"non-finite forces, energy or positions, or two atoms closer than {self.min_distance_a} Å (minimum image)"
        )

    def floors_by_name(self) -> dict[str, float] | None:
        """The pair floors (Å) keyed ``"C-Cu"``, or None when one global floor applies."""
        if not self.floors:
            return None
        return {pair_name(*p): round(f, 4) for p, f in self.floors.items()}

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
        return self._check_pair_floors(positions)

    @cached_property
    def _floor_table(self) -> np.ndarray:
        """Floor (Å) by atomic numbers ``[za, zb]``, built once per check, not per MD step; without
        pair floors every entry is the global ``min_distance_a``."""
        assert self.numbers is not None
        table = np.full((int(self.numbers.max()) + 1,) * 2, self.min_distance_a)
        for (a, b), f in (self.floors or {}).items():
            if a < len(table) and b < len(table):
                table[a, b] = table[b, a] = f
        return table

    def _check_pair_floors(self, positions: np.ndarray) -> str:
        """One neighbour-list pass for every floor, the pair floors or the single global floor."""
        from mlip_bench.data.graphs import neighbor_list

        z, table = self.numbers, self._floor_table
        radius = max(float(table.max()), NEIGHBOUR_SEARCH_MIN_A)
        i, j, shifts = neighbor_list(positions, self.cell, self.pbc, radius)
        if len(i) == 0:
            return ""
        d = np.linalg.norm(positions[j] - positions[i] + shifts @ self.cell, axis=-1)
        floor = table[z[i], z[j]]
        bad = np.nonzero(d < floor)[0]
        if len(bad) == 0:
            return ""
        k = int(bad[np.argmin(d[bad] / floor[bad])])
        return (
            f"atoms {int(i[k])}-{int(j[k])} ({pair_name(z[i[k]], z[j[k]])}) at {d[k]:.2f} Å, "
            f"closer than {'the pair floor' if self.floors else 'the floor'} {floor[k]:.2f} Å"
        )
