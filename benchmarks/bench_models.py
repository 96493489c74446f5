"""Speed benchmark: mlip-bench NequIP versus the reference ``nequip`` 0.19.x, same hyperparameters.

    python benchmarks/bench_models.py --out bench.json [--reference-python /work/refvenv/bin/python]

Measures, per system and l_max (float32, 32 features, 4 layers, r_max 4 Å, 8 Bessel, radial MLP
2 x 64, 2 threads): the training-step time (forward, forces with create_graph, MSE loss on
energy and forces, backward, Adam step) on a batch of 5 aspirin configurations (21 atoms each)
and on one 64-molecule water box (192 atoms), the inference time per configuration (energy +
forces), eager and with ``torch.compile`` (failures are caught and reported), the peak resident
memory of the measuring process (ru_maxrss, each measurement in its own process), and a
torch.profiler summary of where a training step spends its time. Times are the median and the
minimum over ``--repeats`` steps after ``--warmup`` steps; on a shared machine the minimum is the
more stable number. The reference runs through ``benchmarks/reference_nequip.py`` in the
interpreter given by ``--reference-python`` (default: this one, when ``nequip`` imports), so the
reference can live in its own virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ASPIRIN = (
    Path(os.environ.get("MLIP_BENCH_SHARED", HERE.parent.parent / "shared"))
    / "data/md17/mdbench_aspirin_train_nequip_npz.npz"
)
WATER = Path(os.environ.get("MLIP_BENCH_SHARED", HERE.parent.parent / "shared")) / "data/water_deepmd/data_0"
#: reference training-step times (ms) quoted in the issue for nequip 0.19.1 on this kind of machine
#: when it was quiet (2 threads, float32, 32 features, 4 layers); printed for context only
QUOTED_REFERENCE_TRAIN_MS = {
    ("aspirin", "eager"): {0: 15, 1: 59, 2: 219},
    ("aspirin", "compile"): {0: 10, 1: 38, 2: 155},
    ("water", "eager"): {0: 48, 1: 222, 2: 1207},
}
SETTINGS = {"r_max": 4.0, "num_layers": 4, "num_features": 32, "num_basis": 8, "radial_depth": 2, "radial_width": 64}


# -- systems ------------------------------------------------------------------------------------
def build_systems(path: Path, seed: int = 0) -> dict[str, str]:
    """Write the benchmark geometries to ``path`` (npz); returns where each came from."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    origin = {}
    if ASPIRIN.is_file():
        data = np.load(ASPIRIN)
        pos, numbers = data["pos"][:5].astype(np.float64), data["atomic_numbers"].astype(np.int64)
        forces = data["forces"][:5].astype(np.float64)
        origin["aspirin"] = f"{ASPIRIN} frames 0-4"
    else:  # aspirin composition C9H8O4 in a random compact arrangement
        numbers = np.array([6] * 9 + [1] * 8 + [8] * 4)
        pos = np.stack([_random_molecule(rng, 21) for _ in range(5)])
        forces = rng.normal(size=pos.shape)
        origin["aspirin"] = "random C9H8O4 geometries (shared aspirin data not found)"
    arrays.update(
        {
            "aspirin:pos": pos,
            "aspirin:numbers": numbers,
            "aspirin:cell": np.zeros((3, 3)),
            "aspirin:pbc": np.zeros(3, bool),
            "aspirin:energy": np.zeros(5),
            "aspirin:forces": forces,
        }
    )
    set_dir = WATER / "set.000"
    if (set_dir / "coord.npy").is_file():
        types = np.array((WATER / "type.raw").read_text().split(), dtype=int)
        type_map = (WATER / "type_map.raw").read_text().split()
        from ase.data import atomic_numbers

        numbers = np.array([atomic_numbers[type_map[t]] for t in types])
        pos = np.load(set_dir / "coord.npy")[:1].reshape(1, -1, 3)
        cell = np.load(set_dir / "box.npy")[0].reshape(3, 3)
        forces = np.load(set_dir / "force.npy")[:1].reshape(1, -1, 3)
        origin["water"] = f"{WATER} frame 0"
    else:  # 64 molecules on a jittered 4x4x4 grid in a 12.42 Å box (1 g/cm^3)
        box = 12.42
        grid = np.stack(np.meshgrid(*[np.arange(4)] * 3, indexing="ij"), -1).reshape(-1, 3) * box / 4
        oxygens = grid + rng.normal(scale=0.2, size=grid.shape)
        hydrogens = [oxygens + _unit(rng, 64) * 0.96, oxygens + _unit(rng, 64) * 0.96]
        pos = np.concatenate([np.stack([oxygens, hydrogens[0], hydrogens[1]], 1).reshape(-1, 3)])[None]
        numbers = np.tile([8, 1, 1], 64)
        cell = np.eye(3) * box
        forces = rng.normal(size=pos.shape)
        origin["water"] = "random 64-molecule box (shared water data not found)"
    arrays.update(
        {
            "water:pos": pos,
            "water:numbers": numbers,
            "water:cell": cell,
            "water:pbc": np.ones(3, bool),
            "water:energy": np.zeros(1),
            "water:forces": forces,
        }
    )
    np.savez(path, **arrays)
    return origin


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _random_molecule(rng: np.random.Generator, n: int) -> np.ndarray:
    pos = [np.zeros(3)]
    while len(pos) < n:
        candidate = pos[rng.integers(len(pos))] + _unit(rng, 1)[0] * 1.3
        if min(np.linalg.norm(candidate - p) for p in pos) > 1.0:
            pos.append(candidate)
    return np.array(pos)


# -- timing -------------------------------------------------------------------------------------
def timed(fn, repeats: int, warmup: int) -> tuple[float, float, float]:
    """(median wall ms, min wall ms, median process-CPU ms) over ``repeats`` calls after ``warmup``.

    Process CPU time (all threads) is less disturbed by other jobs on a shared machine than wall time.
    """
    for _ in range(warmup):
        fn()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return 1000 * float(np.median(times)), 1000 * float(np.min(times)), 1000 * float(np.median(cpu))


def run_ours(args) -> dict:
    """Measure mlip-bench NequIP on one system / l_max in this process; returns a result row."""
    import torch

    torch.set_num_threads(args.threads)
    from mlip_bench.data.frame import Frame
    from mlip_bench.data.graphs import collate, frame_to_graph
    from mlip_bench.models.potential import DatasetStatistics
    from mlip_bench.models.registry import ModelConfig, build_potential

    systems = np.load(args.systems)
    name = args.system
    pos, numbers = systems[f"{name}:pos"], systems[f"{name}:numbers"]
    frames = [
        Frame(
            positions=pos[k],
            numbers=numbers,
            energy=0.0,
            forces=systems[f"{name}:forces"][k],
            cell=systems[f"{name}:cell"],
            pbc=systems[f"{name}:pbc"],
        )
        for k in range(len(pos))
    ]
    statistics = DatasetStatistics.from_frames(frames, SETTINGS["r_max"])
    config = ModelConfig(
        name=f"bench-l{args.lmax}",
        model="nequip",
        r_max=SETTINGS["r_max"],
        dtype="float32",
        hyperparameters=dict(
            l_max=args.lmax,
            num_layers=SETTINGS["num_layers"],
            num_features=SETTINGS["num_features"],
            num_basis=SETTINGS["num_basis"],
            invariant_layers=SETTINGS["radial_depth"],
            invariant_neurons=SETTINGS["radial_width"],
        ),
    )
    torch.manual_seed(0)
    potential = build_potential(config, statistics)
    batch = collate([frame_to_graph(f, SETTINGS["r_max"], torch.float32) for f in frames])
    energy = torch.zeros(len(frames), dtype=torch.float64)
    forces = batch.forces
    row = {
        "implementation": "mlip-bench",
        "system": name,
        "l_max": args.lmax,
        "mode": "compile" if args.compile else "eager",
        "n_atoms": int(batch.num_nodes),
        "n_edges": int(batch.edge_index.shape[1]),
        "n_params": sum(p.numel() for p in potential.parameters()),
    }
    optimizer = torch.optim.Adam(potential.parameters(), lr=1e-3)
    compiled_step = _compiled_energy_forces(potential, batch) if args.compile else None
    e0 = torch.zeros(len(frames), dtype=torch.float64).index_add(
        0, batch.batch, potential.e0[potential.species_of(batch.z)]
    )

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        if compiled_step is None:
            out = potential(batch, training=True)
        else:
            out = compiled_step()
            out["energy"] = out["energy"].double() + e0
        loss = ((out["energy"] - energy) ** 2).mean().float() + ((out["forces"] - forces) ** 2).mean()
        loss.backward()
        optimizer.step()

    def infer():
        potential(batch)["forces"].detach()

    try:
        t0 = time.perf_counter()
        row["train_step_ms"], row["train_step_min_ms"], row["train_step_cpu_ms"] = timed(
            train_step, args.repeats, args.warmup
        )
        if args.compile:
            row["compile_and_measure_s"] = round(time.perf_counter() - t0, 1)
    except Exception as err:
        row["train_error"] = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:300]}"
    try:
        if args.compile:
            potential.network = torch.compile(potential.network, dynamic=False)
        median, best, _ = timed(infer, args.repeats, args.warmup)
        row["inference_ms_per_config"], row["inference_min_ms_per_config"] = median / len(frames), best / len(frames)
    except Exception as err:
        row["inference_error"] = f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:300]}"
    if args.profile and "train_step_ms" in row:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                train_step()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events) or 1.0
        row["profile_top_ops"] = [
            {
                "op": e.key,
                "self_cpu_percent": round(100 * e.self_cpu_time_total / total, 1),
                "calls_per_step": e.count // 3,
            }
            for e in events[:8]
        ]
    return row


def _compiled_energy_forces(potential, batch):
    """Train-time compile: trace energy -> forces (create_graph) into one aten graph with make_fx,
    then ``torch.compile`` it, so the loss backward is a first-order backward of a compiled graph
    (``torch.compile`` alone cannot do the double backward a force loss needs). Returns a
    function giving ``{"energy" (B,) without E0, "forces" (N, 3)}`` for this batch's graph.
    """
    import types

    import torch
    from torch.fx.experimental.proxy_tensor import make_fx

    network = potential.network
    species = potential.species_of(batch.z)
    src, dst = batch.edge_index
    offsets = torch.zeros(len(src), 3, dtype=batch.pos.dtype)
    if batch.cell_shift.numel() and bool(batch.pbc.any()):
        offsets = torch.einsum("ek,ekc->ec", batch.cell_shift, batch.cell.reshape(-1, 3, 3)[batch.batch[dst]])
    num_graphs = int(batch.natoms.numel())
    names = [k for k, _ in network.named_parameters()]
    buffers = dict(network.named_buffers())

    def energy_forces(net_params, scale, shift, force_rms, pos):
        vec = pos[src] - pos[dst] + offsets
        data = types.SimpleNamespace(species=species, edge_index=batch.edge_index)
        per_atom = torch.func.functional_call(network, {**dict(zip(names, net_params)), **buffers}, (data, vec))
        atomic = force_rms * (scale[species] * per_atom + shift[species])
        energy = torch.zeros(num_graphs, dtype=atomic.dtype).index_add(0, batch.batch, atomic)
        (grad,) = torch.autograd.grad(energy.sum(), pos, create_graph=True)
        return energy, -grad

    def inputs():
        pos = batch.pos.detach().requires_grad_(True)
        return (
            [p for _, p in network.named_parameters()],
            potential.species_scale,
            potential.species_shift,
            potential.force_rms.to(potential.dtype),
            pos,
        )

    graph = make_fx(energy_forces)(*inputs())
    compiled = torch.compile(graph, dynamic=False)

    def step():
        energy, forces = compiled(*inputs())
        return {"energy": energy, "forces": forces}

    return step


def _subprocess_rows(command: list[str], timeout: float) -> list[dict]:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"error": f"timed out after {timeout:.0f} s: {' '.join(command[:3])}"}]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if not rows:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        rows = [{"error": f"exit {proc.returncode}: {tail[0][:300]}"}]
    return rows


def reference_python(requested: str | None) -> str | None:
    """The interpreter for the reference worker, or None when nequip cannot be imported."""
    candidate = requested or sys.executable
    check = subprocess.run([candidate, "-c", "import nequip"], capture_output=True)
    return candidate if check.returncode == 0 else None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--lmax", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--systems-to-run", nargs="+", default=["aspirin", "water"], choices=["aspirin", "water"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--modes", nargs="+", default=["eager", "compile"], choices=["eager", "compile"])
    parser.add_argument("--reference-python", default=None)
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement process")
    # worker mode (internal)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--systems", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--system", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--compile", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        args.lmax = args.lmax[0]
        row = run_ours(args)
        row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(row), flush=True)
        return row

    ref_python = None if args.no_reference else reference_python(args.reference_python)
    results = {
        "settings": {
            **SETTINGS,
            "threads": args.threads,
            "dtype": "float32",
            "repeats": args.repeats,
            "warmup": args.warmup,
            "host_cpus": os.cpu_count(),
        },
        "rows": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        systems = Path(tmp) / "systems.npz"
        results["systems"] = build_systems(systems)
        for system in args.systems_to_run:
            for l_max in args.lmax:
                for mode in args.modes:
                    ours = [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "--worker",
                        "--systems",
                        str(systems),
                        "--system",
                        system,
                        "--lmax",
                        str(l_max),
                        "--threads",
                        str(args.threads),
                        "--repeats",
                        str(args.repeats),
                        "--warmup",
                        str(args.warmup),
                    ]
                    ours += ["--compile"] if mode == "compile" else []
                    ours += ["--profile"] if (mode == "eager" and system == "aspirin") else []
                    rows = _subprocess_rows(ours, args.timeout)
                    if ref_python:
                        ref = [
                            ref_python,
                            str(HERE / "reference_nequip.py"),
                            "--systems",
                            str(systems),
                            "--only",
                            system,
                            "--lmax",
                            str(l_max),
                            "--threads",
                            str(args.threads),
                            "--repeats",
                            str(args.repeats),
                            "--warmup",
                            str(args.warmup),
                        ]
                        ref += ["--compile"] if mode == "compile" else []
                        rows += _subprocess_rows(ref, args.timeout)
                    for row in rows:
                        row.setdefault("system", system)
                        row.setdefault("l_max", l_max)
                        row.setdefault("mode", mode)
                        results["rows"].append(row)
                        print(_format_row(row), flush=True)
    results["ratios"] = _ratios(results["rows"])
    print(_summary(results))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = args.out.with_suffix(args.out.suffix + ".tmp")
        tmp_out.write_text(json.dumps(results, indent=2))
        os.replace(tmp_out, args.out)
    return results


def _format_row(row: dict) -> str:
    impl = row.get("implementation", "?")
    parts = [f"{impl:>14} {row['system']:>7} l={row['l_max']} {row['mode']:>7}"]
    for key, label in (
        ("train_step_ms", "train"),
        ("train_step_min_ms", "min"),
        ("train_step_cpu_ms", "cpu"),
        ("inference_ms_per_config", "infer/config"),
        ("peak_rss_mb", "rss MB"),
    ):
        if key in row:
            parts.append(f"{label} {row[key]:.1f}")
    for key in ("error", "train_error", "inference_error"):
        if key in row:
            parts.append(f"{key}: {row[key]}")
    return "  ".join(parts)


def _ratios(rows: list[dict]) -> list[dict]:
    """ours / reference for each (system, l_max, mode) where both have numbers (< 1: we are faster)."""
    out = []
    for row in rows:
        if row.get("implementation") != "mlip-bench":
            continue
        for ref in rows:
            if (
                ref.get("implementation", "").startswith("nequip")
                and ref["system"] == row["system"]
                and ref["l_max"] == row["l_max"]
                and ref["mode"] == row["mode"]
            ):
                entry = {"system": row["system"], "l_max": row["l_max"], "mode": row["mode"]}
                for key in ("train_step_ms", "train_step_min_ms", "train_step_cpu_ms", "inference_ms_per_config"):
                    if key in row and key in ref:
                        entry[f"{key}_ratio"] = round(row[key] / ref[key], 3)
                out.append(entry)
    return out


def _summary(results: dict) -> str:
    lines = ["", "ratio ours / reference (< 1 means mlip-bench is faster):"]
    for r in results["ratios"]:
        values = "  ".join(f"{k.replace('_ratio', '')} {v:.2f}" for k, v in r.items() if k.endswith("_ratio"))
        lines.append(f"  {r['system']:>7} l={r['l_max']} {r['mode']:>7}  {values or 'n/a'}")
    if not results["ratios"]:
        lines.append("  (reference not measured: install nequip 0.19.x and pass --reference-python)")
    lines.append("ours / reference times quoted in the issue (quiet machine; a loaded machine inflates ours):")
    for row in results["rows"]:
        quoted = QUOTED_REFERENCE_TRAIN_MS.get((row["system"], row["mode"]), {}).get(row["l_max"])
        if row.get("implementation") == "mlip-bench" and quoted and "train_step_min_ms" in row:
            lines.append(
                f"  {row['system']:>7} l={row['l_max']} {row['mode']:>7}  min train step {row['train_step_min_ms']:.1f} ms"
                f" / {quoted} ms = {row['train_step_min_ms'] / quoted:.2f}"
            )
    for row in results["rows"]:
        if row.get("profile_top_ops"):
            ops = ", ".join(f"{o['op']} {o['self_cpu_percent']}%" for o in row["profile_top_ops"][:6])
            lines.append(f"profile {row['system']} l={row['l_max']}: {ops}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
