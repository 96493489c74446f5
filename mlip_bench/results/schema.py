"""`RunRecord`: what one training run measured, as validated, schema-versioned data.

Units are in the field names: ``*_mev`` per molecule/structure, ``*_mev_per_atom``,
``*_mev_per_a`` per force component (meV/Å).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 3
#: schema versions this code reads (version 1 records have no convergence or validation history;
#: versions 1 and 2 also keep a copy of n_train in ``split``, dropped when they are read)
READABLE_SCHEMA_VERSIONS = (1, 2, 3)


class TestMetrics(BaseModel):
    """Errors on one evaluation set (test frames, EMA weights)."""

    model_config = ConfigDict(extra="forbid")

    n_frames: int
    energy_mae_mev: float
    energy_rmse_mev: float
    energy_mae_mev_per_atom: float
    energy_rmse_mev_per_atom: float
    force_mae_mev_per_a: float
    force_rmse_mev_per_a: float
    #: per-element force MAE (meV/Å), keyed by chemical symbol
    force_mae_mev_per_a_by_element: dict[str, float] = Field(default_factory=dict)


class DatasetRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str  # variant name, e.g. "md17/aspirin"
    store_sha256: str
    provenance: str = ""  # "download" | "imported" | "imported-subset" | "embedded"
    level_of_theory: str = ""


class SplitRef(BaseModel):
    """The split a run drew its frames from (its training-set size is the record's ``n_train``)."""

    model_config = ConfigDict(extra="forbid")

    name: str  # e.g. "default" or "rmd17-official-1"
    #: hash of the whole split (every index list, the store hash)
    sha256: str
    seed: int
    n_val: int
    n_test: int
    #: hash of exactly the frames this run drew on: its training set (the first n_train frames of
    #: the pool), the split's validation and test frames and the store hash
    #: (``data.splits.Split.subset_sha256``); None in records before schema version 3
    subset_sha256: str | None = None


class Timings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train_seconds: float
    eval_seconds: float = 0.0
    steps: int
    epochs: int
    seconds_per_step: float = 0.0
    #: how the training steps ran: "eager", "compiled" (one Inductor graph for loss and gradient)
    #: or "eager (why compiling was not possible)"; a run resumed in another mode: "eager, then compiled"
    train_step: str = "eager"


class Environment(BaseModel):
    model_config = ConfigDict(extra="allow")

    hostname: str = ""
    platform: str = ""
    cpu: str = ""
    gpu: str = ""
    device: str = "cpu"
    threads: int = 0
    python: str = ""
    packages: dict[str, str] = Field(default_factory=dict)
    git_commit: str = ""
    git_dirty: bool = False


class Convergence(BaseModel):
    """Whether training converged, and by which rule (see docs/protocols.md, "Convergence").

    ``converged`` is True only when a plateau rule ended the run: the learning rate fell below
    its floor after repeated plateaus (``rule="lr-floor"``) or the validation loss did not improve
    for the protocol's patience (``rule="no-validation-gain"``). A run ended by a step, epoch or
    wall-time budget is "still improving" (``rule="budget"``) unless a budget check (the same
    cell at twice the budget changed the test force MAE by less than 5 %) certified it
    (``rule="budget-check"``).
    """

    model_config = ConfigDict(extra="forbid")

    converged: bool
    rule: Literal["lr-floor", "no-validation-gain", "budget-check", "budget", "unknown"]
    detail: str = ""
    best_epoch: int = 0
    epochs: int = 0


class ValidationHistory(BaseModel):
    """Per-validation history of a run, as columns (compact): optimiser step, epoch, learning
    rate, validation loss (normalised), energy MAE (meV per structure), force MAE (meV/Å)."""

    model_config = ConfigDict(extra="forbid")

    step: list[int] = Field(default_factory=list)
    epoch: list[int] = Field(default_factory=list)
    lr: list[float] = Field(default_factory=list)
    val_loss: list[float] = Field(default_factory=list)
    val_energy_mae_mev: list[float] = Field(default_factory=list)
    val_force_mae_mev_per_a: list[float] = Field(default_factory=list)

    @classmethod
    def from_rows(cls, rows: list[dict[str, float]]) -> "ValidationHistory":
        """Columns from the trainer's per-validation rows, rounded to 5 significant digits."""

        def sig(x: float) -> float:
            return float(f"{float(x):.5g}")

        return cls(
            step=[int(r["step"]) for r in rows],
            epoch=[int(r["epoch"]) for r in rows],
            lr=[sig(r["lr"]) for r in rows],
            val_loss=[sig(r["val_loss"]) for r in rows],
            val_energy_mae_mev=[sig(r["val_energy_mae_mev"]) for r in rows],
            val_force_mae_mev_per_a=[sig(r["val_force_mae_mev_per_a"]) for r in rows],
        )


class RunRecord(BaseModel):
    """One run: model x dataset x split x n_train x seed x protocol."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    schema_version: Literal[1, 2, 3] = SCHEMA_VERSION
    run_id: str
    status: Literal["complete", "failed"] = "complete"
    error: str = ""
    created: str  # ISO 8601 UTC
    model: str  # variant name, e.g. "nequip-l1"
    model_family: str  # registered network, e.g. "nequip"
    model_config_full: dict[str, Any]
    l_max: int | None = None
    n_parameters: int = 0
    dataset: DatasetRef
    split: SplitRef
    n_train: int
    seed: int
    protocol: str
    protocol_config: dict[str, Any] = Field(default_factory=dict)
    #: evaluation sets by name; "test" is always there for a complete run
    metrics: dict[str, TestMetrics] = Field(default_factory=dict)
    timings: Timings | None = None
    environment: Environment = Field(default_factory=Environment)
    command: str = ""
    #: small per-run artefacts for the leaderboard (parity-plot samples): lists of floats
    parity: dict[str, list[float]] = Field(default_factory=dict)
    notes: str = ""
    #: parameters that reach the output (parity-masked zeros of dense matrices not counted)
    n_parameters_effective: int | None = None
    #: None for records written before convergence was recorded (schema version 1)
    convergence: Convergence | None = None
    validation_history: ValidationHistory | None = None

    @model_validator(mode="before")
    @classmethod
    def _n_train_in_one_place(cls, data: Any) -> Any:
        """Versions 1 and 2 kept a second copy of ``n_train`` in ``split``: it is dropped on reading
        (it must agree with ``n_train``); the record keeps the version it was written with. (Data
        without a version that has the copy are taken as old too.)"""
        if not isinstance(data, dict) or data.get("schema_version") not in (1, 2, None):
            return data
        split = data.get("split")
        if not isinstance(split, dict) or "n_train" not in split:
            return data
        split = dict(split)
        copy = split.pop("n_train")
        if "n_train" in data and copy != data["n_train"]:
            raise ValueError(f"split.n_train {copy} differs from n_train {data['n_train']}")
        return {**data, "split": split}

    @property
    def certified(self) -> bool:
        """True when the run is certified converged (see :class:`Convergence`)."""
        return self.convergence is not None and self.convergence.converged
