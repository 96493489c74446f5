"""Models: a registry of per-atom networks wrapped into energy + force potentials."""

from mlip_bench.models.loading import load_potential, potential_from_payload
from mlip_bench.models.potential import DatasetStatistics, Potential
from mlip_bench.models.registry import (
    ModelConfig,
    Network,
    available_models,
    build_potential,
    load_model_config,
    register_network,
)

__all__ = [
    "DatasetStatistics",
    "ModelConfig",
    "Network",
    "Potential",
    "available_models",
    "build_potential",
    "load_model_config",
    "load_potential",
    "potential_from_payload",
    "register_network",
]
