"""Export a trained potential for inference with ``torch.export`` (an ``ExportedProgram``).

What is exported is :class:`EnergyModule`: the energy (float64, eV) of one structure from plain
tensors (positions, species indices, edges and their Cartesian cell shifts), with dynamic numbers
of atoms and edges. Forces are ``-dE/dpos``, taken by autograd through the exported graph
(:func:`energy_and_forces`), as the eager :class:`~mlip_bench.models.potential.Potential` does.
The program can be saved and loaded with ``torch.export.save`` / ``torch.export.load`` without
mlip-bench's Python classes. Tested for NequIP (l_max 0 and 1; ``tests/test_export.py``); other
networks read more graph fields than ``species`` and ``edge_index`` and are not covered.

Why not the ``Potential`` itself (torch 2.13, measured; docs/md.md):
``torch.jit.script(potential)`` fails ("try blocks aren't supported": ``forward`` restores the
graph's fields in a ``finally``, and takes a torch-geometric ``Data``); ``torch.export`` of
``forward`` fails with ``GuardOnDataDependentSymNode`` on the unknown-species check
(``if bool((species < 0).any())``); ``torch.jit.trace`` fails with "Cannot insert a Tensor that
requires grad as a constant" (the autograd call for the forces). Species are therefore mapped
before the call (:meth:`Potential.species_of`, which raises for unknown elements), and the forces
are taken outside the exported graph.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch


class EnergyModule(torch.nn.Module):
    """Energy (eV, float64, shape ``()``) of one structure from tensors only.

    ``pos`` (N, 3) in the model's dtype, ``species`` (N,) species indices of the potential
    (``potential.species_of(z)``), ``edge_index`` (2, E) with row 0 the neighbour j and row 1 the
    centre i, ``shifts`` (E, 3) Cartesian cell shifts in Å (``cell_shift @ cell``; zeros for a molecule).
    """

    def __init__(self, potential) -> None:
        super().__init__()
        self.potential = potential

    def forward(
        self, pos: torch.Tensor, species: torch.Tensor, edge_index: torch.Tensor, shifts: torch.Tensor
    ) -> torch.Tensor:
        p = self.potential
        vec = pos[edge_index[0]] - pos[edge_index[1]] + shifts
        per_atom = p.network(SimpleNamespace(species=species, edge_index=edge_index), vec).reshape(-1)
        atomic = p.force_rms.to(pos.dtype) * (p.species_scale[species] * per_atom + p.species_shift[species])
        return atomic.sum().to(torch.float64) + p.e0[species].sum()


def graph_inputs(potential, graph) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(pos, species, edge_index, shifts)`` of one graph made by ``data.graphs.frame_to_graph``."""
    pos = graph.pos.to(potential.dtype)
    shifts = torch.zeros((graph.edge_index.shape[1], 3), dtype=pos.dtype)
    if graph.cell_shift.numel() and bool(graph.pbc.any()):
        shifts = graph.cell_shift.to(pos.dtype) @ graph.cell.reshape(3, 3).to(pos.dtype)
    return pos, potential.species_of(graph.z), graph.edge_index, shifts


def export_potential(potential, graph, max_atoms: int = 100_000, max_edges: int = 10_000_000):
    """The ``ExportedProgram`` of ``EnergyModule(potential)``, traced on ``graph`` with dynamic
    numbers of atoms and edges."""
    module = EnergyModule(potential.eval())
    atoms = torch.export.Dim("atoms", min=2, max=max_atoms)
    edges = torch.export.Dim("edges", min=1, max=max_edges)
    dynamic = {"pos": {0: atoms}, "species": {0: atoms}, "edge_index": {1: edges}, "shifts": {0: edges}}
    return torch.export.export(module, graph_inputs(potential, graph), dynamic_shapes=dynamic, strict=False)


def energy_and_forces(module: Any, inputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Energy (eV) and forces (eV/Å, -dE/dpos) of an exported (or eager) ``EnergyModule``."""
    pos, species, edge_index, shifts = inputs
    pos = pos.detach().requires_grad_(True)
    energy = module(pos, species, edge_index, shifts)
    (grad,) = torch.autograd.grad(energy, pos)
    return energy.detach(), -grad
