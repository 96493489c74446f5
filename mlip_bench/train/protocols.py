"""Training protocols: the paper's recipe (`paper`) and reduced presets (`cpu`, `demo`, `smoke`, ...).

A :class:`Protocol` holds every knob of a training run: loss weights, optimiser, schedule, EMA,
stopping rules and budgets. Protocols are YAML files: the presets ship as package data in
``mlip_bench/configs/protocols/<name>.yaml``, and a user file is accepted by path wherever a
preset name is (named by its stem). A protocol is resolved for a dataset kind ("molecule" or
"periodic") because the paper uses different loss weights, learning rates and batch sizes for
each (FACTS.md section 4; a file's ``by_kind``). See docs/protocols.md for which knobs the reduced
presets change and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlip_bench.config_files import load_yaml_model
from mlip_bench.errors import ConfigError, describe_validation_error
from mlip_bench.paths import PROTOCOLS_DIR, is_protocol_path, protocol_name, protocol_path

DatasetKind = Literal["molecule", "periodic"]

#: fields that only bound how long a run trains (under the plateau schedule no step depends on them)
BUDGET_FIELDS = frozenset({"max_steps", "steps_by_n_train", "max_epochs", "max_wall_seconds"})

#: special value of ``force_weight``: (mean number of atoms per training structure) squared
N_ATOMS_SQUARED = "n_atoms_squared"


class Protocol(BaseModel):
    """Every knob of one training run. Epoch-based knobs count passes over the training set."""

    model_config = ConfigDict(extra="forbid")

    name: str
    dataset_kind: DatasetKind = "molecule"
    # -- loss (on targets divided by the training force RMS, eV/Å) --------------------------------
    energy_weight: float = Field(1.0, ge=0)
    #: a number, or "n_atoms_squared" (the paper's choice for periodic systems)
    force_weight: float | Literal["n_atoms_squared"] = 1000.0
    # -- optimiser: Adam -------------------------------------------------------------------------
    learning_rate: float = Field(0.01, gt=0)
    #: learning rate by registered network (the baselines' own published settings); others use
    #: ``learning_rate``. Everything else in the recipe is the same for every model.
    learning_rate_by_model: dict[str, float] = Field(default_factory=dict)
    amsgrad: bool = True
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    batch_size: int = Field(5, ge=1)
    # -- learning-rate schedule --------------------------------------------------------------------
    #: "plateau": ReduceLROnPlateau on the validation loss (the paper); "cosine": linear warm-up
    #: over ``warmup_steps``, then cosine decay to zero at the step budget (needs a step budget)
    lr_schedule: Literal["plateau", "cosine"] = "plateau"
    warmup_steps: int = Field(0, ge=0)
    # -- ReduceLROnPlateau on the validation loss, stepped once per validation -------------------
    scheduler_factor: float = Field(0.8, gt=0, lt=1)
    scheduler_patience: int = Field(50, ge=0)
    #: when set, patience = max(scheduler_patience, fraction x budgeted epochs)
    scheduler_patience_fraction: float | None = None
    # -- EMA of the weights (evaluation and model selection use the EMA weights) -----------------
    ema_decay: float = Field(0.99, ge=0, lt=1)
    ema_use_num_updates: bool = True
    # -- validation cadence ----------------------------------------------------------------------
    #: validate at the end of the first epoch that completes at least this many optimiser steps
    #: since the last validation (None: every epoch). Scheduler and early-stopping patience count
    #: validations, so a patience means about the same number of steps at every training size.
    validate_every_steps: int | None = Field(None, ge=1)
    # -- stopping --------------------------------------------------------------------------------
    #: validations without a new best validation loss before the run stops (the plateau rule)
    early_stopping_patience: int = Field(1000, ge=1)
    min_learning_rate: float = 1e-6
    #: when set, the learning-rate floor is this fraction of the run's starting learning rate
    #: (so every model, whatever its own learning rate, must go through the same number of
    #: plateau reductions); otherwise ``min_learning_rate``
    min_learning_rate_factor: float | None = Field(None, gt=0, lt=1)
    max_epochs: int = Field(1_000_000, ge=1)
    max_steps: int | None = Field(None, ge=1)
    #: optimiser steps by training-set size; sizes in between are interpolated linearly,
    #: sizes outside the table take the nearest end. Overrides ``max_steps`` when set.
    steps_by_n_train: dict[int, int] | None = None
    max_wall_seconds: float | None = Field(None, gt=0)
    #: stop when a training loss is non-finite or exceeds this factor x the first epoch's mean
    explode_factor: float = Field(1e4, gt=1)
    # -- evaluation ------------------------------------------------------------------------------
    #: evaluate on at most this many test frames (the first ones of the split's shuffled test list)
    max_test_frames: int | None = Field(None, ge=1)
    #: validate on at most this many validation frames
    max_val_frames: int | None = Field(None, ge=1)
    eval_batch_size: int = Field(16, ge=1)
    description: str = ""

    @model_validator(mode="after")
    def _cosine_needs_budget(self) -> "Protocol":
        if self.lr_schedule == "cosine" and self.max_steps is None and not self.steps_by_n_train:
            raise ValueError("lr_schedule 'cosine' needs a step budget (max_steps or steps_by_n_train)")
        return self

    def differs_only_in_budget(self, other: dict[str, Any]) -> bool:
        """True when ``other`` (a protocol as dumped in a record or checkpoint) is this protocol with
        other budgets only, and the schedule does not depend on the budget (``plateau``): a run of
        ``other`` that ended on its budget is then the first part of a run of this protocol."""
        try:
            theirs = Protocol.model_validate(other)
        except ValidationError:
            return False
        if self.lr_schedule != "plateau" or theirs.lr_schedule != "plateau":
            return False
        ignore = BUDGET_FIELDS | {"description"}
        return theirs.model_dump(exclude=ignore) == self.model_dump(exclude=ignore)

    def continues(self, other: dict[str, Any], n_train: int, steps: int, epochs: int, seconds: float) -> bool:
        """Whether a run of ``other`` that its budget stopped after ``steps``/``epochs``/``seconds``
        would go on training under this protocol (a raised cap)."""
        if not self.differs_only_in_budget(other):
            return False
        budget = self.step_budget(n_train)
        return (
            (budget is None or steps < budget)
            and epochs < self.max_epochs
            and (self.max_wall_seconds is None or seconds < self.max_wall_seconds)
        )

    def step_budget(self, n_train: int) -> int | None:
        """Optimiser-step budget for a training set of ``n_train`` frames (None = unbounded)."""
        if self.steps_by_n_train:
            sizes = sorted(self.steps_by_n_train)
            steps = [self.steps_by_n_train[s] for s in sizes]
            return int(round(float(np.interp(n_train, sizes, steps))))
        return self.max_steps

    def epochs_per_budget(self, n_train: int) -> int | None:
        """Epochs the step budget allows for ``n_train`` frames (None when unbounded)."""
        steps = self.step_budget(n_train)
        if steps is None:
            return None
        steps_per_epoch = max(1, -(-n_train // self.batch_size))
        return max(1, -(-steps // steps_per_epoch))

    def patience_for(self, n_train: int) -> int:
        """ReduceLROnPlateau patience in epochs for ``n_train`` frames."""
        epochs = self.epochs_per_budget(n_train)
        if self.scheduler_patience_fraction is None or epochs is None:
            return self.scheduler_patience
        return max(1, int(round(self.scheduler_patience_fraction * epochs)))

    def learning_rate_floor(self, start_learning_rate: float) -> float:
        """The learning rate below which the run stops (the "LR floor" convergence rule)."""
        if self.min_learning_rate_factor is not None:
            return float(self.min_learning_rate_factor) * float(start_learning_rate)
        return float(self.min_learning_rate)

    def learning_rate_for(self, network: str) -> float:
        """Adam learning rate for the registered network ``network`` (e.g. "schnet")."""
        return float(self.learning_rate_by_model.get(network, self.learning_rate))

    def resolved_force_weight(self, mean_atoms: float) -> float:
        """λ_F as a number: ``force_weight`` or (mean atoms per structure)²."""
        if self.force_weight == N_ATOMS_SQUARED:
            return float(mean_atoms) ** 2
        return float(self.force_weight)


class ProtocolFile(BaseModel):
    """A protocol YAML file: ``Protocol`` fields, an optional ``extends: OTHER`` (a preset name or
    a path) to start from, and ``by_kind: {molecule: {...}, periodic: {...}}`` for the values that
    differ by dataset kind. The protocol's name is the file's stem; its kind comes from the dataset."""

    model_config = ConfigDict(extra="allow")

    extends: str | None = None
    by_kind: dict[DatasetKind, dict[str, Any]] = Field(default_factory=dict)

    def misplaced_key(self) -> tuple[str, str] | None:
        """(key, why) for the first key that is not a protocol setting, else None."""
        allowed = set(Protocol.model_fields) - {"name", "dataset_kind"}
        places = [("", self.model_extra or {})] + [(f"by_kind.{k}.", v) for k, v in self.by_kind.items()]
        for prefix, values in places:
            for key in values:
                if key in ("name", "dataset_kind"):
                    return prefix + key, "set by the file's name and the dataset, not in the file"
                if key not in allowed:
                    return prefix + key, "unknown protocol field (check its spelling)"
        return None

    def fields_for(self, kind: DatasetKind) -> dict[str, Any]:
        """The file's own settings for ``kind`` (its ``by_kind`` entry last)."""
        return {**(self.model_extra or {}), **self.by_kind.get(kind, {})}


def available_protocols() -> list[str]:
    """Names of the protocol presets (``mlip_bench/configs/protocols/<name>.yaml``)."""
    return sorted(p.stem for p in PROTOCOLS_DIR.glob("*.yaml"))


def _protocol_file(name_or_path: str | Path) -> Path:
    """The file of a preset name or a protocol path (``ConfigError`` for an unknown preset, or a
    file named like a preset: its runs would share the preset's run ids)."""
    if not is_protocol_path(name_or_path):
        path = protocol_path(str(name_or_path))
        if not path.is_file():
            raise ConfigError(
                f"unknown protocol {str(name_or_path)!r}; choose one of: {', '.join(available_protocols())}"
                " (or give a protocol YAML file)"
            )
        return path
    path = Path(name_or_path)
    if path.stem in available_protocols() and path.resolve() != protocol_path(path.stem).resolve():
        raise ConfigError(
            f"protocol file {path} is named like the preset {path.stem!r}: rename it (a run is named "
            "by its protocol, so its runs would share the preset's run ids)"
        )
    return path


def _protocol_values(path: Path, kind: DatasetKind, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The settings of the protocol file ``path`` for ``kind``, its ``extends`` chain applied
    (a ``description`` is the file's own: it is not inherited)."""
    if path.resolve() in chain:
        raise ConfigError(f"{path}: 'extends' chain loops back to itself")
    spec = load_yaml_model(path, ProtocolFile, "protocol file")
    misplaced = spec.misplaced_key()
    if misplaced is not None:
        raise ConfigError(f"{path}: field {misplaced[0]!r}: {misplaced[1]}")
    values: dict[str, Any] = {}
    if spec.extends is not None:
        values = _protocol_values(_protocol_file(spec.extends), kind, (*chain, path.resolve()))
        values.pop("description", None)
    values.update(spec.fields_for(kind))
    return values


def load_protocol(name: str | Path, dataset_kind: DatasetKind = "molecule", **overrides: Any) -> Protocol:
    """The protocol ``name`` (a preset, or a path to a protocol YAML file, named by its stem) for
    ``dataset_kind``, with ``overrides`` applied (``ConfigError`` if bad)."""
    path = _protocol_file(name)
    if dataset_kind not in ("molecule", "periodic"):
        raise ConfigError(f"unknown dataset kind {dataset_kind!r}; use 'molecule' or 'periodic'")
    label = protocol_name(name)
    values: dict[str, Any] = {"name": label, "dataset_kind": dataset_kind}
    values.update(_protocol_values(path, dataset_kind))
    values.update(overrides)
    try:
        return Protocol.model_validate(values)
    except ValidationError as err:
        where = f" ({path})" if is_protocol_path(name) else ""
        raise ConfigError(f"protocol {label!r}{where}: {describe_validation_error(err)}") from None
