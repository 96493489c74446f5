"""Energy and forces of a trained potential as one compiled graph, for MD and other inference.

An MD step evaluates energy and forces (-dE/dr) of one structure thousands of times with the
same weights. :class:`CompiledForces` traces that evaluation (the energy forward and its
backward to the positions) into one aten graph with ``make_fx``, symbolic in the edge count (it
changes from step to step), and compiles it with Inductor. The weights enter as inputs, so
Inductor's cache serves every model of the same architecture. The mathematics is the eager
evaluation's; only floating-point summation order differs.

Safety as for compiled training steps: each new trace (keyed by structures, atoms, periodicity)
is checked once against the eager evaluation on the structure it was traced on; an untraceable
model or a mismatch makes :meth:`CompiledForces.__call__` return ``None`` for good, with the
reason in :attr:`CompiledForces.fallback`, and the caller evaluates eagerly.
"""

from __future__ import annotations

from typing import Any

import torch

from mlip_bench.models.traced_energy import (
    TracedGraphs,
    interaction_energy,
    parameters_replaced,
    trace_symbolic,
    traced_inputs,
)

#: the one-off check: forces within this share of the largest eager force (float32 sums), and
#: interaction energies within this share of their size plus FORCE_CHECK_RTOL eV per atom
FORCE_CHECK_RTOL = 1e-4


class CompiledForces(TracedGraphs):
    """``(batch) -> (energy (G,) eV float64, forces (N, 3) eV/Å)`` of ``potential``, or ``None``
    when the evaluation must run eagerly (see :attr:`fallback`). No stress: strain derivatives
    stay eager."""

    def __init__(self, potential: torch.nn.Module, compile_graph: bool = True):
        super().__init__()
        self.potential = potential
        self.compile_graph = compile_graph
        self.parameters = list(potential.parameters())

    def __call__(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
        if self.fallback:
            return None
        tensors, indices, key = traced_inputs(self.potential, batch)
        inputs = tensors + tuple(indices.values())
        graph = self.graph_for(key, lambda: self._build(inputs, batch, index_names=tuple(indices), e0=tensors[-1]))
        if graph is None:
            return None
        with torch.no_grad():  # the graph holds its own backward; autograd has nothing to record
            energy, forces = graph([p.detach() for p in self.parameters], *inputs)
        return energy, forces

    def _function(self, index_names: tuple[str, ...]):
        potential, weights = self.potential, self.parameters

        def energy_and_forces(params, pos, z, species, edge_index, batch_index, offsets, e0, *indices):
            pos = pos.detach().requires_grad_(True)
            with parameters_replaced(potential, {id(p): v for p, v in zip(weights, params)}):
                interaction = interaction_energy(
                    potential, pos, z, species, edge_index, batch_index, offsets, e0, index_names, indices
                )
            (grad,) = torch.autograd.grad(interaction.sum(), pos)
            return interaction.to(torch.float64) + e0, -grad

        return energy_and_forces

    def _build(self, inputs: tuple, batch: Any, index_names: tuple[str, ...], e0: torch.Tensor):
        params = [p.detach() for p in self.parameters]
        traced = trace_symbolic(self._function(index_names), params, *inputs)
        graph = torch.compile(traced, dynamic=True) if self.compile_graph else traced
        with torch.no_grad():
            energy, forces = graph(params, *inputs)
        reason = self._check(energy, forces, e0, batch)
        if reason:
            self.fallback = reason
            return None
        return graph

    def _check(self, energy: torch.Tensor, forces: torch.Tensor, e0: torch.Tensor, batch: Any) -> str:
        """Empty when the graph's energy and forces match the eager evaluation's on ``batch``."""
        eager = self.potential(batch, compute_forces=True)
        eager_forces = eager["forces"].detach()
        if eager_forces.numel() and (
            not bool(torch.isfinite(forces).all())
            or float((forces - eager_forces).abs().max())
            > FORCE_CHECK_RTOL * max(float(eager_forces.abs().max()), 1e-6)
        ):
            return "compiled forces differ from the eager ones"
        eager_interaction = eager["energy"].detach().to(torch.float64) - e0
        tolerance = FORCE_CHECK_RTOL * (eager_interaction.abs() + float(batch.pos.shape[0]))
        if not bool(((energy - e0 - eager_interaction).abs() <= tolerance).all()):
            return "compiled energy differs from the eager one"
        return ""
