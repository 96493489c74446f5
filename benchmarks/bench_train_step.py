"""Training throughput: optimiser steps per second of our trainer, this checkout against another.

    python benchmarks/bench_train_step.py --out benchmarks/results/train_step.json \
        [--before-src /path/to/older/checkout] [--models nequip-l1-cpu schnet] [--rounds 3]

Two figures per model, each on 1 CPU thread, MD17 aspirin from ../shared/data (batch 5, 21 atoms
per molecule), float32 networks:

- ``step_ms``: one training step as the trainer takes it (collate the batch, forward, forces with
  create_graph, loss, backward, gradient check, Adam step, EMA update); median over ``--steps``
  steps after 10 warm-up steps.
- ``run_steps_per_s``: a whole 300-step run at n_train = 50 through ``Trainer.fit`` (training,
  validation on 50 frames, checkpoints) with each code's default validation cadence for the
  learning-curve protocol (``short`` before: every epoch = every 10 steps; ``plateau`` when this
  checkout has it: every 100 steps).

With ``--before-src`` the same measurements run on another checkout (e.g. a ``git worktree`` of
an older commit), alternating before/after in separate processes for ``--rounds`` rounds so
that load changes on a shared machine hit both alike; the JSON keeps every round and the ratio
of medians. Without it, only this checkout is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SHARED = Path(os.environ.get("MLIP_BENCH_SHARED", REPO.parent / "shared"))


def md17_files(molecule: str) -> list[Path]:
    """The shared MD17 train and val files of ``molecule`` (e.g. "aspirin", "ethanol")."""
    return [SHARED / f"data/md17/mdbench_{molecule}_{part}_nequip_npz.npz" for part in ("train", "val")]


def _frames(n: int, molecule: str = "aspirin"):
    """The first ``n`` frames of ``molecule``'s MD17 train and val files (positions Å, energies eV)."""
    import numpy as np

    from mlip_bench.data.frame import Frame

    frames = []
    for path in md17_files(molecule):
        data = np.load(path)
        for k in range(len(data["energy"])):
            frames.append(
                Frame(
                    positions=data["pos"][k].astype(float),
                    numbers=data["atomic_numbers"].astype(int).reshape(-1)[: data["pos"].shape[1]],
                    energy=float(np.ravel(data["energy"])[k]),
                    forces=data["forces"][k].astype(float),
                    index=len(frames),
                )
            )
            if len(frames) >= n:
                return frames
    return frames


def aspirin_graphs(model: str, molecule: str = "aspirin"):
    """(model config, statistics of the first 50 frames, graphs of 250 frames of ``molecule``,
    aspirin by default) on one CPU thread: the setting every training-step benchmark here
    measures in."""
    import torch

    torch.set_num_threads(1)
    from mlip_bench.data.graphs import frame_to_graph
    from mlip_bench.models.potential import DatasetStatistics
    from mlip_bench.models.registry import load_model_config

    frames = _frames(250, molecule)
    config = load_model_config(model)
    statistics_ = DatasetStatistics.from_frames(frames[:50], config.r_max, species=[1, 6, 8])
    return config, statistics_, [frame_to_graph(f, config.r_max, config.torch_dtype) for f in frames]


def measure(model: str, steps: int) -> dict[str, float]:
    """Both figures for ``model`` with the mlip_bench that is importable now."""
    import torch

    from mlip_bench.models.registry import build_potential
    from mlip_bench.train import protocols
    from mlip_bench.train.protocols import load_protocol
    from mlip_bench.train.trainer import Trainer

    config, statistics_, graphs = aspirin_graphs(model)
    torch.manual_seed(0)
    potential = build_potential(config, statistics_)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(potential, load_protocol("short", "molecule"), graphs[:200], graphs[200:250], Path(tmp))
        times = []
        for k in range(10 + steps):
            batch = [(5 * k + j) % 200 for j in range(5)]
            started = time.perf_counter()
            trainer._train_step(batch)
            if k >= 10:
                times.append(time.perf_counter() - started)
    # an older checkout keeps its presets in a PRESETS dict, a newer one as YAML files
    presets = protocols.available_protocols() if hasattr(protocols, "available_protocols") else protocols.PRESETS
    protocol_name = "plateau" if "plateau" in presets else "short"
    torch.manual_seed(0)
    potential = build_potential(config, statistics_)
    protocol = load_protocol(protocol_name, "molecule", steps_by_n_train=None, max_steps=300)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(potential, protocol, graphs[:50], graphs[200:250], Path(tmp))
        started = time.perf_counter()
        result = trainer.fit()
        run_seconds = time.perf_counter() - started
    return {
        "step_ms": 1000.0 * statistics.median(times),
        "step_ms_min": 1000.0 * min(times),
        "run_steps_per_s": result.steps / run_seconds,
        "run_protocol": protocol_name,
    }


def _in_subprocess(src: Path, model: str, steps: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", model, "--steps", str(steps)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=str(src),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here (also printed)")
    parser.add_argument("--before-src", type=Path, default=None, help="another checkout to compare with")
    parser.add_argument("--models", nargs="+", default=["nequip-l1-cpu", "schnet"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.steps)))
        return
    result: dict = {
        "dataset": "md17/aspirin (../shared/data), batch 5",
        "threads": 1,
        "command": " ".join(sys.argv),
        "load_average_start": os.getloadavg()[0],
        "models": {},
    }
    for model in args.models:
        rounds: dict[str, list[dict[str, float]]] = {"after": [], "before": []}
        for _ in range(args.rounds):
            if args.before_src is not None:
                rounds["before"].append(_in_subprocess(args.before_src, model, args.steps))
            rounds["after"].append(_in_subprocess(REPO, model, args.steps))
        entry: dict = {"rounds": rounds}
        for key in ("step_ms", "run_steps_per_s"):
            entry[f"after_{key}"] = statistics.median(r[key] for r in rounds["after"])
            if rounds["before"]:
                entry[f"before_{key}"] = statistics.median(r[key] for r in rounds["before"])
        if rounds["before"]:
            entry["step_speedup"] = entry["before_step_ms"] / entry["after_step_ms"]
            entry["run_speedup"] = entry["after_run_steps_per_s"] / entry["before_run_steps_per_s"]
        result["models"][model] = entry
        print(f"{model}: " + ", ".join(f"{k} {v:.3g}" for k, v in entry.items() if k != "rounds"), file=sys.stderr)
    result["load_average_end"] = os.getloadavg()[0]
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
