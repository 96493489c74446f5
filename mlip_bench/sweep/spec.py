"""Sweep files: models x datasets x n_train ladder x seeds x protocol, read from YAML.

Example (``sweeps/md17-aspirin-cpu.yaml``)::

    name: md17-aspirin-cpu
    models: [nequip-l0-cpu, nequip-l1-cpu, schnet]
    datasets: [md17/aspirin]
    n_train: 50..950          # the dataset card's ladder clipped to [50, 950]; or a list [50, 150]
    seeds: 0..2               # inclusive range, a list, or a count (3 means 0, 1, 2)
    protocol: cpu
    resources: {partition: gpu, time: "12:00:00", cpus: 4, gpus: 1, mem: 16G}
    cell_overrides:
      - match: {model: dimenet++}
        overrides: {max_wall_seconds: 7200}

An optional ``md:`` mapping (``temperature_k``, ``steps``, ``timestep_fs``, ``replicas``, ``seed``,
``ensemble``, ``friction_per_fs``, ``sample_every``) gives ``mlip-bench md --sweep`` its defaults;
it does not change the cells or their run ids.

A dataset entry may be a mapping ``{name: lips, n_train: [800], overrides: {...}}`` to give it its
own ladder. ``overrides`` (sweep-wide, per dataset, per matching cell; later ones win, nested
mappings are merged) are passed to the runner unchanged.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlip_bench.config_files import load_yaml_model, validate_config
from mlip_bench.data import ladder as ladders
from mlip_bench.data.ladder import parse_ladder
from mlip_bench.errors import ConfigError, DatasetError
from mlip_bench.sweep.cells import Cell

DEFAULT_RUNNER = "mlip_bench.train.harness:run_cell"

_SEED_RANGE = re.compile(r"^\s*(\d+)\s*\.\.\s*(\d+)\s*$")
_TIME = re.compile(r"^(?:(\d+)-)?(\d+):(\d{1,2})(?::(\d{1,2}))?$")
_MEM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)


class SlurmResources(BaseModel):
    """What one array task asks Slurm for (used by ``--executor slurm``)."""

    model_config = ConfigDict(extra="forbid")

    partition: str | None = None
    #: wall time per cell: "HH:MM:SS", "D-HH:MM:SS", "MM:SS" or minutes (int)
    time: str | int = "24:00:00"
    cpus: int = Field(1, ge=1)
    gpus: int = Field(0, ge=0)
    #: memory per task: "16G", "512M" or GB as a number
    mem: str | float = "8G"
    account: str | None = None
    qos: str | None = None
    #: at most this many array tasks run at once
    array_parallelism: int = Field(64, ge=1)
    #: shell lines run before each task (module load, venv activation)
    setup: list[str] = Field(default_factory=list)
    #: further sbatch options, e.g. {constraint: a100}
    additional: dict[str, str | int] = Field(default_factory=dict)

    @field_validator("time")
    @classmethod
    def _time_ok(cls, value: str | int) -> str | int:
        _ = _timeout_minutes(value)
        return value

    @field_validator("mem")
    @classmethod
    def _mem_ok(cls, value: str | float) -> str | float:
        _ = _mem_gb(value)
        return value

    @property
    def timeout_min(self) -> int:
        """Wall time per task in minutes."""
        return _timeout_minutes(self.time)

    @property
    def mem_gb(self) -> float:
        """Memory per task in GB."""
        return _mem_gb(self.mem)


def _timeout_minutes(value: str | int) -> int:
    if isinstance(value, bool):
        raise ValueError("time must be 'HH:MM:SS' or minutes")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("time must be at least 1 minute")
        return value
    match = _TIME.match(value.strip())
    if not match:
        raise ValueError(f"time {value!r} is not 'HH:MM:SS', 'D-HH:MM:SS' or minutes")
    days, a, b, c = match.groups()
    if c is None:  # MM:SS
        minutes = int(a) + (1 if int(b) else 0)
    else:  # HH:MM:SS
        minutes = int(a) * 60 + int(b) + (1 if int(c) else 0)
    minutes += int(days or 0) * 24 * 60
    if minutes < 1:
        raise ValueError("time must be at least 1 minute")
    return minutes


def _mem_gb(value: str | float) -> float:
    if isinstance(value, bool):
        raise ValueError("mem must look like '16G' or a number of GB")
    if isinstance(value, (int, float)):
        if value <= 0:
            raise ValueError("mem must be positive")
        return float(value)
    match = _MEM.match(value)
    if not match:
        raise ValueError(f"mem {value!r} must look like '16G', '512M' or a number of GB")
    number, unit = float(match.group(1)), match.group(2).upper()
    factor = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1.0, "T": 1024.0, "": 1.0}[unit]
    if number <= 0:
        raise ValueError("mem must be positive")
    return number * factor


class ModelEntry(BaseModel):
    """A model of the sweep: a model variant name (``mlip_bench/configs/models/<name>.yaml``),
    optionally with its own overrides.

    Two entries may share ``name`` when their overrides differ (e.g. the paper's 512x0e control
    of ``nequip-l0``); ``label`` tells them apart in ``cell_overrides`` and the progress table.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    label: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name


class DatasetEntry(BaseModel):
    """A dataset of the sweep, optionally with its own ladder and overrides."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    n_train: list[int] | str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)

    @field_validator("n_train", mode="before")
    @classmethod
    def _ladder(cls, value: Any) -> list[int] | str | None:
        return None if value is None else parse_ladder(value)


class CellMatch(BaseModel):
    """Which cells a per-cell override applies to (every given key must match; lists mean any-of)."""

    model_config = ConfigDict(extra="forbid")

    model: str | list[str] | None = None
    dataset: str | list[str] | None = None
    n_train: int | list[int] | None = None
    seed: int | list[int] | None = None

    def matches(self, model: str, dataset: str, n_train: int, seed: int) -> bool:
        for want, have in ((self.model, model), (self.dataset, dataset), (self.n_train, n_train), (self.seed, seed)):
            if want is None:
                continue
            if isinstance(want, list):
                if have not in want:
                    return False
            elif want != have:
                return False
        return True


class CellOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: CellMatch = Field(default_factory=CellMatch)
    overrides: dict[str, Any]


class MDDefaults(BaseModel):
    """A sweep file's ``md:`` block: the settings ``mlip-bench md --sweep FILE`` uses unless the
    command line gives them (keys as in ``MDSettingsInput``; a key left out takes the command's
    default). It never touches the cells: run ids and training are the same with or without it."""

    model_config = ConfigDict(extra="forbid")

    temperature_k: float | None = Field(None, gt=0, strict=True, allow_inf_nan=False)
    steps: int | None = Field(None, ge=1, strict=True)
    timestep_fs: float | None = Field(None, gt=0, strict=True, allow_inf_nan=False)
    replicas: int | None = Field(None, ge=1, strict=True)
    seed: int | None = Field(None, ge=0, strict=True)
    ensemble: Literal["nvt", "nve"] | None = None
    friction_per_fs: float | None = Field(None, ge=0, strict=True, allow_inf_nan=False)
    sample_every: int | None = Field(None, ge=1, strict=True)
    compile_forces: bool | None = Field(None, strict=True)  # how forces are evaluated, not what is run

    @field_validator("ensemble", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def given(self) -> dict[str, Any]:
        """The settings the block sets."""
        return self.model_dump(exclude_none=True)


class SweepSpec(BaseModel):
    """A sweep: the product of models, datasets, training-set sizes and seeds under one protocol."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    models: list[ModelEntry] = Field(min_length=1)
    datasets: list[DatasetEntry] = Field(min_length=1)
    #: default ladder for datasets that do not give their own
    n_train: list[int] | str | None = None
    seeds: list[int] = Field(default_factory=lambda: [0])
    protocol: str = Field("cpu", min_length=1)
    #: "module:function" called as run_cell(model, dataset, n_train, seed, protocol, out_dir, root, overrides)
    runner: str = DEFAULT_RUNNER
    #: torch threads per worker process (two 1-thread workers beat one 2-thread run on CPUs)
    threads_per_worker: int = Field(1, ge=1)
    #: train every cell with compiled steps (``--compile-step``; train/compiled_step.py)
    compile_step: bool = False
    #: default number of local worker processes (``--workers`` overrides)
    workers: int = Field(1, ge=1)
    #: default output directory (``--out`` overrides); relative paths are taken from the current directory
    out: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    cell_overrides: list[CellOverride] = Field(default_factory=list)
    resources: SlurmResources = Field(default_factory=SlurmResources)
    #: defaults of ``mlip-bench md --sweep`` (the command line overrides them); no effect on the cells
    md: MDDefaults | None = None

    @field_validator("models", mode="before")
    @classmethod
    def _model_entries(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[ModelEntry]) -> list[ModelEntry]:
        keys = [m.key for m in value]
        if len(set(keys)) != len(keys):
            raise ValueError(f"models {keys} contain duplicates; give repeated names distinct labels")
        return value

    @property
    def model_names(self) -> list[str]:
        """The distinct model variants the sweep uses."""
        return list(dict.fromkeys(m.name for m in self.models))

    @field_validator("datasets", mode="before")
    @classmethod
    def _datasets(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            value = [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("n_train", mode="before")
    @classmethod
    def _ladder(cls, value: Any) -> list[int] | str | None:
        return None if value is None else parse_ladder(value)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> list[int]:
        if isinstance(value, bool):
            raise ValueError("seeds must be a list, a count or 'A..B'")
        if isinstance(value, int):
            if value < 1:
                raise ValueError("a seed count must be at least 1")
            return list(range(value))
        if isinstance(value, str):
            match = _SEED_RANGE.match(value)
            if not match:
                raise ValueError(f"seeds {value!r} must be a list, a count or an inclusive range 'A..B'")
            lo, hi = int(match.group(1)), int(match.group(2))
            if lo > hi:
                raise ValueError(f"seed range {value!r} is empty")
            return list(range(lo, hi + 1))
        if isinstance(value, list):
            if not value:
                raise ValueError("seeds must not be empty")
            if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in value):
                raise ValueError(f"seeds {value} must be non-negative integers")
            if len(set(value)) != len(value):
                raise ValueError(f"seeds {value} contain duplicates")
        return value

    @field_validator("runner")
    @classmethod
    def _runner(cls, value: str) -> str:
        module, sep, func = value.partition(":")
        if not sep or not module or not func.isidentifier():
            raise ValueError(f"runner {value!r} must be 'package.module:function'")
        return value

    @model_validator(mode="after")
    def _every_dataset_has_a_ladder(self) -> "SweepSpec":
        names = [d.name for d in self.datasets]
        if len(set(names)) != len(names):
            raise ValueError(f"datasets {names} contain duplicates")
        if self.n_train is None:
            missing = [d.name for d in self.datasets if d.n_train is None]
            if missing:
                raise ValueError(f"no n_train ladder for {', '.join(missing)}; set n_train at the top or per dataset")
        return self


def parse_sweep(data: Any, source: str = "sweep", default_name: str | None = None) -> SweepSpec:
    """Validate a sweep mapping; ``ConfigError`` names the first bad field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a sweep file must be a YAML mapping with models, datasets, n_train")
    data = dict(data)
    if default_name and "name" not in data:
        data["name"] = default_name
    return validate_config(data, SweepSpec, source)


def replace_fields(spec: SweepSpec, source: str, **fields: Any) -> SweepSpec:
    """``spec`` with ``fields`` replaced (e.g. ``protocol`` from ``--protocol``), validated again;
    ``ConfigError`` names a bad one."""
    return parse_sweep({**spec.model_dump(), **fields}, source=source)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep YAML file (its name defaults to the file stem)."""
    path = Path(path)
    return load_yaml_model(path, SweepSpec, "sweep file", defaults={"name": path.stem})


def card_ladder(dataset: str) -> list[int]:
    """The standard training-set sizes of ``dataset`` from its card (empty without a card)."""
    from mlip_bench.data.catalog import card_for

    card = card_for(dataset)
    return [int(n) for n in card.ladder] if card is not None else []


def resolve_ladder(
    ladder: list[int] | str, dataset: str, ladder_for: Callable[[str], list[int]] = card_ladder
) -> list[int]:
    """Training-set sizes for ``dataset``: a list as given (sorted), or ``"A..B"`` = the card's
    ladder clipped to [A, B] (see :mod:`mlip_bench.data.ladder`); ``ConfigError`` otherwise."""
    try:
        card = ladder_for(dataset) if isinstance(ladder, str) else None
        return ladders.resolve_ladder(ladder, dataset, card)
    except ValueError as err:
        raise ConfigError(f"n_train: {err}") from None


def merge_overrides(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``; nested mappings are merged, everything else replaced."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


RunIdFunction = Callable[[str, str, int, int, str, dict[str, Any]], str]


def run_id_function(runner: str) -> RunIdFunction:
    """``f(model, dataset, n_train, seed, protocol, overrides) -> run id`` for ``runner``'s records.

    A runner module names its records, so it defines ``cell_run_id`` with that signature or a
    plain ``run_id(model, dataset, n_train, seed, protocol)`` beside the runner function. For the
    harness, overrides tag the protocol label as ``run_cell`` does.
    """
    module_name = runner.partition(":")[0]
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"runner {runner!r}: cannot import {module_name!r} ({err})") from None
    full = getattr(module, "cell_run_id", None)
    if callable(full):
        return full
    plain = getattr(module, "run_id", None)
    if not callable(plain):
        raise ConfigError(
            f"runner {runner!r}: module {module_name} defines no run_id(model, dataset, n_train, seed, protocol)"
        )
    return lambda model, dataset, n_train, seed, protocol, overrides: plain(model, dataset, n_train, seed, protocol)


def _variant(name: str, root: str | Path | None) -> str:
    """``name`` resolved as the harness resolves it; a name without a card that is not imported
    (yet) stays as written: the runner reports it when the cell runs."""
    from mlip_bench.data.catalog import card_for, resolve_variant

    try:
        return resolve_variant(name, root=root)
    except DatasetError:
        if card_for(name.strip().lower()) is not None:  # a card's dataset: bad molecule etc.
            raise
        return name


def expand_cells(
    spec: SweepSpec,
    ladder_for: Callable[[str], list[int]] = card_ladder,
    run_id_for: RunIdFunction | None = None,
    root: str | Path | None = None,
) -> list[Cell]:
    """All cells of the sweep, seed-major (a whole first-seed learning curve comes before the next seed).

    Order: seed, dataset, n_train (small first), model. Dataset names are resolved as the harness
    resolves them (:func:`~mlip_bench.data.catalog.resolve_variant`: aliases to canonical names,
    imported datasets looked up under ``root``), so a cell's run id is the one its record gets.
    Overrides merge sweep-wide, then per dataset, per model, per matching ``cell_overrides`` rule
    (``match.dataset`` may name the dataset as written or resolved). Run ids come from
    ``run_id_for`` or the runner module. ``ConfigError`` if two cells share a run id.
    """
    if run_id_for is None:
        run_id_for = run_id_function(spec.runner)
    variants = {d.name: _variant(d.name, root) for d in spec.datasets}
    ladders = {
        d.name: resolve_ladder(d.n_train if d.n_train is not None else spec.n_train, variants[d.name], ladder_for)  # type: ignore[arg-type]
        for d in spec.datasets
    }
    cells: list[Cell] = []
    seen: dict[str, Cell] = {}
    for seed in spec.seeds:
        for entry in spec.datasets:
            variant = variants[entry.name]
            for n_train in sorted(ladders[entry.name]):
                for model in spec.models:
                    overrides = merge_overrides(spec.overrides, entry.overrides)
                    overrides = merge_overrides(overrides, model.overrides)
                    for rule in spec.cell_overrides:
                        if any(rule.match.matches(model.key, name, n_train, seed) for name in {entry.name, variant}):
                            overrides = merge_overrides(overrides, rule.overrides)
                    rid = run_id_for(model.name, variant, n_train, seed, spec.protocol, overrides)
                    cell = Cell(model.name, variant, n_train, seed, spec.protocol, rid, overrides, model.key)
                    if rid in seen:
                        raise ConfigError(
                            f"sweep {spec.name!r}: cells {seen[rid].label()!r} and {cell.label()!r} "
                            f"share run id {rid!r}; give them distinct model or dataset names or overrides"
                        )
                    seen[rid] = cell
                    cells.append(cell)
    return cells


def parse_int_list(text: str, option: str) -> list[int]:
    """``"350"``, ``"350,950"`` or ``"0..2"`` (a command-line filter) as a list of ints; ``ConfigError``
    naming ``option`` otherwise."""
    try:
        if ".." in text:
            low, high = (int(part) for part in text.split("..", 1))
            if low > high:
                raise ValueError
            return list(range(low, high + 1))
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"{option} {text!r}: give numbers such as 2, 1,2 or 0..2") from None


def cell_filters(models: list[str] | None, n_train: str | None, seeds: str | None) -> dict[str, list | None]:
    """The ``--model``/``--n-train``/``--seeds`` options of ``sweep`` and ``md --sweep`` as the
    keyword arguments of :func:`select_cells` (an option not given: ``None``, matches all)."""
    return {
        "models": list(models) if models else None,
        "n_train": parse_int_list(n_train, "--n-train") if n_train else None,
        "seeds": parse_int_list(seeds, "--seeds") if seeds else None,
    }


def select_cells(
    cells: list[Cell],
    models: list[str] | None = None,
    n_train: list[int] | None = None,
    seeds: list[int] | None = None,
) -> list[Cell]:
    """The cells that match every given filter (a filter left ``None`` matches all), in sweep order.

    ``models`` match the sweep's model label or the registry name. Run ids do not change, so a
    filtered sweep writes the same records the full one would. ``ConfigError`` if nothing matches.
    """
    chosen = [
        c
        for c in cells
        if (models is None or c.model in models or c.display_model in models)
        and (n_train is None or c.n_train in n_train)
        and (seeds is None or c.seed in seeds)
    ]
    if not chosen:
        have = (
            f"models {sorted({c.display_model for c in cells})}, n_train {sorted({c.n_train for c in cells})}, "
            f"seeds {sorted({c.seed for c in cells})}"
        )
        raise ConfigError(f"no cell of the sweep matches the filters; the sweep has {have}")
    return chosen
