"""A potential's interaction energy as a plain function of tensors, for ``make_fx`` traces.

Compiled training steps (:mod:`mlip_bench.train.compiled_step`) and compiled force evaluation
(:mod:`mlip_bench.models.compiled_forces`) both trace the same chain: edge vectors from
positions and periodic-image offsets, the network's per-atom energies, the per-structure sum.
Here is that chain once, with the batch tensors it takes (:func:`traced_inputs`), the
parameter swap that lets the weights enter a trace as inputs (:func:`parameters_replaced`), so a
compiled graph holds no copy of the weights and serves any model of the same architecture, and
the trace itself (:func:`trace_symbolic`): symbolic in the batch's sizes, static in the weights'.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from mlip_bench.data.graphs import image_offsets


def traced_inputs(
    potential: torch.nn.Module, batch: Any
) -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor], tuple]:
    """``(tensors, indices, key)`` for :func:`interaction_energy` on ``batch``.

    ``tensors`` = (positions (N, 3) Å in the model dtype, atomic numbers, species indices,
    edge_index, batch index, periodic-image offsets (E, 3) Å, E0 per structure (G,) eV float64);
    ``indices`` = the network's position-free index tensors (``Network.graph_indices``, e.g.
    DimeNet++'s triplets, data-dependent in size, so built outside the trace); ``key`` = what a
    trace may specialise on (structures, atoms, periodicity, index names)."""
    species = potential.species_of(batch.z)
    pos = batch.pos.to(potential.dtype)
    offsets = image_offsets(batch, pos.dtype)
    periodic = offsets is not None
    if offsets is None:
        offsets = torch.zeros((batch.edge_index.shape[1], 3), dtype=pos.dtype, device=pos.device)
    num_graphs = int(batch.natoms.numel())
    e0 = torch.zeros(num_graphs, dtype=torch.float64, device=pos.device).index_add(
        0, batch.batch, potential.e0[species]
    )
    network = getattr(potential, "network", None)
    make = getattr(network, "graph_indices", None)
    indices = dict(make(batch)) if make is not None else {}
    tensors = (pos, batch.z, species, batch.edge_index, batch.batch, offsets, e0)
    return tensors, indices, (num_graphs, int(pos.shape[0]), periodic, tuple(indices))


def interaction_energy(
    potential: torch.nn.Module,
    pos: torch.Tensor,
    z: torch.Tensor,
    species: torch.Tensor,
    edge_index: torch.Tensor,
    batch_index: torch.Tensor,
    offsets: torch.Tensor,
    num_graphs_like: torch.Tensor,
    index_names: Sequence[str] = (),
    indices: Sequence[torch.Tensor] = (),
) -> torch.Tensor:
    """Per-structure interaction energy (G,) eV, model dtype, without E0; ``num_graphs_like`` is
    any tensor of length G (the E0 vector). Differentiable with respect to ``pos``."""
    src, dst = edge_index
    vec = pos[src] - pos[dst] + offsets
    # numbers_checked: species_of() has mapped every atomic number to a trained species
    data = types.SimpleNamespace(
        z=z, species=species, edge_index=edge_index, batch=batch_index, pos=pos, numbers_checked=True
    )
    for name, index in zip(index_names, indices):
        setattr(data, name, index)
    atomic = potential.atomic_energy(data, vec, species)
    return torch.zeros(num_graphs_like.shape[0], dtype=atomic.dtype, device=atomic.device).index_add(
        0, batch_index, atomic
    )


@contextmanager
def parameters_replaced(module: torch.nn.Module, values: dict[int, torch.Tensor]) -> Iterator[None]:
    """Within the block, every parameter of ``module`` whose ``id`` is a key of ``values`` is
    that value instead. Each (sub-module, name) slot is swapped once and restored, so a module
    shared under two names (SchNet's filter networks) gets its own weights back (``functional_call``
    by name restores a shared slot twice and can leave a traced stand-in behind)."""
    saved = []
    try:
        for sub in module.modules():  # each shared sub-module once
            for name, param in sub._parameters.items():
                if param is not None and id(param) in values:
                    saved.append((sub, name, param))
                    sub._parameters[name] = values[id(param)]
        yield
    finally:
        for sub, name, param in saved:
            sub._parameters[name] = param


def trace_symbolic(function: Callable, weights: Sequence[torch.Tensor], *inputs: torch.Tensor) -> torch.fx.GraphModule:
    """``make_fx`` trace of ``function(weights, *inputs)``, symbolic in every size of ``inputs``
    (edge counts change from batch to batch) and static in the weights' sizes.

    Symbolic weight sizes are wrong here: a weight dimension that happens to equal the traced
    batch's edge count can be unified with it, and the graph then fails on the next edge count."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.proxy_tensor import make_fx
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    fake_mode = FakeTensorMode(allow_non_fake_inputs=True, shape_env=ShapeEnv())
    # make_fx finds this mode on the fake weights and turns the other inputs into symbolic fakes
    fake_weights = [fake_mode.from_tensor(w, static_shapes=True) for w in weights]
    return make_fx(function, tracing_mode="symbolic", _allow_non_fake_inputs=True)(fake_weights, *inputs)


class TracedGraphs:
    """Compiled graphs by trace key, built on first use, and :attr:`fallback`: why evaluation runs
    eagerly for good (empty while graphs serve). Base of the compiled training step and forces."""

    def __init__(self) -> None:
        self.fallback = ""
        self._graphs: dict[tuple, Any] = {}

    def graph_for(self, key: tuple, build: Callable[[], Any]) -> Any | None:
        """The graph for ``key``; ``build()`` makes it (and returns ``None`` after setting
        :attr:`fallback` when its check fails); an exception while building is the fallback's reason."""
        if self.fallback:
            return None
        graph = self._graphs.get(key)
        if graph is None:
            try:
                graph = build()
            except Exception as err:  # untraceable model: run eagerly, say why
                first_line = (str(err).strip().splitlines() or [""])[0][:200]
                self.fallback = f"compile failed ({type(err).__name__}: {first_line})"
                return None
            if graph is None:
                return None
            self._graphs[key] = graph
        return graph
