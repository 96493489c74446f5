"""Potentials back from files: a checkpoint payload or a ``.pt`` file -> :class:`Potential`.

This sits above both :mod:`~mlip_bench.models.potential` (the wrapper, which knows nothing of
configs) and :mod:`~mlip_bench.models.registry` (configs and networks, which builds potentials),
so neither of them imports the other back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mlip_bench.errors import ModelError
from mlip_bench.models.potential import DatasetStatistics, Potential
from mlip_bench.models.registry import ModelConfig, build_potential


def potential_from_payload(payload: dict[str, Any]) -> Potential:
    """Rebuild the potential of :meth:`Potential.checkpoint_payload` (config, statistics, weights)."""
    config = ModelConfig.model_validate(payload["model_config"])
    potential = build_potential(config, DatasetStatistics(**payload["statistics"]))
    potential.load_state_dict(payload["state_dict"])
    return potential


def load_potential(path: str | Path, map_location: str = "cpu") -> Potential:
    """Load a potential from a checkpoint or exported model file (``.pt``)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist")
    payload = torch.load(path, map_location=map_location, weights_only=False)
    if "model" in payload and "model_config" not in payload:
        payload = payload["model"]
    return potential_from_payload(payload)
