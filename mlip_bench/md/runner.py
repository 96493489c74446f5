"""Run the MD benchmark of one trained model and write its :class:`MDRecord`.

Layout under the output folder ``out``:

* ``<out>/<md_id>.json`` — the MD record (written atomically, once, when every replica ended);
* ``<out>/<md_id>.hr.png`` / ``.rdf.png`` / ``.msd.png`` — figures next to the record;
* ``<out>/.state/<md_id>/replica-<k>.pkl`` — per-replica checkpoints (positions, momenta,
  thermostat RNG state, samples so far), written atomically every ``checkpoint_every`` steps and
  removed once the record is written. A killed run resumes from them and continues the same
  trajectory (same positions, momenta and random numbers); a checkpoint written for other
  settings or another model file is discarded and its replica restarts.

The replica ``k`` starts from a test-set frame of the run's split (a seeded draw), with
Maxwell-Boltzmann velocities at the target temperature (seed ``[seed, k]``), and runs Langevin
(``nvt``) or velocity Verlet (``nve``) until ``steps`` or its first failure (see
:mod:`mlip_bench.md.stability`); a force evaluation that raises or returns non-finite numbers
is a failure at that time, never a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlip_bench.atomic_files import write_atomic, write_text_atomic
from mlip_bench.errors import ConfigError, ModelError, ResultsError
from mlip_bench.interrupts import raise_if_interrupted
from mlip_bench.md import observables as obs
from mlip_bench.md.settings import MDSettingsInput
from mlip_bench.md.stability import StabilityCheck
from mlip_bench.progress_bar import ProgressBar
from mlip_bench.results.md_schema import (
    Curve,
    MDRecord,
    MDSettings,
    Observables,
    ReplicaResult,
    RunLink,
    Speed,
    Stability,
)

STATE_DIR = ".state"
STATE_FORMAT = 1
#: positions further than this from the origin (Å) mean the trajectory has exploded
EXPLODED_EXTENT_A = 1.0e4


class TrajectoryExploded(RuntimeError):
    """Raised by the guarded calculator on non-finite or runaway positions."""


@dataclass
class ResolvedRun:
    checkpoint: Path
    metadata: dict[str, Any]
    record: Any = None  # RunRecord | None
    record_path: Path | None = None


# -- finding the model and its run record -------------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def portable_path(path: Path, out: Path) -> str:
    """``path`` as an MD record in ``out`` cites it: relative to ``out`` when the file lies under
    ``out``'s parent (``<results>/md`` citing ``../records/...``), so the record stays true when the
    results folder is moved or committed; otherwise absolute."""
    path, out = Path(path).resolve(), Path(out).resolve()
    if path.is_relative_to(out.parent):
        return os.path.relpath(path, out)
    return str(path)


def resolve_run(target: str | Path, results: list[Path] | None = None) -> ResolvedRun:
    """The checkpoint and run record of ``target``: a checkpoint file
    (``<out>/checkpoints/<run_id>/best_model.pt``) or a run id looked up in ``results`` folders."""
    import torch

    from mlip_bench.results.io import read_record, record_path

    results = [Path(r) for r in (results or [])]
    path = Path(target)
    if path.is_dir() and (path / "best_model.pt").is_file():
        path = path / "best_model.pt"
    if path.is_file():
        checkpoint = path
    else:
        found = [Path(r) / "checkpoints" / str(target) / "best_model.pt" for r in results]
        found = [p for p in found if p.is_file()]
        if not found:
            where = ", ".join(str(r) for r in results) or "(no --results folder given)"
            raise ConfigError(
                f"{target}: neither a checkpoint file nor a run id with <results>/checkpoints/{target}/best_model.pt "
                f"under {where}; pass the checkpoint path or --results DIR"
            )
        checkpoint = found[0]
    try:
        payload = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 (any unreadable file is one line)
        raise ModelError(f"{checkpoint} cannot be read as a model ({type(err).__name__})") from None
    metadata = dict(payload.get("metadata") or {}) if isinstance(payload, dict) else {}
    rid = metadata.get("run_id") or checkpoint.parent.name
    metadata.setdefault("run_id", rid)
    candidates = [checkpoint.parent.parent.parent] + results
    for folder in candidates:
        rpath = record_path(folder, rid)
        if rpath.is_file():
            return ResolvedRun(checkpoint, metadata, read_record(rpath), rpath)
    return ResolvedRun(checkpoint, metadata)


def check_species(model_species: list[int], numbers: np.ndarray, where: str, checkpoint: Path) -> None:
    """``ModelError`` (one line) when ``numbers`` has elements the model was not trained on."""
    from ase.data import chemical_symbols

    unknown = sorted({int(z) for z in numbers} - {int(z) for z in model_species})
    if unknown:
        have = ", ".join(chemical_symbols[z] for z in sorted(model_species))
        bad = ", ".join(chemical_symbols[z] for z in unknown)
        raise ModelError(
            f"species mismatch: {checkpoint} was trained on {have}; {where} also has {bad}; "
            "use a model trained on this system"
        )


# -- the calculator ----------------------------------------------------------------------------


def guarded_calculator(potential, device: str = "cpu", compile: bool = False):
    """An :class:`MlipCalculator` that raises :class:`TrajectoryExploded` on non-finite or runaway
    positions instead of building a neighbour list for them (``compile``: compiled forces)."""
    from mlip_bench.calculator import MlipCalculator

    class _Guarded(MlipCalculator):
        def calculate(self, atoms=None, properties=("energy",), system_changes=None):
            positions = (atoms if atoms is not None else self.atoms).get_positions()
            if not np.all(np.isfinite(positions)):
                raise TrajectoryExploded("non-finite positions")
            if np.max(np.abs(positions)) > EXPLODED_EXTENT_A:
                raise TrajectoryExploded(f"positions beyond {EXPLODED_EXTENT_A:g} Å")
            from ase.calculators.calculator import all_changes

            super().calculate(atoms, properties, system_changes or all_changes)

    return _Guarded(potential, device=device, compile=compile)


# -- one replica -------------------------------------------------------------------------------


@dataclass
class ReplicaState:
    index: int
    start_frame: int
    fingerprint: str
    step: int = 0
    positions: np.ndarray | None = None
    momenta: np.ndarray | None = None
    rng_state: dict | None = None
    samples: list[np.ndarray] = field(default_factory=list)
    sample_steps: list[int] = field(default_factory=list)
    total_energy: list[float] = field(default_factory=list)  # eV, every step from 0
    temperature: list[float] = field(default_factory=list)  # K, every step from 0
    failed: bool = False
    failure: str = ""
    fail_step: int | None = None
    wall_seconds: float = 0.0
    done: bool = False

    def to_payload(self) -> dict:
        return dict(self.__dict__, format=STATE_FORMAT)

    @classmethod
    def from_payload(cls, payload: dict) -> "ReplicaState":
        payload = dict(payload)
        payload.pop("format", None)
        return cls(**payload)


def _state_path(out: Path, md_id: str, k: int) -> Path:
    return Path(out) / STATE_DIR / md_id / f"replica-{k}.pkl"


def save_state(state: ReplicaState, path: Path) -> None:
    write_atomic(path, lambda handle: pickle.dump(state.to_payload(), handle, protocol=4), binary=True)


def load_state(path: Path, fingerprint: str) -> tuple[ReplicaState | None, str]:
    """The saved state at ``path`` if usable, else None and why it was discarded."""
    if not path.is_file():
        return None, ""
    try:
        with open(path, "rb") as handle:
            payload = pickle.load(handle)
        if not isinstance(payload, dict) or payload.get("format") != STATE_FORMAT:
            return None, f"{path.name}: unknown format, restarted"
        state = ReplicaState.from_payload(payload)
    except Exception as err:  # noqa: BLE001 (an unreadable checkpoint means a clean restart)
        return None, f"{path.name}: unreadable ({type(err).__name__}), restarted"
    if state.fingerprint != fingerprint:
        return None, f"{path.name}: written for other settings or another model, restarted"
    return state, ""


def initial_velocities(atoms, temperature_k: float, rng: np.random.Generator) -> None:
    """Maxwell-Boltzmann momenta at ``temperature_k``, without centre-of-mass motion (and, for a
    molecule, without rotation), rescaled so the starting temperature is exactly ``temperature_k``."""
    from ase import units
    from ase.md.velocitydistribution import Stationary, ZeroRotation

    masses = atoms.get_masses()[:, None]
    atoms.set_momenta(rng.standard_normal((len(atoms), 3)) * np.sqrt(masses * units.kB * temperature_k))
    Stationary(atoms)
    if not np.any(atoms.pbc) and len(atoms) > 2:
        ZeroRotation(atoms)
    current = atoms.get_temperature()
    if current > 0:
        atoms.set_momenta(atoms.get_momenta() * np.sqrt(temperature_k / current))


def _make_dynamics(atoms, settings: MDSettingsInput, rng):
    from ase import units

    dt = settings.timestep_fs * units.fs
    if settings.ensemble == "nvt":
        from ase.md.langevin import Langevin

        return Langevin(
            atoms,
            timestep=dt,
            temperature_K=settings.temperature_k,
            friction=settings.friction_per_fs / units.fs,
            fixcm=False,
            rng=rng,
        )
    from ase.md.verlet import VelocityVerlet

    return VelocityVerlet(atoms, timestep=dt)


def run_replica(
    atoms0,
    calc,
    settings: MDSettingsInput,
    check: StabilityCheck,
    state: ReplicaState,
    state_path: Path,
    on_step: Callable[[int], None] | None = None,
) -> ReplicaState:
    """Advance one replica from ``state`` to ``settings.steps`` or its first failure, saving
    ``state`` atomically every ``checkpoint_every`` steps (and ``checkpoint_seconds``)."""
    if state.done:
        return state
    atoms = atoms0.copy()
    atoms.calc = calc
    rng = np.random.default_rng([settings.seed, state.index, 1])
    if state.positions is None:
        initial_velocities(atoms, settings.temperature_k, np.random.default_rng([settings.seed, state.index, 0]))
    else:
        atoms.set_positions(state.positions)
        atoms.set_momenta(state.momenta)
        rng.bit_generator.state = state.rng_state
    dyn = _make_dynamics(atoms, settings, rng)
    started = time.perf_counter()
    last_save = started

    def fail(reason: str) -> None:
        state.failed, state.failure, state.fail_step, state.done = True, reason[:300], state.step, True

    def evaluate():
        try:
            forces = atoms.get_forces()
            energy = atoms.get_potential_energy()
        except Exception as err:  # noqa: BLE001 (an exploding trajectory is a result, not a crash)
            fail(f"force evaluation failed: {type(err).__name__}: {err}")
            return None, None
        return forces, energy

    forces, energy = evaluate()
    if forces is not None and state.step == 0:
        reason = check.check(atoms.get_positions(), forces, energy)
        if reason:
            fail(reason)
        else:
            _log(state, atoms, energy, settings)
    while not state.done and state.step < settings.steps:
        try:
            forces = dyn.step(forces)
            energy = atoms.get_potential_energy()
        except Exception as err:  # noqa: BLE001
            state.step += 1
            fail(f"force evaluation failed: {type(err).__name__}: {err}")
            break
        state.step += 1
        reason = check.check(atoms.get_positions(), forces, energy)
        if reason:
            fail(reason)
            break
        _log(state, atoms, energy, settings)
        if on_step is not None:
            on_step(state.step)
        now = time.perf_counter()
        if state.step % settings.checkpoint_every == 0 or now - last_save > settings.checkpoint_seconds:
            _snapshot(state, atoms, rng, started, now)
            started = last_save = now
            save_state(state, state_path)
    state.done = True
    _snapshot(state, atoms, rng, started, time.perf_counter())
    save_state(state, state_path)
    return state


def _log(state: ReplicaState, atoms, energy: float, settings: MDSettingsInput) -> None:
    state.total_energy.append(float(energy + atoms.get_kinetic_energy()))
    state.temperature.append(float(atoms.get_temperature()))
    if state.step % settings.sample_every == 0:
        state.samples.append(np.array(atoms.get_positions(), dtype=np.float64))
        state.sample_steps.append(state.step)


def _snapshot(state: ReplicaState, atoms, rng, started: float, now: float) -> None:
    state.positions = np.array(atoms.get_positions(), dtype=np.float64)
    state.momenta = np.array(atoms.get_momenta(), dtype=np.float64)
    state.rng_state = rng.bit_generator.state
    state.wall_seconds += now - started


# -- summaries ---------------------------------------------------------------------------------


def _sig(values, digits: int = 5) -> list[float]:
    return [float(f"{float(v):.{digits}g}") for v in values]


def replica_result(state: ReplicaState, settings: MDSettingsInput, n_atoms: int) -> ReplicaResult:
    dt_ps = settings.timestep_fs * 1e-3
    steps_run = state.fail_step if state.failed and state.fail_step is not None else state.step
    drift = max_err = None
    energies = np.asarray(state.total_energy, dtype=np.float64)
    if settings.ensemble == "nve" and len(energies) >= 3:
        t = np.arange(len(energies)) * dt_ps
        drift = float(np.polyfit(t, energies, 1)[0] * 1e3 / n_atoms)
        max_err = float(np.max(np.abs(energies - energies[0])) * 1e3 / n_atoms)
    return ReplicaResult(
        index=state.index,
        start_frame=state.start_frame,
        steps_run=int(steps_run),
        simulated_ps=float(steps_run * dt_ps),
        failed=state.failed,
        time_to_failure_ps=float(state.fail_step * dt_ps) if state.failed and state.fail_step is not None else None,
        failure=state.failure,
        mean_temperature_k=float(np.mean(state.temperature)) if state.temperature else None,
        energy_drift_mev_per_atom_per_ps=drift,
        max_energy_error_mev_per_atom=max_err,
        n_samples=len(state.samples),
        wall_seconds=float(state.wall_seconds),
    )


def stability_summary(results: list[ReplicaResult], check: StabilityCheck, settings: MDSettingsInput) -> Stability:
    length = settings.steps * settings.timestep_fs * 1e-3
    times = [r.time_to_failure_ps if r.failed else length for r in results]
    return Stability(
        criterion=check.describe(),
        kind=check.kind,  # type: ignore[arg-type]
        bond_tolerance_a=check.bond_tolerance_a if check.kind == "molecule" else None,
        min_distance_a=check.min_distance_a if check.kind == "periodic" else None,
        pair_floors_a=check.floors_by_name() if check.kind == "periodic" else None,
        n_replicas=len(results),
        n_stable=sum(not r.failed for r in results),
        mean_time_to_failure_ps=float(np.mean(times)),
        min_time_to_failure_ps=float(np.min(times)),
        length_ps=float(length),
    )


@dataclass
class Reference:
    """Reference frames for observables: positions (F, N, 3) with the starting frame's atoms."""

    positions: np.ndarray | None
    cells: np.ndarray | None
    source: str
    #: the first frames of the store in order (for the trajectory-continuity check)
    ordered: np.ndarray | None = None
    why_missing: str = ""


def compute_observables(
    states: list[ReplicaState], start, reference: Reference, settings: MDSettingsInput
) -> tuple[Observables, dict[str, Any]]:
    """Observables of the pooled stable samples against ``reference``; also the arrays to plot."""
    periodic = bool(np.any(start.pbc))
    kind = "periodic" if periodic else "molecule"
    samples = [np.asarray(s) for st in states for s in st.samples]
    result = Observables(
        kind=kind,
        n_md_samples=len(samples),
        reference_source=reference.source,
        n_reference_frames=0 if reference.positions is None else len(reference.positions),
    )
    plots: dict[str, Any] = {}
    if not samples:
        result.not_available["all"] = "no MD samples (every replica failed before its first sample)"
        return result, plots
    md = np.stack(samples)
    numbers = start.get_atomic_numbers()
    if reference.positions is None:
        name = "h(r)" if not periodic else "rdf"
        result.not_available[name] = reference.why_missing or "no reference frames with the starting frame's atoms"
    if not periodic:
        centers = obs.bin_centers(obs.HR_R_MAX_A, obs.HR_BIN_A)
        h_md = obs.distance_histogram(md)
        curve = Curve(r_a=_sig(centers, 4), md=_sig(h_md))
        if reference.positions is not None:
            h_ref = obs.distance_histogram(reference.positions)
            result.hr_mae = obs.hr_mae(h_md, h_ref)
            result.hr_mae_sampling_floor = _hr_floor(reference.positions, len(md), settings.seed)
            curve.reference = _sig(h_ref)
            plots["hr"] = (centers, h_md, h_ref)
        else:
            plots["hr"] = (centers, h_md, None)
        result.hr = curve
        result.not_available["diffusivity"] = "not defined for an isolated molecule"
        return result, plots
    cell = np.asarray(start.get_cell()[:])
    pbc = np.asarray(start.pbc)
    r_max = obs.rdf_r_max(cell)
    centers = obs.bin_centers(r_max, obs.RDF_BIN_A)
    g_md = obs.rdfs(md, numbers, cell, pbc, r_max)
    g_ref = (
        obs.rdfs(reference.positions, numbers, reference.cells, pbc, r_max) if reference.positions is not None else {}
    )
    for label, g in g_md.items():
        curve = Curve(r_a=_sig(centers, 4), md=_sig(g))
        if label in g_ref:
            curve.reference = _sig(g_ref[label])
            result.rdf_mae[label] = obs.rdf_mae(g, g_ref[label])
        result.rdf[label] = curve
    if result.rdf_mae:
        result.rdf_mae_mean = float(np.mean(list(result.rdf_mae.values())))
    plots["rdf"] = (centers, g_md, g_ref)
    _diffusion(states, start, reference, settings, result, plots)
    return result, plots


def _hr_floor(reference: np.ndarray, n_md: int, seed: int) -> float | None:
    m = min(n_md, len(reference) // 2)
    if m < 1:
        return None
    order = np.random.default_rng([seed, 4]).permutation(len(reference))
    return obs.hr_mae(obs.distance_histogram(reference[order[:m]]), obs.distance_histogram(reference[order[m:]]))


def _diffusing_species(numbers: np.ndarray) -> list[int]:
    """Li when present (the paper's LiPS observable), else none."""
    return [3] if 3 in set(int(z) for z in numbers) else []


def _diffusion(states, start, reference: Reference, settings: MDSettingsInput, result: Observables, plots) -> None:
    from ase.data import chemical_symbols

    numbers = start.get_atomic_numbers()
    species = _diffusing_species(numbers)
    if not species:
        result.not_available["diffusivity"] = "computed for Li only (the paper's LiPS observable); no Li here"
        return
    interval_ps = settings.sample_every * settings.timestep_fs * 1e-3
    if reference.ordered is not None:
        result.reference_is_trajectory = obs.is_continuous(reference.ordered, start.get_cell()[:], start.pbc)
    plots["msd"] = {}
    for z in species:
        symbol = chemical_symbols[z]
        mask = numbers == z
        # transport needs the whole trajectory: a replica that failed moved on a broken surface
        # before it failed, and its stable part is often shorter than the diffusive regime
        intact = [st for st in states if not st.failed]
        if not intact:
            result.not_available[f"diffusivity {symbol}"] = (
                "every replica failed; a diffusivity is fitted only to replicas that stayed stable"
            )
            continue
        msds = [obs.mean_square_displacement(np.asarray(st.samples)[:, mask]) for st in intact if len(st.samples) >= 8]
        if not msds:
            result.not_available[f"diffusivity {symbol}"] = "fewer than 8 MD samples in every stable replica"
            continue
        n = min(len(m) for m in msds)
        msd = np.mean([m[:n] for m in msds], axis=0)
        value = obs.diffusivity(msd, interval_ps)
        if value is None:
            result.not_available[f"diffusivity {symbol}"] = "MD too short for a diffusivity fit"
        else:
            result.diffusivity_cm2_per_s[symbol] = value
        plots["msd"][symbol] = (np.arange(n) * interval_ps, msd, None)
        if not result.reference_is_trajectory:
            result.not_available[f"reference diffusivity {symbol}"] = (
                "the reference frames (store order) are not one continuous trajectory"
            )
        elif settings.reference_interval_fs is None:
            result.not_available[f"reference diffusivity {symbol}"] = (
                "the store does not record the time between reference frames; pass --reference-interval-fs"
            )
        else:
            ref = obs.unwrap(reference.ordered, start.get_cell()[:], start.pbc)[:, mask]
            ref_msd = obs.mean_square_displacement(ref)
            ref_dt = settings.reference_interval_fs * 1e-3
            ref_value = obs.diffusivity(ref_msd, ref_dt)
            if ref_value is not None:
                result.reference_diffusivity_cm2_per_s[symbol] = ref_value
            plots["msd"][symbol] = (np.arange(n) * interval_ps, msd, (np.arange(len(ref_msd)) * ref_dt, ref_msd))


# -- figures -----------------------------------------------------------------------------------


def write_figures(plots: dict[str, Any], out: Path, md_id: str, title: str) -> list[str]:
    """PNG figures next to the record; their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []

    def save(fig, suffix: str) -> None:
        name = f"{md_id}.{suffix}.png"
        write_atomic(Path(out) / name, lambda handle: fig.savefig(handle, format="png", dpi=110), binary=True)
        plt.close(fig)
        names.append(name)

    if "hr" in plots:
        r, h_md, h_ref = plots["hr"]
        fig, ax = plt.subplots(figsize=(6, 3.6))
        top = r[(h_md > 0) | ((h_ref if h_ref is not None else h_md) > 0)]
        if h_ref is not None:
            ax.plot(r, h_ref, color="black", lw=1.2, label="reference (dataset)")
        ax.plot(r, h_md, color="tab:red", lw=1.0, label="MD")
        ax.set_xlim(0, float(top.max()) + 0.5 if len(top) else 10)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("h(r) (1/Å)")
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=8)
        fig.tight_layout()
        save(fig, "hr")
    if "rdf" in plots:
        r, g_md, g_ref = plots["rdf"]
        labels = list(g_md)
        cols = min(3, len(labels))
        rows = int(np.ceil(len(labels) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
        for ax, label in zip(axes.ravel(), labels):
            if label in g_ref:
                ax.plot(r, g_ref[label], color="black", lw=1.2, label="reference")
            ax.plot(r, g_md[label], color="tab:red", lw=1.0, label="MD")
            ax.set_title(label, fontsize=8)
            ax.set_xlabel("r (Å)", fontsize=7)
        for ax in axes.ravel()[len(labels) :]:
            ax.axis("off")
        axes.ravel()[0].legend(fontsize=7)
        fig.suptitle(title, fontsize=8)
        fig.tight_layout()
        save(fig, "rdf")
    if plots.get("msd"):
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for symbol, (t, msd, ref) in plots["msd"].items():
            ax.plot(t, msd, label=f"{symbol} MD")
            if ref is not None:
                ax.plot(ref[0], ref[1], ls="--", label=f"{symbol} reference")
        ax.set_xlabel("t (ps)")
        ax.set_ylabel("MSD (Å²)")
        ax.legend(fontsize=8)
        ax.set_title(title, fontsize=8)
        fig.tight_layout()
        save(fig, "msd")
    return names


# -- the whole benchmark -----------------------------------------------------------------------


def md_id_for(run_id: str, settings: MDSettingsInput, tag: str = "") -> str:
    parts = [
        run_id,
        f"md-{settings.ensemble}-{settings.temperature_k:g}K-{settings.timestep_fs:g}fs-"
        f"{settings.steps}steps-r{settings.replicas}-s{settings.seed}",
    ]
    if tag:
        parts.append(tag)
    return "__".join(parts)


def md_record_path(out: Path, md_id: str) -> Path:
    return Path(out) / f"{md_id}.json"


def write_md_record(record: MDRecord, out: Path) -> Path:
    path = md_record_path(out, record.md_id)
    text = json.dumps(record.model_dump(mode="json"), indent=1, allow_nan=True)
    return write_text_atomic(text + "\n", path)


def read_md_record(path: Path) -> MDRecord:
    from pydantic import ValidationError

    from mlip_bench.errors import describe_validation_error

    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: not a readable JSON MD record ({err})") from None
    try:
        return MDRecord.model_validate(raw)
    except ValidationError as err:
        raise ResultsError(f"{path}: {describe_validation_error(err)}") from None


def _starting_frames(store, split, settings: MDSettingsInput) -> list[int]:
    test = [int(i) for i in split.test]
    if not test:
        raise ConfigError(f"the split {split.name!r} of {store.name} has no test frames to start MD from")
    rng = np.random.default_rng([settings.seed, 2])
    replace = len(test) < settings.replicas
    return [test[i] for i in rng.choice(len(test), size=settings.replicas, replace=replace)]


def reference_frames(store, start_numbers: np.ndarray, max_frames: int, seed: int, variant: str) -> Reference:
    """Up to ``max_frames`` frames of ``store`` drawn at random (``seed``) that have the starting
    frame's atoms: the reference for bond lengths, pair floors, h(r) and RDFs."""
    n = store.n_frames
    k = min(n, max_frames)
    chosen = sorted(np.random.default_rng([seed, 3]).choice(n, size=k, replace=False).tolist())
    frames = [f for f in store.frames(chosen) if np.array_equal(f.numbers, start_numbers)]
    source = f"{variant}: {len(frames)} frames drawn at random (seed {seed}) from all {n} frames"
    if not frames:
        return Reference(None, None, source, why_missing=f"no frame of {variant} has the starting frame's atoms")
    ordered = [f for f in store.frames(range(min(n, 200))) if np.array_equal(f.numbers, start_numbers)]
    return Reference(
        positions=np.stack([f.positions for f in frames]),
        cells=np.stack([f.cell for f in frames]),
        source=source,
        ordered=np.stack([f.positions for f in ordered]) if len(ordered) >= 3 else None,
    )


def run_md(
    target: str | Path,
    settings: MDSettingsInput,
    out: Path,
    results: list[Path] | None = None,
    root: str | Path | None = None,
    dataset: str | None = None,
    structure: Path | None = None,
    progress: bool = False,
    command: str = "",
    on_step: Callable[[int, int], None] | None = None,
) -> MDRecord:
    """Run (or resume) the MD benchmark of ``target`` and write its record; an existing record
    is returned as it is (delete it to run again)."""
    import torch

    from mlip_bench.data.catalog import open_store, resolve_variant
    from mlip_bench.results.environment import collect_environment
    from mlip_bench.train.checkpoint import load_trained_potential

    settings.validate()
    resolved = resolve_run(target, results)
    meta = resolved.metadata
    rec = resolved.record
    run_dataset = rec.dataset.name if rec is not None else meta.get("dataset")
    split_name = rec.split.name if rec is not None else meta.get("split", "default")
    split_seed = rec.split.seed if rec is not None else int(meta.get("seed", 0))
    variant_name = dataset or run_dataset
    if not variant_name:
        raise ConfigError(f"{resolved.checkpoint} does not name its dataset and has no run record; pass --dataset")
    tag = ""
    if structure is not None:
        tag = "file-" + "".join(c if c.isalnum() or c in "-_." else "-" for c in Path(structure).stem)
    elif dataset is not None and dataset != run_dataset:
        tag = "on-" + dataset.replace("/", "-")
    md_id = md_id_for(str(meta["run_id"]), settings, tag)
    out = Path(out)
    final = md_record_path(out, md_id)
    if final.exists():
        existing = read_md_record(final)
        return existing

    potential, _ = load_trained_potential(resolved.checkpoint)
    model_species = list(potential.statistics.species)
    variant = resolve_variant(variant_name, root=root)
    store = open_store(variant, root=root)
    notes: list[str] = []
    try:
        if structure is not None:
            from ase.io import read

            try:
                atoms_start = read(str(structure))
            except Exception as err:  # noqa: BLE001
                raise ConfigError(
                    f"--structure {structure}: cannot be read by ase ({type(err).__name__}: {err})"
                ) from None
            check_species(
                model_species, atoms_start.get_atomic_numbers(), f"--structure {structure}", resolved.checkpoint
            )
            starts = [(-1, atoms_start)] * settings.replicas
            start_source = f"structure file {structure}"
        else:
            from mlip_bench.data.cards import list_cards, load_card
            from mlip_bench.data.splits import load_or_create_split

            check_species(model_species, np.asarray(store.species), f"dataset {variant}", resolved.checkpoint)
            base = variant.split("/")[0]
            card = load_card(base) if base in list_cards() else None
            split = load_or_create_split(store, card=card, seed=split_seed, name=split_name, root=root)
            if rec is not None and variant == run_dataset and split.sha256 != rec.split.sha256:
                notes.append(
                    f"split {split.name} sha256 {split.sha256[:12]} differs from the run record's "
                    f"{rec.split.sha256[:12]} (the store or split changed since training)"
                )
            indices = _starting_frames(store, split, settings)
            starts = [(i, store.frame(i).to_atoms()) for i in indices]
            start_source = f"{variant} test split {split.name!r} (seed {split_seed}), frames {indices}"
        start = starts[0][1]
        reference = reference_frames(
            store, start.get_atomic_numbers(), settings.max_reference_frames, settings.seed, variant
        )
    finally:
        store.close()

    ckpt_sha = _sha256_file(resolved.checkpoint)
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "settings": {
                    k: v
                    for k, v in settings.__dict__.items()
                    if k not in ("checkpoint_every", "checkpoint_seconds", "device", "compile_forces")
                },
                "checkpoint": ckpt_sha,
                "starts": [int(i) for i, _ in starts],
                "md_id": md_id,
            },
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    calc = guarded_calculator(potential, device=settings.device, compile=settings.compile_forces)
    total = settings.steps * settings.replicas
    states: list[ReplicaState] = []
    checks: list[StabilityCheck] = []
    with ProgressBar(progress, total, "md", title=md_id) as bar:
        for k, (index, atoms0) in enumerate(starts):
            path = _state_path(out, md_id, k)
            state, why = load_state(path, fingerprint)
            if why:
                notes.append(why)
            if state is None:
                state = ReplicaState(index=k, start_frame=int(index), fingerprint=fingerprint)
            check = StabilityCheck.for_system(
                atoms0.get_positions(),
                atoms0.get_atomic_numbers(),
                np.asarray(atoms0.get_cell()[:]),
                atoms0.pbc,
                reference_positions=reference.positions,
                reference_cells=reference.cells,
                floors=checks[0].floors if checks else None,  # the same reference: computed once
            )
            checks.append(check)
            base = k * settings.steps
            bar.update(base + state.step, f"replica {k + 1}/{settings.replicas}")

            def step_hook(step: int, base=base, k=k) -> None:
                raise_if_interrupted()
                bar.update(base + step)
                if on_step is not None:
                    on_step(k, step)

            state = run_replica(atoms0, calc, settings, check, state, path, step_hook)
            bar.update(base + settings.steps, f"replica {k + 1}: " + ("failed" if state.failed else "stable"))
            states.append(state)

    n_atoms = len(start)
    replica_results = [replica_result(s, settings, n_atoms) for s in states]
    stability = stability_summary(replica_results, checks[0], settings)
    observables, plots = compute_observables(states, start, reference, settings)
    run_label = f"{meta['run_id']}: {settings.ensemble.upper()} {settings.temperature_k:g} K, {settings.replicas} x {settings.steps} steps of {settings.timestep_fs:g} fs"
    observables.figures = write_figures(plots, out, md_id, run_label)
    steps_done = sum(r.steps_run for r in replica_results)
    wall = sum(r.wall_seconds for r in replica_results)
    steps_per_s = steps_done / wall if wall > 0 else 0.0
    speed = Speed(
        steps_per_second=steps_per_s,
        ns_per_day=steps_per_s * settings.timestep_fs * 1e-6 * 86400.0,
        wall_seconds=wall,
        threads=torch.get_num_threads(),
        force_evaluation=calc.force_evaluation,
    )
    test = rec.metrics.get("test") if rec is not None else None
    from datetime import datetime, timezone

    record = MDRecord(
        md_id=md_id,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        run=RunLink(
            run_id=str(meta["run_id"]),
            record_path=portable_path(resolved.record_path, out) if resolved.record_path else "",
            record_sha256=_sha256_file(resolved.record_path) if resolved.record_path else "",
            checkpoint_path=portable_path(resolved.checkpoint, out),
            checkpoint_sha256=ckpt_sha,
            model=rec.model if rec is not None else potential.config.name,
            dataset=str(run_dataset or variant),
            split=str(split_name),
            split_sha256=rec.split.sha256 if rec is not None else str(meta.get("split_sha256", "")),
            n_train=rec.n_train if rec is not None else meta.get("n_train"),
            seed=int(split_seed),
            protocol=rec.protocol if rec is not None else str(meta.get("protocol", "")),
            test_force_mae_mev_per_a=test.force_mae_mev_per_a if test is not None else None,
        ),
        settings=MDSettings(
            ensemble=settings.ensemble,  # type: ignore[arg-type]
            temperature_k=settings.temperature_k,
            timestep_fs=settings.timestep_fs,
            steps=settings.steps,
            replicas=settings.replicas,
            seed=settings.seed,
            friction_per_fs=settings.friction_per_fs if settings.ensemble == "nvt" else None,
            sample_every=settings.sample_every,
            start_source=start_source,
            dataset=variant,
            device=settings.device,
        ),
        system={"kind": stability.kind, "formula": start.get_chemical_formula(), "n_atoms": n_atoms},
        replicas=replica_results,
        stability=stability,
        observables=observables,
        speed=speed,
        environment=collect_environment(settings.device),
        command=command,
        notes="; ".join(notes),
    )
    write_md_record(record, out)
    _remove_state(out, md_id)
    return record


def _remove_state(out: Path, md_id: str) -> None:
    folder = Path(out) / STATE_DIR / md_id
    if folder.is_dir():
        for f in folder.iterdir():
            f.unlink(missing_ok=True)
        folder.rmdir()
    parent = Path(out) / STATE_DIR
    if parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
