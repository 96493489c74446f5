r"""`Potential`: per-atom network -> total energy (eV), forces = -dE/dr (eV/Å), stress (eV/Å^3).

Energy bookkeeping (float64 where it matters):

    E = sum_i [ force_rms * (scale[s_i] * e_i + shift[s_i]) ]  +  sum_i E0[s_i]
        \_______________ model dtype (float32 ok) _______/      \_ float64 _/

``E0`` are per-species reference energies fitted by least squares of training energies on
composition, so the float32 part only carries the small interaction energy; ``force_rms`` is the
RMS of training force components (the paper's global scale); ``scale``/``shift`` are the
paper's trainable per-species scale (init 1) and shift (init 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import edge_vectors


@dataclass
class DatasetStatistics:
    """Training-set statistics a potential is normalised with.

    species: sorted atomic numbers; e0_ev: per-species reference energy (eV), same order;
    force_rms_ev_per_a: RMS of force components (eV/Å); avg_num_neighbors: mean neighbours
    per atom within r_max.
    """

    species: list[int]
    e0_ev: list[float]
    force_rms_ev_per_a: float
    avg_num_neighbors: float
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_frames(
        cls, frames: Iterable[Frame], r_max: float, species: list[int] | None = None
    ) -> "DatasetStatistics":
        """Fit E0 by least squares on composition, the force RMS and the mean neighbour count."""
        from mlip_bench.data.graphs import neighbor_list

        frames = list(frames)
        species = sorted(set(species or []) | {int(z) for f in frames for z in np.unique(f.numbers)})
        index = {z: k for k, z in enumerate(species)}
        counts = np.zeros((len(frames), len(species)))
        energies = np.array([f.energy for f in frames], dtype=np.float64)
        for row, f in enumerate(frames):
            for z, c in zip(*np.unique(f.numbers, return_counts=True)):
                counts[row, index[int(z)]] = c
        e0 = np.zeros(len(species))
        if np.all(np.isfinite(energies)) and len(frames):
            # minimum-norm solution: species that always co-occur in fixed ratio (one molecule)
            # share the offset; any split works since only the sum enters.
            e0 = np.linalg.lstsq(counts, energies, rcond=None)[0]
        forces = [f.forces for f in frames if f.forces is not None]
        force_rms = float(np.sqrt(np.mean(np.concatenate([x.ravel() for x in forces]) ** 2))) if forces else 1.0
        n_edges = n_atoms = 0
        for f in frames[:200]:
            i, _, _ = neighbor_list(f.positions, f.cell, f.pbc, r_max)
            n_edges += len(i)
            n_atoms += f.n_atoms
        return cls(
            species=species,
            e0_ev=[float(x) for x in e0],
            force_rms_ev_per_a=force_rms if force_rms > 0 else 1.0,
            avg_num_neighbors=n_edges / max(n_atoms, 1),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Potential(torch.nn.Module):
    """Wraps a :class:`~mlip_bench.models.registry.Network` into a physical potential.

    ``forward(batch, compute_forces=True, compute_stress=False, training=False)`` returns a dict:
    ``energy`` (B,) float64 eV, ``forces`` (N, 3) eV/Å, ``stress`` (B, 3, 3) eV/Å^3 (only for
    periodic graphs when asked), ``atomic_energy`` (N,) eV in model dtype without E0.
    ``training=True`` keeps the graph for a loss on forces (create_graph).
    """

    def __init__(self, network: torch.nn.Module, config: Any, statistics: DatasetStatistics):
        super().__init__()
        self.network = network
        self.config = config
        self.statistics = statistics
        n = len(statistics.species)
        lookup = torch.full((119,), -1, dtype=torch.long)
        lookup[torch.tensor(statistics.species)] = torch.arange(n)
        self.register_buffer("species_lookup", lookup, persistent=True)
        self.register_buffer("e0", torch.tensor(statistics.e0_ev, dtype=torch.float64), persistent=True)
        self.register_buffer("force_rms", torch.tensor(statistics.force_rms_ev_per_a), persistent=True)
        self.species_scale = torch.nn.Parameter(torch.ones(n))
        self.species_shift = torch.nn.Parameter(torch.zeros(n))

    def _apply(self, fn, recurse=True):
        # keep E0 in float64 whatever dtype the model is cast to
        super()._apply(fn, recurse)
        self.e0 = self.e0.to(torch.float64)
        return self

    @property
    def dtype(self) -> torch.dtype:
        return self.species_scale.dtype

    def species_of(self, z: torch.Tensor) -> torch.Tensor:
        species = self.species_lookup[z]
        if bool((species < 0).any()):
            from mlip_bench.errors import ModelError

            unknown = sorted({int(x) for x in z[species < 0].tolist()})
            raise ModelError(f"atomic numbers {unknown} were not in this model's training set")
        return species

    def atomic_energy(self, data: Any, edge_vec: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Per-atom interaction energies (N,) in eV, model dtype, without E0: the network's output
        on edge vectors ``edge_vec`` (E, 3) Å, scaled and shifted per species (``species``: indices
        into the model's species)."""
        per_atom = self.network(data, edge_vec).reshape(-1)
        return self.force_rms.to(edge_vec.dtype) * (
            self.species_scale[species] * per_atom + self.species_shift[species]
        )

    def forward(
        self,
        data: Any,
        compute_forces: bool = True,
        compute_stress: bool = False,
        training: bool = False,
    ) -> dict[str, torch.Tensor]:
        dtype = self.dtype
        data.species = self.species_of(data.z)
        pos = data.pos.to(dtype)
        if getattr(data, "batch", None) is None:
            data.batch = torch.zeros(len(pos), dtype=torch.long, device=pos.device)
        num_graphs = int(data.natoms.numel())
        cell = data.cell.to(dtype).reshape(-1, 3, 3)
        strain = None
        if compute_forces:
            pos = pos.detach().requires_grad_(True)
        if compute_stress:
            strain = torch.zeros((num_graphs, 3, 3), dtype=dtype, device=pos.device, requires_grad=True)
            sym = 0.5 * (strain + strain.transpose(1, 2))
            pos = pos + torch.einsum("nc,ncd->nd", pos, sym[data.batch])
            cell = cell + torch.bmm(cell, sym)
        original_pos, original_cell = data.pos, data.cell
        data.pos, data.cell = pos, cell
        try:
            atomic = self.atomic_energy(data, edge_vectors(data), data.species)
        finally:
            data.pos, data.cell = original_pos, original_cell
        s = data.species
        interaction = torch.zeros(num_graphs, dtype=dtype, device=pos.device).index_add(0, data.batch, atomic)
        e0 = torch.zeros(num_graphs, dtype=torch.float64, device=pos.device).index_add(0, data.batch, self.e0[s])
        out = {"energy": interaction.to(torch.float64) + e0, "atomic_energy": atomic}
        if compute_forces or compute_stress:
            inputs = [pos] + ([strain] if strain is not None else [])
            grads = torch.autograd.grad(
                interaction.sum(), inputs, create_graph=training, retain_graph=training, allow_unused=True
            )
            if compute_forces:
                g = grads[0] if grads[0] is not None else torch.zeros_like(pos)
                out["forces"] = -g
            if compute_stress:
                volume = torch.linalg.det(cell.detach()).abs().clamp_min(1e-12)
                g = grads[-1] if grads[-1] is not None else torch.zeros_like(strain)
                out["stress"] = g / volume[:, None, None]
        return out

    # -- persistence -----------------------------------------------------------------------------
    def checkpoint_payload(self) -> dict[str, Any]:
        """Everything needed to rebuild this potential: config, statistics, weights (read back by
        :func:`mlip_bench.models.loading.potential_from_payload`)."""
        return {
            "model_config": self.config.model_dump(),
            "statistics": self.statistics.to_dict(),
            "state_dict": self.state_dict(),
        }
