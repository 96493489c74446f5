"""Invariant baselines from torch-geometric: ``schnet`` and ``dimenet++``.

The networks are torch-geometric's own ``SchNet`` and ``DimeNetPlusPlus`` modules (their
embedding, interaction, output and basis layers, weights and initialisation). Only the graph
construction is replaced: PyG's forwards build the graph internally with ``radius_graph``
(needs pyg-lib/torch-cluster) and DimeNet's triplet search (needs torch-sparse), neither of which
is installable here. These wrappers instead read the project's neighbour graph (``edge_index``,
differentiable ``edge_vec`` r_j - r_i in Å, periodic images included through the cell shifts) and
build triplets with :mod:`mlip_bench.models.triplets`.

Both return per-atom energies (N,) in normalised units; the
:class:`~mlip_bench.models.potential.Potential` sums them, scales by the training force RMS,
adds per-species shifts and takes forces as -dE/dr through ``edge_vec``. PyG's own readout,
``mean``/``std``/``atomref`` and dipole options are not used (the Potential does that job).
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch_geometric.nn.models import DimeNetPlusPlus, SchNet

from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models.registry import Network, register_network
from mlip_bench.models.triplets import Triplets, build_triplets, triplet_angles

#: PyG SchNet embeds atomic numbers with ``Embedding(100, ...)``, DimeNet with ``Embedding(95, ...)``
_SCHNET_MAX_Z = 99
_DIMENET_MAX_Z = 94


def _positive_int(model: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{model}: hyperparameter {name!r} must be an integer >= {minimum}, got {value!r}")
    return value


def _check_numbers(model: str, z: torch.Tensor, max_z: int) -> None:
    if z.numel() and (int(z.max()) > max_z or int(z.min()) < 1):
        raise ModelError(f"{model} embeds atomic numbers 1..{max_z} only; got {int(z.min())}..{int(z.max())}")


def _memoise_dimenet_basis_forms() -> None:
    """Build DimeNet's symbolic Bessel basis once per process and size.

    PyG's ``SphericalBasisLayer`` derives its spherical Bessel functions with sympy on every
    construction (10-60 s on one CPU core for the published 7 x 6 basis). The forms depend only on
    (num_spherical, num_radial), so they are memoised in this process; the layer itself, and what
    it computes, is unchanged.
    """
    from torch_geometric.nn.models import dimenet_utils

    if not getattr(dimenet_utils.bessel_basis, "_mlip_bench_memoised", False):
        memoised = functools.lru_cache(maxsize=None)(dimenet_utils.bessel_basis)
        memoised._mlip_bench_memoised = True  # type: ignore[attr-defined]
        dimenet_utils.bessel_basis = memoised


def _no_internal_graph(*_: Any) -> Any:
    """Stands in for PyG's radius graph: the project's neighbour list must be used instead."""
    raise ModelError("the PyG radius graph is not used; call the mlip-bench wrapper's forward")


@register_network("schnet")
class SchNetNetwork(Network):
    """torch-geometric SchNet (Schütt et al. 2018) on the project's neighbour graph.

    Hyperparameters: ``hidden_channels`` (atom features), ``num_filters`` (continuous-filter
    width), ``num_interactions``, ``num_gaussians`` (Gaussians spread evenly over 0..r_max Å).
    The cutoff of the cosine filter envelope is ``r_max`` (Å). Output: per-atom energy (N,).
    """

    def __init__(
        self,
        r_max: float,
        num_species: int,
        avg_num_neighbors: float,
        hidden_channels: int = 128,
        num_filters: int = 128,
        num_interactions: int = 6,
        num_gaussians: int = 50,
    ):
        super().__init__()
        for key, value in (
            ("hidden_channels", hidden_channels),
            ("num_filters", num_filters),
            ("num_interactions", num_interactions),
        ):
            _positive_int("schnet", key, value)
        _positive_int("schnet", "num_gaussians", num_gaussians, minimum=2)
        if hidden_channels < 2:
            raise ConfigError("schnet: hyperparameter 'hidden_channels' must be >= 2")
        self.r_max = float(r_max)
        self.model = SchNet(
            hidden_channels=hidden_channels,
            num_filters=num_filters,
            num_interactions=num_interactions,
            num_gaussians=num_gaussians,
            cutoff=self.r_max,
            interaction_graph=_no_internal_graph,
        )

    def forward(self, data: Any, edge_vec: torch.Tensor) -> torch.Tensor:
        m = self.model
        if not getattr(data, "numbers_checked", False):  # a compiled step checks before tracing
            _check_numbers("schnet", data.z, _SCHNET_MAX_Z)
        edge_weight = edge_vec.norm(dim=-1)
        edge_attr = m.distance_expansion(edge_weight)
        h = m.embedding(data.z)
        for interaction in m.interactions:
            h = h + interaction(h, data.edge_index, edge_weight, edge_attr)
        h = m.lin2(m.act(m.lin1(h)))
        return h.reshape(-1)


@register_network("dimenet++")
class DimeNetPlusPlusNetwork(Network):
    """torch-geometric DimeNet++ (Gasteiger et al. 2020) on the project's neighbour graph.

    Hyperparameters as in ``DimeNetPlusPlus``: ``hidden_channels``, ``out_emb_channels``,
    ``int_emb_size``, ``basis_emb_size``, ``num_blocks``, ``num_spherical``, ``num_radial``,
    ``envelope_exponent``, ``num_before_skip``, ``num_after_skip``, ``num_output_layers``,
    ``act`` and ``output_initializer`` ("zeros" as published, or "glorot_orthogonal").
    Cutoff = ``r_max`` (Å). Triplets k->j->i come from the neighbour graph, periodic images
    included. Output: per-atom energy (N,), the sum of all output blocks.
    """

    def __init__(
        self,
        r_max: float,
        num_species: int,
        avg_num_neighbors: float,
        hidden_channels: int = 128,
        out_emb_channels: int = 256,
        int_emb_size: int = 64,
        basis_emb_size: int = 8,
        num_blocks: int = 4,
        num_spherical: int = 7,
        num_radial: int = 6,
        envelope_exponent: int = 5,
        num_before_skip: int = 1,
        num_after_skip: int = 2,
        num_output_layers: int = 3,
        act: str = "swish",
        output_initializer: str = "zeros",
    ):
        super().__init__()
        for key, value in (
            ("hidden_channels", hidden_channels),
            ("out_emb_channels", out_emb_channels),
            ("int_emb_size", int_emb_size),
            ("basis_emb_size", basis_emb_size),
            ("num_blocks", num_blocks),
            ("num_radial", num_radial),
            ("envelope_exponent", envelope_exponent),
        ):
            _positive_int("dimenet++", key, value)
        _positive_int("dimenet++", "num_spherical", num_spherical, minimum=2)
        for key, value in (
            ("num_before_skip", num_before_skip),
            ("num_after_skip", num_after_skip),
            ("num_output_layers", num_output_layers),
        ):
            _positive_int("dimenet++", key, value, minimum=0)
        if num_radial > 64:
            raise ConfigError("dimenet++: hyperparameter 'num_radial' must be <= 64")
        if output_initializer not in ("zeros", "glorot_orthogonal"):
            raise ConfigError(
                f"dimenet++: 'output_initializer' must be 'zeros' or 'glorot_orthogonal', got {output_initializer!r}"
            )
        self.r_max = float(r_max)
        _memoise_dimenet_basis_forms()
        try:
            self.model = DimeNetPlusPlus(
                hidden_channels=hidden_channels,
                out_channels=1,
                num_blocks=num_blocks,
                int_emb_size=int_emb_size,
                basis_emb_size=basis_emb_size,
                out_emb_channels=out_emb_channels,
                num_spherical=num_spherical,
                num_radial=num_radial,
                cutoff=self.r_max,
                envelope_exponent=envelope_exponent,
                num_before_skip=num_before_skip,
                num_after_skip=num_after_skip,
                num_output_layers=num_output_layers,
                act=act,
                output_initializer=output_initializer,
            )
        except ValueError as err:  # unknown activation name
            raise ConfigError(f"dimenet++: bad hyperparameter ({err})") from None

    def graph_indices(self, data: Any) -> dict[str, torch.Tensor]:
        """The triplets k -> j -> i as edge-index pairs ``idx_kj``, ``idx_ji`` (T,)."""
        triplets = build_triplets(data.edge_index, data.z.numel(), getattr(data, "cell_shift", None))
        return {"idx_kj": triplets.idx_kj, "idx_ji": triplets.idx_ji}

    def forward(self, data: Any, edge_vec: torch.Tensor) -> torch.Tensor:
        m = self.model
        if not getattr(data, "numbers_checked", False):  # a compiled step checks before tracing
            _check_numbers("dimenet++", data.z, _DIMENET_MAX_Z)
        num_nodes = data.z.numel()
        src, dst = data.edge_index  # j -> i
        if getattr(data, "idx_kj", None) is not None:  # given by a compiled step (graph_indices)
            triplets = Triplets(data.idx_kj, data.idx_ji)
        else:
            triplets = Triplets(**self.graph_indices(data))
        dist = edge_vec.norm(dim=-1)
        angle = triplet_angles(edge_vec, triplets)
        rbf = m.rbf(dist)
        sbf = m.sbf(dist, angle, triplets.idx_kj)
        # edge messages m_ji; PyG orders the concatenation (x_i, x_j, rbf) with i the target
        x = m.emb(data.z, rbf, dst, src)
        energy = m.output_blocks[0](x, rbf, dst, num_nodes=num_nodes)
        for interaction, output in zip(m.interaction_blocks, m.output_blocks[1:]):
            x = interaction(x, rbf, sbf, triplets.idx_kj, triplets.idx_ji)
            energy = energy + output(x, rbf, dst, num_nodes=num_nodes)
        return energy.reshape(-1)


__all__ = ["DimeNetPlusPlusNetwork", "SchNetNetwork"]
