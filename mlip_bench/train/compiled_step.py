"""A training step's loss and parameter gradient as one compiled graph.

A force-matched loss needs a double backward: forces are -dE/dr with ``create_graph``, and the
loss on them is differentiated again with respect to the weights. ``torch.compile`` refuses that
(aot_autograd has no double backward), so :class:`CompiledLossGradient` first traces the whole
chain (energy forward, forces, loss, and the gradient of the loss with respect to every trainable
parameter) into one flat aten graph with ``make_fx``, symbolic in the batch's sizes, and then
compiles that graph with Inductor. At run time the graph is a plain function with no autograd:
weights in, (loss, its two MSE parts, gradients) out. The mathematics is the eager step's; only
floating-point summation order differs (relative gradient differences ~1e-6 in float32).

Safety: each trace is checked once against the eager step on the batch it was traced on, and is
keyed by what a trace may have specialised on (number of structures, number of atoms,
periodicity), so a batch of another shape gets its own trace. A model that cannot be traced
(e.g. data-dependent triplet counts) or a mismatch falls back to the eager step, with the reason
kept in :attr:`CompiledLossGradient.fallback`.
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
from mlip_bench.train.loss import EnergyForceLoss

#: relative tolerance of the one-off check of a new trace against the eager step (float32 sums)
CHECK_RTOL = 1e-3


class CompiledLossGradient(TracedGraphs):
    """``(batch) -> (total loss, energy MSE, force MSE, gradients)`` for ``potential`` under
    ``loss_fn``, the gradients in the order of :attr:`parameters` (the trainable parameters).
    Returns ``None`` when the step must run eagerly (see :attr:`fallback`)."""

    def __init__(self, potential: torch.nn.Module, loss_fn: EnergyForceLoss, compile_graph: bool = True):
        super().__init__()
        self.potential = potential
        self.loss_fn = loss_fn
        self.compile_graph = compile_graph
        self.names = [name for name, p in potential.named_parameters() if p.requires_grad]
        self.parameters = [p for p in potential.parameters() if p.requires_grad]

    def __call__(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]] | None:
        if self.fallback:
            return None
        inputs, key = self._inputs(batch)
        graph = self.graph_for(key, lambda: self._build(inputs, batch, index_names=key[-1]))
        if graph is None:
            return None
        total, energy_mse, force_mse, *grads = graph([p.detach() for p in self.parameters], *inputs)
        return total, energy_mse, force_mse, list(grads)

    # -- tracing ----------------------------------------------------------------------------------
    def _inputs(self, batch: Any) -> tuple[tuple, tuple]:
        """The per-batch tensors the graph takes (:func:`traced_inputs`' plus the labels), and the trace key."""
        tensors, indices, key = traced_inputs(self.potential, batch)
        return tensors + (batch.energy, batch.forces) + tuple(indices.values()), key

    def _function(self, index_names: tuple[str, ...]):
        """The step as a function of (parameters, batch tensors, the network's index tensors named
        ``index_names``), for ``make_fx``."""
        potential, loss_fn, trained = self.potential, self.loss_fn, self.parameters

        def loss_and_gradient(params, pos, z, species, edge_index, batch_index, offsets, e0, energy, forces, *indices):
            pos = pos.detach().requires_grad_(True)
            with parameters_replaced(potential, {id(p): v for p, v in zip(trained, params)}):
                interaction = interaction_energy(
                    potential, pos, z, species, edge_index, batch_index, offsets, e0, index_names, indices
                )
            (grad,) = torch.autograd.grad(interaction.sum(), pos, create_graph=True)
            prediction = {"energy": interaction.to(torch.float64) + e0, "forces": -grad}
            total, energy_mse, force_mse = loss_fn.tensors(prediction, energy, forces)
            grads = torch.autograd.grad(total, params, allow_unused=True)
            grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
            return (total, energy_mse, force_mse, *grads)

        return loss_and_gradient

    def _build(self, inputs: tuple, batch: Any, index_names: tuple[str, ...]):
        params = [p.detach().requires_grad_(True) for p in self.parameters]
        traced = trace_symbolic(self._function(index_names), params, *inputs)
        graph = torch.compile(traced, dynamic=True) if self.compile_graph else traced
        total, _, _, *grads = graph([p.detach() for p in self.parameters], *inputs)
        reason = self._check(total, grads, batch)
        if reason:
            self.fallback = reason
            return None
        return graph

    def _check(self, total: torch.Tensor, grads: list[torch.Tensor], batch: Any) -> str:
        """Empty when the graph's loss and gradients match the eager step's on ``batch``."""
        prediction = self.potential(batch, compute_forces=True, training=True)
        eager = self.loss_fn(prediction, batch).total
        eager_grads = torch.autograd.grad(eager, self.parameters, allow_unused=True)
        if not torch.allclose(total.detach(), eager.detach(), rtol=CHECK_RTOL, atol=0.0):
            return f"compiled loss {float(total):.6g} differs from the eager {float(eager):.6g}"
        eager_grads = [torch.zeros_like(g) if ref is None else ref for g, ref in zip(grads, eager_grads)]
        # float32 noise: a gradient that nearly cancels (a converged model's per-species shift)
        # differs by summation order far above its own size, so each tensor is held to its own
        # scale plus a share of the largest gradient, and the whole gradient to its norm
        largest = max(float(ref.abs().max()) for ref in eager_grads)
        for name, g, ref in zip(self.names, grads, eager_grads):
            if float((g - ref).abs().max()) > CHECK_RTOL * (float(ref.abs().max()) + largest):
                return f"compiled gradient of {name} differs from the eager one"
        difference = torch.sqrt(sum(((g - ref).double() ** 2).sum() for g, ref in zip(grads, eager_grads)))
        norm = torch.sqrt(sum((ref.double() ** 2).sum() for ref in eager_grads))
        if float(difference) > CHECK_RTOL * max(float(norm), 1e-30):
            return "compiled gradient differs from the eager one"
        return ""
