"""`MDRecord`: what one MD benchmark of a trained model measured (stability, observables,
speed), as validated, schema-versioned data linked to the run record of the model it used.

Units are in the field names: ``*_ps`` picoseconds, ``*_fs`` femtoseconds, ``*_k`` kelvin,
``*_a`` Å, ``*_cm2_per_s`` cm²/s, ``*_mev_per_atom_per_ps`` meV per atom per ps.
Definitions of stability and observables: docs/md.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlip_bench.results.schema import Environment

MD_SCHEMA_VERSION = 1


class RunLink(BaseModel):
    """The trained model an MD benchmark used and the run record describing it."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    run_id: str
    #: path of the run record, relative to the MD record's folder when both lie in one results folder
    #: (``../records/<run_id>.json``), else absolute; empty when the run had no record (metadata came
    #: from the checkpoint)
    record_path: str = ""
    #: sha256 of the run record file's bytes (empty without a record)
    record_sha256: str = ""
    #: path of the checkpoint, relative like ``record_path``
    checkpoint_path: str
    checkpoint_sha256: str
    model: str = ""
    dataset: str
    split: str = "default"
    split_sha256: str = ""
    n_train: int | None = None
    seed: int = 0
    protocol: str = ""
    test_force_mae_mev_per_a: float | None = None


class MDSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ensemble: Literal["nvt", "nve"]
    temperature_k: float
    timestep_fs: float
    steps: int  # per replica
    replicas: int
    seed: int
    #: Langevin friction (1/fs); None for NVE
    friction_per_fs: float | None = None
    sample_every: int
    #: where the starting frames came from, e.g. "md17/ethanol test split (seed 0)" or a file
    start_source: str
    dataset: str
    device: str = "cpu"


class ReplicaResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    #: store index of the starting frame (-1 for a structure file)
    start_frame: int
    steps_run: int
    simulated_ps: float
    failed: bool
    #: simulated time at the first failing step; None when the replica stayed stable
    time_to_failure_ps: float | None = None
    failure: str = ""
    mean_temperature_k: float | None = None
    #: NVE only: slope of a straight-line fit of total energy against time, per atom
    energy_drift_mev_per_atom_per_ps: float | None = None
    #: NVE only: largest |E_total(t) - E_total(0)| per atom
    max_energy_error_mev_per_atom: float | None = None
    n_samples: int = 0
    wall_seconds: float = 0.0


class Stability(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion: str
    kind: Literal["molecule", "periodic"]
    bond_tolerance_a: float | None = None
    min_distance_a: float | None = None
    #: periodic systems: each species pair's floor (Å), 0.75 x its shortest reference distance and at
    #: least ``min_distance_a``; None in records judged by the one global floor (before 2026-12-02)
    pair_floors_a: dict[str, float] | None = None
    n_replicas: int
    n_stable: int
    #: mean over replicas of the time to failure, a stable replica counting its full length (a lower bound)
    mean_time_to_failure_ps: float
    min_time_to_failure_ps: float
    #: simulated length of each replica if stable
    length_ps: float


class Curve(BaseModel):
    """A sampled function on a grid (for figures and re-analysis), rounded to 5 significant digits."""

    model_config = ConfigDict(extra="forbid")

    r_a: list[float] = Field(default_factory=list)
    md: list[float] = Field(default_factory=list)
    reference: list[float] = Field(default_factory=list)


class Observables(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["molecule", "periodic"]
    #: number of MD samples pooled (stable part of every replica)
    n_md_samples: int = 0
    #: reference frames the observables were compared with, and where they came from
    n_reference_frames: int = 0
    reference_source: str = ""
    #: molecules: ∫|h_MD - h_ref| dr (0..2)
    hr_mae: float | None = None
    #: the h(r) MAE between two disjoint random sets of reference frames, one as large as the MD
    #: sample (at most half the reference): the sampling noise of hr_mae for independent frames
    #: (a lower bound: MD samples are correlated in time)
    hr_mae_sampling_floor: float | None = None
    hr: Curve | None = None
    #: periodic: mean |g_MD - g_ref| per species pair ("Li-S") and their mean
    rdf_mae: dict[str, float] = Field(default_factory=dict)
    rdf_mae_mean: float | None = None
    rdf: dict[str, Curve] = Field(default_factory=dict)
    #: periodic: diffusivity (cm²/s) per species from the MD (e.g. {"Li": ...}), and from the
    #: reference frames when they form a continuous trajectory of known frame interval
    diffusivity_cm2_per_s: dict[str, float] = Field(default_factory=dict)
    reference_diffusivity_cm2_per_s: dict[str, float] = Field(default_factory=dict)
    #: whether the reference frames (store order) form one continuous trajectory
    reference_is_trajectory: bool | None = None
    #: figure files next to the record (names relative to the record's folder)
    figures: list[str] = Field(default_factory=list)
    #: observables that could not be computed, and why
    not_available: dict[str, str] = Field(default_factory=dict)


class Speed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps_per_second: float
    ns_per_day: float
    wall_seconds: float
    threads: int = 0
    #: "eager", "compiled", or "eager (why)" when compiled forces were asked for and refused
    force_evaluation: str = ""


class MDRecord(BaseModel):
    """One MD benchmark: a trained model x starting frames x ensemble x temperature x length."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = MD_SCHEMA_VERSION
    kind: Literal["md"] = "md"
    md_id: str
    status: Literal["complete", "failed"] = "complete"
    error: str = ""
    created: str
    run: RunLink
    settings: MDSettings
    system: dict[str, str | int] = Field(default_factory=dict)
    replicas: list[ReplicaResult] = Field(default_factory=list)
    stability: Stability | None = None
    observables: Observables | None = None
    speed: Speed | None = None
    environment: Environment = Field(default_factory=Environment)
    command: str = ""
    notes: str = ""
