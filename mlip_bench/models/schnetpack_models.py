"""schnetpack baselines through an adapter: ``schnetpack-schnet`` and ``schnetpack-painn``.

schnetpack is an optional extra (``pip install 'mlip-bench[schnetpack]'``, see docs/schnetpack.md).
This module imports cleanly without it: the networks are always registered, and building one
without schnetpack raises :class:`~mlip_bench.errors.ModelError` with the install command.

The adapter uses schnetpack's own representation (``schnetpack.representation.SchNet`` or
``PaiNN``) with a Gaussian radial basis and cosine cutoff, followed by a
``schnetpack.atomistic.Atomwise`` output that returns per-atom energies (N,). It feeds
schnetpack the project's neighbour list through schnetpack's input keys: ``idx_i`` = centre
(``edge_index[1]``), ``idx_j`` = neighbour (``edge_index[0]``) and ``Rij`` = r_j - r_i + offsets
in Å (the project's differentiable edge vectors, which already contain the periodic cell
offsets), so forces come from the :class:`~mlip_bench.models.potential.Potential` by autograd.
schnetpack's neighbour-list transforms, data modules and Lightning task are not used.
"""

from __future__ import annotations

from typing import Any

import torch

from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models.registry import Network, register_network
from mlip_bench.models.schnetpack_compat import import_schnetpack

#: schnetpack embeds atomic numbers with ``Embedding(max_z, ...)``; 100 is its default
_MAX_Z = 100


def _positive_int(model: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{model}: hyperparameter {name!r} must be an integer >= {minimum}, got {value!r}")
    return value


class _SchnetpackNetwork(Network):
    """Shared adapter: a schnetpack representation + an Atomwise per-atom energy head."""

    _representation_class = ""

    def __init__(
        self,
        r_max: float,
        num_species: int,
        avg_num_neighbors: float,
        n_atom_basis: int = 128,
        n_interactions: int = 6,
        n_rbf: int = 20,
        output_layers: int = 2,
        **representation_options: Any,
    ):
        super().__init__()
        model = self.name
        _positive_int(model, "n_atom_basis", n_atom_basis, minimum=2)
        _positive_int(model, "n_interactions", n_interactions)
        _positive_int(model, "n_rbf", n_rbf, minimum=2)
        _positive_int(model, "output_layers", output_layers)
        spk = import_schnetpack()
        self.r_max = float(r_max)
        representation_class = getattr(spk.representation, self._representation_class)
        try:
            self.representation = representation_class(
                n_atom_basis=n_atom_basis,
                n_interactions=n_interactions,
                radial_basis=spk.nn.GaussianRBF(n_rbf=n_rbf, cutoff=self.r_max),
                cutoff_fn=spk.nn.CosineCutoff(self.r_max),
                max_z=_MAX_Z,
                **representation_options,
            )
        except TypeError as err:
            raise ConfigError(f"{model}: bad hyperparameter ({err})") from None
        self.output = spk.atomistic.Atomwise(
            n_in=n_atom_basis,
            n_out=1,
            n_layers=output_layers,
            aggregation_mode=None,
            output_key="energy",
            per_atom_output_key="atomic_energy",
        )
        # schnetpack's input key strings (plain strings, so the module deep-copies for EMA)
        p = spk.properties
        self._keys = {
            "Z": p.Z,
            "Rij": p.Rij,
            "idx_i": p.idx_i,
            "idx_j": p.idx_j,
            "idx_m": p.idx_m,
            "n_atoms": p.n_atoms,
        }

    def forward(self, data: Any, edge_vec: torch.Tensor) -> torch.Tensor:
        z = data.z
        if z.numel() and (int(z.max()) >= _MAX_Z or int(z.min()) < 1):
            raise ModelError(f"{self.name} embeds atomic numbers 1..{_MAX_Z - 1} only")
        keys = self._keys
        inputs = {
            keys["Z"]: z,
            keys["Rij"]: edge_vec,
            keys["idx_i"]: data.edge_index[1],
            keys["idx_j"]: data.edge_index[0],
            keys["idx_m"]: data.batch,
            keys["n_atoms"]: data.natoms,
        }
        inputs = self.representation(inputs)
        inputs = self.output(inputs)
        return inputs["atomic_energy"].reshape(-1)


@register_network("schnetpack-schnet")
class SchnetpackSchNet(_SchnetpackNetwork):
    """schnetpack's SchNet representation (defaults: 128 features, 6 interactions, 20 Gaussians
    over 0..r_max Å, cosine cutoff at r_max) + Atomwise head. Extra options: ``n_filters``,
    ``shared_interactions``."""

    _representation_class = "SchNet"


@register_network("schnetpack-painn")
class SchnetpackPaiNN(_SchnetpackNetwork):
    """schnetpack's PaiNN representation (schnetpack defaults: 128 features, 3 interactions,
    20 Gaussians, cosine cutoff at r_max) + Atomwise head. Extra options: ``shared_interactions``,
    ``shared_filters``, ``epsilon``."""

    _representation_class = "PaiNN"

    def __init__(self, r_max: float, num_species: int, avg_num_neighbors: float, **kwargs: Any):
        kwargs.setdefault("n_interactions", 3)
        super().__init__(r_max, num_species, avg_num_neighbors, **kwargs)
