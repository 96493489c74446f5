"""Timing worker for the reference implementation (PyPI ``nequip`` 0.19.x), run by bench_models.py.

Runs in any interpreter where ``nequip`` imports (a separate venv is fine; it needs only numpy,
torch, ase and nequip, not mlip-bench). Reads systems from an npz written by bench_models.py,
times the same protocol (training step, inference per configuration) and prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def build_model(l_max: int, args, type_names, avg_num_neighbors: float):
    """The reference model; ``--compile`` uses nequip's own train-time compile (compile_mode="compile")."""
    from nequip.model import NequIPGNNModel

    extra = {"compile_mode": "compile"} if args.compile else {}
    return NequIPGNNModel(
        **extra,
        seed=0,
        model_dtype="float32",
        r_max=args.r_max,
        type_names=type_names,
        num_layers=args.num_layers,
        l_max=l_max,
        parity=True,
        num_features=args.num_features,
        radial_mlp_depth=args.radial_depth,
        radial_mlp_width=args.radial_width,
        num_bessels=args.num_basis,
        bessel_trainable=True,
        polynomial_cutoff_p=6,
        avg_num_neighbors=avg_num_neighbors,
        per_type_energy_scales=1.0,
        per_type_energy_shifts=0.0,
    )


def make_batch(pos, numbers, cell, pbc, r_max, type_of):
    import ase
    from nequip.data import AtomicDataDict, compute_neighborlist_, from_ase

    frames = []
    for k in range(len(pos)):
        atoms = ase.Atoms(numbers=numbers, positions=pos[k], cell=cell, pbc=pbc)
        data = from_ase(atoms)
        data["atom_types"] = torch.as_tensor([type_of[int(z)] for z in numbers], dtype=torch.long)
        data = compute_neighborlist_(data, r_max)
        # positions stay float64 as nequip's own data pipeline gives them; the model casts its edge
        # embeddings to model_dtype (float32), so the network itself runs in float32
        frames.append(data)
    return AtomicDataDict.batched_from_list(frames)


def median_ms(fn, repeats: int, warmup: int) -> tuple[float, float, float]:
    """(median wall ms, min wall ms, median process-CPU ms) over ``repeats`` calls after ``warmup``."""
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1000.0 * float(np.median(times)), 1000.0 * float(np.min(times)), 1000.0 * float(np.median(cpu))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", required=True)
    parser.add_argument("--lmax", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--r-max", type=float, default=4.0)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--num-features", type=int, default=32)
    parser.add_argument("--num-basis", type=int, default=8)
    parser.add_argument("--radial-depth", type=int, default=2)
    parser.add_argument("--radial-width", type=int, default=64)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--only", default=None, help="measure only this system")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import nequip
    from nequip.utils.global_state import set_global_state

    set_global_state(allow_tf32=False)
    systems = np.load(args.systems)
    names = sorted({k.split(":")[0] for k in systems.files})
    species = sorted({int(z) for name in names for z in systems[f"{name}:numbers"]})
    from ase.data import chemical_symbols

    type_names = [chemical_symbols[z] for z in species]
    type_of = {z: k for k, z in enumerate(species)}
    results = []
    for name in [n for n in names if args.only in (None, n)]:
        pos = systems[f"{name}:pos"]
        numbers = systems[f"{name}:numbers"]
        batch = make_batch(pos, numbers, systems[f"{name}:cell"], systems[f"{name}:pbc"], args.r_max, type_of)
        energy = torch.as_tensor(systems[f"{name}:energy"], dtype=torch.float32)
        forces = torch.as_tensor(systems[f"{name}:forces"].reshape(-1, 3), dtype=torch.float32)
        avg = float(batch["edge_index"].shape[1]) / float(len(batch["pos"]))
        for l_max in args.lmax:
            row = {
                "implementation": f"nequip {nequip.__version__}",
                "system": name,
                "l_max": l_max,
                "mode": "compile" if args.compile else "eager",
            }
            try:
                model = build_model(l_max, args, type_names, avg)
                optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
                runner = model

                def train_step():
                    optimizer.zero_grad(set_to_none=True)
                    out = runner(dict(batch))
                    e = out["total_energy"].reshape(-1)
                    loss = ((e - energy.reshape(-1)) ** 2).mean() + ((out["forces"] - forces) ** 2).mean()
                    loss.backward()
                    optimizer.step()

                model.train()
                try:
                    t0 = time.perf_counter()
                    row["train_step_ms"], row["train_step_min_ms"], row["train_step_cpu_ms"] = median_ms(
                        train_step, args.repeats, args.warmup
                    )
                    if args.compile:
                        row["compile_and_measure_s"] = round(time.perf_counter() - t0, 1)
                except Exception as err:
                    row["train_error"] = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:300]}"
                model.eval()

                def infer():
                    runner(dict(batch))["forces"].detach()

                row["inference_ms_per_config"] = median_ms(infer, args.repeats, args.warmup)[0] / len(pos)
                row["n_params"] = sum(p.numel() for p in model.parameters())
                import resource

                row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            except Exception as err:  # report, do not abort the whole benchmark
                row["error"] = f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"
            print(json.dumps(row), flush=True)
            results.append(row)


if __name__ == "__main__":
    main()
