"""MD speed: steps/s of our NequIP ASE calculator, and of official nequip's, on the same structure.

    nice -n 19 python benchmarks/md_speed.py --out benchmarks/results/md_speed.json [--steps 300]
    python benchmarks/md_speed.py --compiled --no-reference --lmax 1 2 --out benchmarks/results/md_speed_compiled.json

Per molecule (an rMD17 ethanol frame from the embedded demo store, an MD17 aspirin frame from
``../shared/data/md17``) and per l_max (0 and 1): ASE velocity Verlet (0.5 fs, Maxwell-Boltzmann
velocities at 300 K, seeded) with

- ``mlip-bench``: ``mlip_bench.calculator.MlipCalculator`` around the CPU-size NequIP
  (``nequip-l{0,1}-cpu``: 4 layers, 32 features, radial MLP 2 x 64, 8 Bessel functions, r_max 4 Å, float32);
- ``nequip``: official nequip's ``NequIPCalculator`` around ``NequIPGNNModel`` with the same
  hyperparameters and its default neighbour-list transforms, when ``nequip`` imports (the ``bench``
  extra, ``pip install 'nequip>=0.19,<0.20'``); otherwise the JSON says why and only ours is timed.

``--compiled`` adds ``mlip-bench compiled`` rows: the same calculator with ``compile=True``
(``mlip-bench md --compile``), with the one-off compile time (first force call) and the speed-up
over the eager row; ``--no-reference`` skips official nequip.

The models are untrained (random weights, seeded): an MD step costs the same whatever the weights,
and untrained models are fine for a few hundred steps from an equilibrium frame. Each timing is
``--warmup`` steps, then ``--steps`` timed steps, repeated ``--repeats`` times; the JSON gives
the best and the median steps/s (the best is the stable number on a shared machine), ns/day at
0.5 fs, atoms, threads and versions. Steps include the neighbour list, the force call and the
integration, as in ``mlip-bench md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = Path(os.environ.get("MLIP_BENCH_SHARED", HERE.parent.parent / "shared"))
ASPIRIN = SHARED / "data/md17/mdbench_aspirin_train_nequip_npz.npz"
TIMESTEP_FS = 0.5


def structures() -> dict[str, object]:
    """name -> ase.Atoms: ethanol (embedded rMD17 store, frame 0) and aspirin (shared MD17, frame 0)."""
    import ase

    from mlip_bench.data.catalog import open_store

    out = {}
    with open_store("rmd17/ethanol") as store:
        f = store.frame(0)
        out["ethanol"] = ase.Atoms(numbers=f.numbers, positions=f.positions)
    if ASPIRIN.is_file():
        d = np.load(ASPIRIN)
        out["aspirin"] = ase.Atoms(numbers=d["atomic_numbers"], positions=d["pos"][0])
    return out


def ours(l_max: int, atoms):
    """Our MlipCalculator around an untrained nequip-l{l_max}-cpu potential for these species."""
    from mlip_bench.calculator import MlipCalculator
    from mlip_bench.data.frame import Frame
    from mlip_bench.models.potential import DatasetStatistics
    from mlip_bench.models.registry import build_potential, load_model_config

    config = load_model_config(f"nequip-l{l_max}-cpu")
    frame = Frame(
        positions=atoms.get_positions(),
        numbers=atoms.get_atomic_numbers().astype(np.int64),
        energy=0.0,
        forces=np.zeros((len(atoms), 3)),
        cell=np.zeros((3, 3)),
        pbc=np.zeros(3, dtype=bool),
        index=0,
    )
    stats = DatasetStatistics.from_frames([frame], config.r_max)
    return MlipCalculator(build_potential(config, stats)), config


def reference(l_max: int, atoms, config, avg_num_neighbors: float):
    """Official nequip's NequIPCalculator around NequIPGNNModel with our hyperparameters."""
    from ase.data import chemical_symbols
    from nequip.integrations.ase import NequIPCalculator
    from nequip.integrations.utils import basic_transforms, handle_chemical_species_map
    from nequip.model import NequIPGNNModel

    hp = config.hyperparameters
    type_names = [chemical_symbols[z] for z in sorted(set(atoms.get_atomic_numbers().tolist()))]
    model = NequIPGNNModel(
        seed=0,
        model_dtype="float32",
        r_max=config.r_max,
        type_names=type_names,
        num_layers=hp["num_layers"],
        l_max=l_max,
        parity=True,
        num_features=hp["num_features"],
        radial_mlp_depth=hp["invariant_layers"],
        radial_mlp_width=hp["invariant_neurons"],
        num_bessels=hp["num_basis"],
        bessel_trainable=True,
        polynomial_cutoff_p=hp["polynomial_p"],
        avg_num_neighbors=avg_num_neighbors,
        per_type_energy_scales=1.0,
        per_type_energy_shifts=0.0,
    ).eval()
    transforms = basic_transforms(
        model.metadata, config.r_max, type_names, handle_chemical_species_map(True, type_names)
    )
    return NequIPCalculator(model=model, device="cpu", transforms=transforms)


def time_md(calc, atoms, steps: int, warmup: int, repeats: int, seed: int = 0) -> dict:
    """steps/s of velocity Verlet with ``calc`` from ``atoms`` (fresh copy and velocities per repeat)."""
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    rates = []
    for k in range(repeats):
        a = atoms.copy()
        a.calc = calc
        MaxwellBoltzmannDistribution(a, temperature_K=300, rng=np.random.default_rng([seed, k]))
        dyn = VelocityVerlet(a, timestep=TIMESTEP_FS * units.fs)
        dyn.run(warmup)
        t0 = time.perf_counter()
        dyn.run(steps)
        rates.append(steps / (time.perf_counter() - t0))
        if not np.all(np.isfinite(a.get_positions())):
            raise RuntimeError("non-finite positions during the timed run")
    best = max(rates)
    return {
        "steps_per_second_best": round(best, 2),
        "steps_per_second_median": round(statistics.median(rates), 2),
        "ns_per_day_best": round(best * TIMESTEP_FS * 1e-6 * 86400, 4),
        "repeats": repeats,
        "timed_steps": steps,
        "warmup_steps": warmup,
    }


def compiled_row(potential, atoms, eager_row: dict, args) -> dict:
    """The ``mlip-bench compiled`` row: compile time, steps/s, speed-up over ``eager_row``."""
    from mlip_bench.calculator import MlipCalculator

    calc = MlipCalculator(potential, compile=True)
    a = atoms.copy()
    a.calc = calc
    t0 = time.perf_counter()
    eager_forces = MlipCalculator(potential).get_forces(atoms.copy())
    forces = a.get_forces()  # traces, compiles and checks the graph
    row = {k: eager_row[k] for k in ("molecule", "atoms", "l_max")}
    row["implementation"] = "mlip-bench compiled"
    row["compile_seconds"] = round(time.perf_counter() - t0, 1)
    row["force_evaluation"] = calc.force_evaluation
    row["max_force_difference_ev_per_a"] = float(np.abs(forces - eager_forces).max())
    row.update(time_md(calc, atoms, args.steps, args.warmup, args.repeats))
    row["speed_vs_eager"] = round(row["steps_per_second_best"] / eager_row["steps_per_second_best"], 3)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write (default: print only)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lmax", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--compiled", action="store_true", help="also time compiled force evaluation")
    parser.add_argument("--no-reference", action="store_true", help="do not time official nequip")
    args = parser.parse_args(argv)

    import ase
    import torch

    import mlip_bench

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reference_status = "available"
    nequip_version = None
    if args.no_reference:
        reference_status = "not timed: --no-reference"
    else:
        try:
            import nequip
            from nequip.utils.global_state import set_global_state

            set_global_state(allow_tf32=False)
            nequip_version = nequip.__version__
        except Exception as err:  # noqa: BLE001 - any import failure is the reason recorded
            reference_status = f"not timed: nequip does not import ({type(err).__name__}: {err})"
    systems = structures()
    rows = []
    notes = []
    if "aspirin" not in systems:
        notes.append(f"aspirin not timed: {ASPIRIN} not found (set MLIP_BENCH_SHARED)")
    for name, atoms in systems.items():
        for l_max in args.lmax:
            calc, config = ours(l_max, atoms)
            row = {"molecule": name, "atoms": len(atoms), "l_max": l_max, "implementation": "mlip-bench"}
            row.update(time_md(calc, atoms, args.steps, args.warmup, args.repeats))
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.compiled:
                rows.append(compiled_row(calc.potential, atoms, row, args))
                print(json.dumps(rows[-1]), flush=True)
            if nequip_version is None:
                continue
            row = {"molecule": name, "atoms": len(atoms), "l_max": l_max, "implementation": f"nequip {nequip_version}"}
            try:
                neighbours = calc.potential.statistics.avg_num_neighbors  # the same normalisation as ours
                ref = reference(l_max, atoms, config, float(neighbours))
                row.update(time_md(ref, atoms, args.steps, args.warmup, args.repeats))
            except Exception as err:  # noqa: BLE001 - recorded, the other timings go on
                row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            rows.append(row)
            print(json.dumps(row), flush=True)
    for name in systems:
        for l_max in args.lmax:
            pair = {r["implementation"]: r for r in rows if r["molecule"] == name and r["l_max"] == l_max}
            mine, theirs = pair.get("mlip-bench"), pair.get(f"nequip {nequip_version}")
            if mine and theirs and "steps_per_second_best" in theirs:
                mine["speed_vs_reference"] = round(mine["steps_per_second_best"] / theirs["steps_per_second_best"], 3)
    result = {
        "benchmark": "md_speed",
        "description": "ASE velocity Verlet steps/s (neighbour list + energy/forces + integration), "
        f"{TIMESTEP_FS} fs, untrained CPU-size NequIP (4 layers, 32 features, r_max 4 Å, float32)",
        "command": "python benchmarks/md_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "reference": reference_status,
        "threads": args.threads,
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "ase": ase.__version__,
            "mlip_bench": getattr(mlip_bench, "__version__", "dev"),
            "nequip": nequip_version,
        },
        "notes": notes
        + ["the machine was shared with a background training job on both cores: compare rows with each other"],
        "rows": rows,
    }
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
