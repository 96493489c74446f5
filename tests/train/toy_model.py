"""A tiny real network and a tiny real dataset for harness tests.

``pairmlp``: per-atom energy = sum over neighbours of an MLP of (distance basis, species pair).
Data: 4-atom molecules (C, H, H, O) with energies/forces from an analytic Morse potential.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from mlip_bench.data.frame import Frame
from mlip_bench.models.registry import Network, register_network

MODEL_YAML = """name: pairmlp
model: pairmlp
r_max: 4.0
dtype: float64
hyperparameters: {hidden: 16, num_basis: 8}
"""


@register_network("pairmlp")
class PairMLP(Network):
    """Smooth pairwise network: E_i = sum_j cutoff(r) * MLP([bessel(r), onehot(s_i), onehot(s_j)])."""

    def __init__(self, r_max: float, num_species: int, avg_num_neighbors: float, hidden: int = 16, num_basis: int = 8):
        super().__init__()
        self.r_max = r_max
        self.num_species = num_species
        self.register_buffer("freq", torch.arange(1, num_basis + 1) * torch.pi / r_max)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(num_basis + 2 * num_species, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, 1),
        )
        self.norm = 1.0 / max(avg_num_neighbors, 1.0)

    def forward(self, data, edge_vec):
        r = torch.linalg.norm(edge_vec, dim=-1)
        basis = torch.sin(self.freq * r[:, None]) / r[:, None]
        cutoff = 0.5 * (torch.cos(torch.pi * r / self.r_max) + 1.0)
        src, dst = data.edge_index
        onehot = torch.nn.functional.one_hot(data.species, self.num_species).to(r.dtype)
        feats = torch.cat([basis, onehot[dst], onehot[src]], dim=-1)
        pair = self.mlp(feats).squeeze(-1) * cutoff * self.norm
        return torch.zeros(len(data.z), dtype=r.dtype).index_add(0, dst, pair)


def install_model(directory: Path) -> Path:
    """Write ``pairmlp.yaml`` into ``directory`` (used as the baselines folder)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "pairmlp.yaml"
    path.write_text(MODEL_YAML)
    return path


def morse_frames(n: int, seed: int = 0) -> list[Frame]:
    """``n`` distorted 4-atom molecules with Morse energies (eV) and exact forces (eV/Å)."""
    rng = np.random.default_rng(seed)
    numbers = np.array([6, 1, 1, 8])
    base = np.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.0], [-0.4, 1.0, 0.0], [0.0, -0.6, 1.1]])
    frames = []
    for k in range(n):
        pos = torch.tensor(base + 0.08 * rng.standard_normal(base.shape), requires_grad=True)
        d = pos[:, None, :] - pos[None, :, :]
        r = torch.sqrt((d**2).sum(-1) + torch.eye(4))
        iu = torch.triu_indices(4, 4, 1)
        rij = r[iu[0], iu[1]]
        energy = torch.sum(0.8 * (1 - torch.exp(-1.5 * (rij - 1.2))) ** 2) - 10.0 * 4
        (grad,) = torch.autograd.grad(energy, pos)
        frames.append(
            Frame(
                positions=pos.detach().numpy().copy(),
                numbers=numbers.copy(),
                energy=float(energy.detach()),
                forces=(-grad).numpy().copy(),
                index=k,
            )
        )
    return frames


def write_toy_store(root: Path, name: str = "toy", n: int = 120, seed: int = 0) -> Path:
    """A store of Morse molecules at ``<root>/stores/<name>.h5`` (an imported dataset without a card)."""
    from mlip_bench.data.catalog import store_path
    from mlip_bench.data.store import write_store

    path = store_path(name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_store(path, morse_frames(n, seed), {"name": name, "provenance": "imported"})


def periodic_frames(n: int, seed: int = 0) -> list[Frame]:
    """``n`` rattled 8-atom periodic copper-like boxes with ase's Morse energies and forces."""
    from ase.build import bulk
    from ase.calculators.morse import MorsePotential

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1, 1, 2))
        atoms.positions += 0.05 * rng.standard_normal(atoms.positions.shape)
        atoms.calc = MorsePotential(epsilon=0.4, r0=2.55, rho0=6.0, rcut1=3.0, rcut2=3.8)
        frame = Frame.from_atoms(atoms)
        frame.index = k
        frames.append(frame)
    return frames


def write_periodic_store(root: Path, name: str = "toybox", n: int = 60) -> Path:
    """A periodic store at ``<root>/stores/<name>.h5``."""
    from mlip_bench.data.catalog import store_path
    from mlip_bench.data.store import write_store

    path = store_path(name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_store(path, periodic_frames(n), {"name": name, "provenance": "imported"})
