"""Model registry: a network class per name, a YAML config per variant in
``mlip_bench/configs/models/`` (:data:`mlip_bench.paths.MODEL_CONFIGS_DIR`).

Adding a model is one class decorated with :func:`register_network` and one YAML file::

    name: nequip-l1            # the variant name users type
    model: nequip              # the registered network
    r_max: 4.0                 # cutoff, Å
    dtype: float32
    hyperparameters: {l_max: 1, num_layers: 4, num_features: 32}
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

from mlip_bench.config_files import read_yaml_mapping, validate_config
from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models.potential import DatasetStatistics, Potential
from mlip_bench.paths import MODEL_CONFIGS_DIR as BASELINES_DIR

__all__ = [
    "BASELINES_DIR",
    "DatasetStatistics",
    "ModelConfig",
    "Network",
    "available_models",
    "build_potential",
    "load_model_config",
    "network_class",
    "register_network",
]

#: modules imported on first registry lookup so their networks register themselves
_NETWORK_MODULES = (
    "mlip_bench.models.nequip",
    "mlip_bench.models.pyg_models",
    "mlip_bench.models.schnetpack_models",
)

_REGISTRY: dict[str, type["Network"]] = {}


class Network(torch.nn.Module):
    """A per-atom network. Subclasses set ``name`` and implement :meth:`forward`.

    Constructor: ``__init__(self, r_max: float, num_species: int, avg_num_neighbors: float,
    **hyperparameters)``. ``forward(data, edge_vec)`` returns per-atom energies (N,) in the
    network's own normalised units (the :class:`~mlip_bench.models.potential.Potential` multiplies
    by the training force RMS and adds per-species shifts). ``data`` is a ``Batch`` with
    ``species`` (N,) contiguous species indices, ``z`` atomic numbers, ``edge_index`` (2, E) with
    row 0 = neighbour j and row 1 = centre i, ``batch`` (N,), ``num_graphs``; ``edge_vec`` (E, 3)
    is r_j - r_i in Å, differentiable with respect to positions.
    """

    name: ClassVar[str] = ""

    def forward(self, data: Any, edge_vec: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def graph_indices(self, data: Any) -> dict[str, torch.Tensor]:
        """Index tensors this network derives from the graph alone, never from positions (e.g.
        DimeNet++'s triplets). A compiled training step computes them outside its traced graph
        and sets them on ``data`` under these names, so :meth:`forward` must use them when
        present; their sizes may depend on the data, which a trace cannot follow. Default: none."""
        return {}


def register_network(name: str):
    """Class decorator: make a :class:`Network` available under ``name``."""

    def decorate(cls: type[Network]) -> type[Network]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def _load_network_modules() -> None:
    for module in _NETWORK_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:  # optional backends (schnetpack) may be absent
            if err.name and err.name.startswith("mlip_bench"):
                continue
            continue


def registered_networks() -> list[str]:
    """Names of every registered network (mlip-bench's own, and any a user or test registered)."""
    _load_network_modules()
    return sorted(_REGISTRY)


def network_class(model: str) -> type[Network]:
    """The registered network class for ``model`` (``ModelError`` listing valid names if unknown)."""
    _load_network_modules()
    try:
        return _REGISTRY[model]
    except KeyError:
        raise ModelError(
            f"unknown model {model!r}; registered networks: {', '.join(sorted(_REGISTRY)) or 'none'}"
        ) from None


class ModelConfig(BaseModel):
    """A model variant: which network, its cutoff (Å), dtype and hyperparameters."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    name: str
    model: str
    #: at most 30 Å: a larger cutoff makes every atom a neighbour of every other (r_max 1e6
    #: would hang in the neighbour list of a periodic cell)
    r_max: float = Field(gt=0, le=30.0, description="cutoff radius, Å (0 < r_max <= 30)")
    dtype: Literal["float32", "float64"] = "float32"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    reference: str = ""

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def available_models() -> list[str]:
    """Names of the model variants that have a YAML config in ``mlip_bench/configs/models/``."""
    return sorted(p.stem for p in BASELINES_DIR.glob("*.yaml"))


def _read_config(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The YAML mapping at ``path``; ``extends: OTHER`` starts from the packaged ``OTHER.yaml``
    (its keys, hyperparameters merged) so an alias or a small variant is a few lines."""
    if path in seen:
        raise ConfigError(f"{path}: 'extends' chain loops back to itself")
    raw = read_yaml_mapping(path, "model config", " (name, model, r_max, hyperparameters, ...)")
    if not isinstance(raw.get("hyperparameters") or {}, dict):
        raise ConfigError(
            f"{path}: 'hyperparameters' must be a mapping (key: value), not a {type(raw['hyperparameters']).__name__}"
        )
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    parent_path = BASELINES_DIR / f"{parent}.yaml"
    if not parent_path.is_file():
        raise ConfigError(f"{path}: extends unknown model {parent!r}; available: {', '.join(available_models())}")
    base = _read_config(parent_path, seen + (path,))
    hyper = {**(base.get("hyperparameters") or {}), **(raw.pop("hyperparameters", None) or {})}
    return {**base, **raw, "hyperparameters": hyper}


def load_model_config(name_or_path: str | Path, **overrides: Any) -> ModelConfig:
    """Load a variant by name (``mlip_bench/configs/models/<name>.yaml``) or from a YAML path.

    ``overrides`` replace top-level keys; a ``hyperparameters`` override is merged.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = BASELINES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ModelError(f"unknown model {str(name_or_path)!r}; available: {', '.join(available_models())}")
    raw = _read_config(path)
    hyper = dict(raw.get("hyperparameters") or {})
    hyper.update(overrides.pop("hyperparameters", None) or {})
    raw.update(overrides)
    raw["hyperparameters"] = hyper
    return validate_config(raw, ModelConfig, path)


def build_potential(config: ModelConfig, statistics: DatasetStatistics) -> Potential:
    """Build the network named by ``config`` and wrap it in a :class:`Potential`."""
    cls = network_class(config.model)
    try:
        network = cls(
            r_max=config.r_max,
            num_species=len(statistics.species),
            avg_num_neighbors=statistics.avg_num_neighbors,
            **config.hyperparameters,
        )
    except TypeError as err:
        raise ConfigError(f"model {config.name!r}: bad hyperparameters ({err})") from None
    return Potential(network, config, statistics).to(config.torch_dtype)
