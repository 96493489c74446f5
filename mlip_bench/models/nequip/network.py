"""The NequIP network (Batzner et al. 2022; paper-era nequip 0.3.x, FACTS §3) as a registered Network.

Pipeline: one-hot species -> linear chemical embedding (scalars) -> edge spherical harmonics
Y(r_ij) (normalised vectors, "component") and Bessel(r) x polynomial envelope -> ``num_layers``
ConvNetLayers -> linear to ``output_hidden_features`` x 0e -> linear to one scalar per atom
(no nonlinearity between the two output linears). The per-species scale/shift, the force-RMS
scale, E0 and the autograd forces live in :class:`~mlip_bench.models.potential.Potential`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch
from e3nn import o3

from mlip_bench.errors import ConfigError
from mlip_bench.models.nequip.bessel import BesselBasis
from mlip_bench.models.nequip.cutoff import PolynomialCutoff
from mlip_bench.models.nequip.interaction import AngularCoupling, RadialNetworks
from mlip_bench.models.nequip.layer import _ACTIVATIONS, ConvNetLayer
from mlip_bench.models.nequip.layout import EquivariantLinear, FeatureLayout
from mlip_bench.models.registry import Network, register_network

_DEFAULT_ACTS = {"e": "silu", "o": "tanh"}


def _int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ConfigError(f"nequip: {name} must be an integer {bound}, got {value!r}")
    return int(value)


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"nequip: {name} must be true or false, got {value!r}")
    return value


def _irreps(name: str, value: str) -> o3.Irreps:
    try:
        return o3.Irreps(value)
    except (ValueError, AssertionError, TypeError) as err:
        raise ConfigError(f"nequip: {name} {value!r} is not an e3nn irreps string like '32x0e+32x1o' ({err})") from None


def _acts(name: str, value: Any) -> tuple[str, str]:
    value = {**_DEFAULT_ACTS, **(value or {})}
    if set(value) != {"e", "o"} or any(v not in _ACTIVATIONS for v in value.values()):
        raise ConfigError(f"nequip: {name} must map 'e' and 'o' to one of {sorted(_ACTIVATIONS)}, got {value!r}")
    return value["e"], value["o"]


@register_network("nequip")
class NequIPNetwork(Network):
    """E(3)-equivariant NequIP network: ``forward(data, edge_vec) -> per-atom energies (N,)``.

    Hyperparameters (YAML ``hyperparameters:``), paper defaults in brackets:
    ``l_max`` (0..3) [1]; ``parity`` [true: O(3), both parities in hidden features and edge
    harmonics of parity (-1)^l; false: SO(3), all even]; ``num_layers`` [4]; ``num_features`` [32]
    per irrep, or ``feature_irreps_hidden`` (e.g. "64x0e+64x0o+64x1o+64x1e"); ``embedding_features``
    [num_features] scalars; ``num_basis`` [8] Bessel functions, ``trainable_bessel`` [true];
    ``polynomial_p`` [6]; ``invariant_layers`` [3] x ``invariant_neurons`` [64] radial MLP;
    ``neighbor_normalization`` ["auto": the training-set mean neighbour count the Potential's
    statistics pass in, or a number such as the paper's fixed 10 for aspirin]; ``resnet`` [false];
    ``use_sc`` [true]; ``output_hidden_features`` [16]; ``nonlinearity_scalars`` /
    ``nonlinearity_gates`` [{e: silu, o: tanh}].
    """

    def __init__(
        self,
        r_max: float,
        num_species: int,
        avg_num_neighbors: float = 1.0,
        l_max: int = 1,
        parity: bool = True,
        num_layers: int = 4,
        num_features: int = 32,
        feature_irreps_hidden: str | None = None,
        embedding_features: int | None = None,
        num_basis: int = 8,
        trainable_bessel: bool = True,
        polynomial_p: float = 6.0,
        invariant_layers: int = 3,
        invariant_neurons: int = 64,
        neighbor_normalization: str | float = "auto",
        resnet: bool = False,
        use_sc: bool = True,
        output_hidden_features: int = 16,
        nonlinearity_scalars: dict[str, str] | None = None,
        nonlinearity_gates: dict[str, str] | None = None,
        **unknown: Any,
    ):
        super().__init__()
        if unknown:
            raise ConfigError(
                f"nequip: unknown hyperparameters {sorted(unknown)}; see NequIPNetwork's docstring for valid names"
            )
        if not (isinstance(r_max, numbers.Real) and r_max > 0):
            raise ConfigError(f"nequip: r_max must be a positive length in Å, got {r_max!r}")
        self.r_max = float(r_max)
        self.num_species = _int("num_species", num_species, 1)
        self.l_max = _int("l_max", l_max, 0, 3)
        self.parity = _bool("parity", parity)
        self.num_layers = _int("num_layers", num_layers, 1)
        num_features = _int("num_features", num_features, 1)
        num_basis = _int("num_basis", num_basis, 1)
        invariant_layers = _int("invariant_layers", invariant_layers, 0)
        invariant_neurons = _int("invariant_neurons", invariant_neurons, 1)
        output_hidden = _int("output_hidden_features", output_hidden_features, 1)
        embedding = _int("embedding_features", num_features if embedding_features is None else embedding_features, 1)
        if not (isinstance(polynomial_p, numbers.Real) and not isinstance(polynomial_p, bool) and polynomial_p >= 2):
            raise ConfigError(f"nequip: polynomial_p must be a number >= 2, got {polynomial_p!r}")
        if neighbor_normalization == "auto":
            norm = float(avg_num_neighbors)
        elif (
            isinstance(neighbor_normalization, numbers.Real)
            and not isinstance(neighbor_normalization, bool)
            and neighbor_normalization > 0
        ):
            norm = float(neighbor_normalization)
        else:
            raise ConfigError(
                f"nequip: neighbor_normalization must be 'auto' or a positive number, got {neighbor_normalization!r}"
            )
        if not math.isfinite(norm) or norm <= 0:
            norm = 1.0  # e.g. isolated atoms in the statistics: no normalisation
        self.avg_num_neighbors = norm
        scalar_acts = _acts("nonlinearity_scalars", nonlinearity_scalars)
        gate_acts = _acts("nonlinearity_gates", nonlinearity_gates)

        # irreps
        self.sh_parity = {l: ((-1) ** l if self.parity else 1) for l in range(self.l_max + 1)}
        if feature_irreps_hidden is None:
            parities = (1, -1) if self.parity else (1,)
            hidden = FeatureLayout.from_segments(
                {l: [(p, num_features) for p in parities] for l in range(self.l_max + 1)}
            )
        else:
            irreps = _irreps("feature_irreps_hidden", feature_irreps_hidden)
            if any(ir.l > self.l_max for _, ir in irreps):
                raise ConfigError(f"nequip: feature_irreps_hidden {feature_irreps_hidden!r} has l > l_max={self.l_max}")
            if not any(ir.l == 0 and ir.p == 1 for _, ir in irreps):
                raise ConfigError("nequip: feature_irreps_hidden needs even scalars (0e) for the energy readout")
            hidden = FeatureLayout.from_irreps(irreps)
        self.layout_hidden = hidden

        self.embedding = torch.nn.Parameter(torch.randn(self.num_species, embedding))
        self.bessel = BesselBasis(self.r_max, num_basis, trainable=_bool("trainable_bessel", trainable_bessel))
        self.cutoff = PolynomialCutoff(self.r_max, float(polynomial_p))
        self.coupling = AngularCoupling(self.l_max, list(range(self.l_max + 1)), self.l_max)
        layout = FeatureLayout.from_segments({0: [(1, embedding)]})
        self.layouts = [layout]
        layers = []
        for _ in range(self.num_layers):
            layer = ConvNetLayer(
                layout,
                hidden,
                self.coupling,
                self.sh_parity,
                self.num_species,
                self.avg_num_neighbors,
                resnet=_bool("resnet", resnet),
                use_sc=_bool("use_sc", use_sc),
                scalar_activations=scalar_acts,
                gate_activations=gate_acts,
            )
            layers.append(layer)
            layout = layer.layout_out
            self.layouts.append(layout)
        self.layers = torch.nn.ModuleList(layers)
        self.radial = RadialNetworks(
            num_basis, [invariant_neurons] * invariant_layers, [layer.num_weights for layer in layers]
        )
        out_layout = FeatureLayout.from_segments({0: [(1, output_hidden)]})
        self.output_hidden = EquivariantLinear(layout, out_layout)
        self.output = EquivariantLinear(out_layout, FeatureLayout.from_segments({0: [(1, 1)]}))
        self.sh_ls = list(range(self.l_max + 1))

    def describe(self) -> str:
        """Irreps after each stage, e3nn notation."""
        return " -> ".join(str(layout) for layout in self.layouts)

    def forward(self, data: Any, edge_vec: torch.Tensor) -> torch.Tensor:
        species = data.species
        edge_src, edge_dst = data.edge_index[0], data.edge_index[1]
        length = torch.linalg.vector_norm(edge_vec, dim=-1)
        sh = o3.spherical_harmonics(self.sh_ls, edge_vec, normalize=True, normalization="component")
        radial_embedding = self.bessel(length) * self.cutoff(length).unsqueeze(-1)
        edge_weights = self.radial(radial_embedding)
        angular = self.coupling(sh)
        x = {0: (self.embedding / math.sqrt(self.num_species)).index_select(0, species).unsqueeze(1)}
        for layer, weights in zip(self.layers, edge_weights):
            x = layer(x, species, edge_src, edge_dst, angular, weights)
        energy = self.output(self.output_hidden(x))[0]
        return energy.reshape(-1)
