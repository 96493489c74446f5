"""Training steps per second, eager against compiled (``Trainer(compile_step=True)``).

    python benchmarks/bench_compiled_step.py --out benchmarks/results/train_step_compiled.json \
        [--models nequip-l1-cpu nequip-l2-cpu schnet] [--molecules ethanol aspirin] [--rounds 2]

Per model and MD17 molecule (../shared/data, batch 5, 1 CPU thread, float32 networks), in
separate processes, eager and compiled alternating for ``--rounds`` rounds so that load changes
on a shared machine hit both alike:

- ``step_ms``: one training step as the trainer takes it (collate, loss and its parameter
  gradient, gradient check, Adam, EMA), median over ``--steps`` steps after 10 warm-up steps;
- ``compile_s`` (compiled only): the first step, i.e. tracing, Inductor compilation and the
  one-off check of the graph against the eager step;
- ``first_loss`` and ``first_grad_norm``: the loss and gradient norm of the very first step
  from the same seeded weights, so the JSON shows both paths compute the same numbers.

The JSON keeps every round, the medians and ``speedup`` = eager step_ms / compiled step_ms.
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


def measure(model: str, molecule: str, compiled: bool, steps: int) -> dict[str, float | str]:
    """One process's figures for ``model`` on ``molecule`` with eager or compiled steps."""
    import torch

    sys.path.insert(0, str(HERE))
    from bench_train_step import aspirin_graphs

    from mlip_bench.models.registry import build_potential
    from mlip_bench.train.protocols import load_protocol
    from mlip_bench.train.trainer import Trainer

    config, statistics_, graphs = aspirin_graphs(model, molecule)
    torch.manual_seed(0)
    potential = build_potential(config, statistics_)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            potential,
            load_protocol("plateau", "molecule"),
            graphs[:200],
            graphs[200:250],
            Path(tmp),
            compile_step=compiled,
        )
        times, first = [], {}
        for k in range(10 + steps):
            batch = [(5 * k + j) % 200 for j in range(5)]
            started = time.perf_counter()
            loss = trainer._train_step(batch)
            elapsed = time.perf_counter() - started
            if k == 0:
                grads = [p.grad for p in potential.parameters() if p.grad is not None]
                first = {
                    "first_loss": loss,
                    "first_grad_norm": float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))),
                    "first_step_s": elapsed,
                }
            if k >= 10:
                times.append(elapsed)
        mode = trainer.train_step_mode
    out: dict[str, float | str] = {
        "mode": mode,
        "step_ms": 1000.0 * statistics.median(times),
        "step_ms_min": 1000.0 * min(times),
        **first,
    }
    if compiled:
        out["compile_s"] = out.pop("first_step_s")
    else:
        out.pop("first_step_s")
    return out


def _in_subprocess(model: str, molecule: str, compiled: bool, steps: int) -> dict[str, float | str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    command = [sys.executable, str(Path(__file__).resolve()), "--measure", model, molecule, str(int(compiled))]
    out = subprocess.run(command + ["--steps", str(steps)], env=env, capture_output=True, text=True, cwd=str(REPO))
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here (also printed)")
    parser.add_argument("--models", nargs="+", default=["nequip-l1-cpu", "nequip-l2-cpu", "schnet"])
    parser.add_argument("--molecules", nargs="+", default=["ethanol", "aspirin"])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--measure", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        model, molecule, compiled = args.measure
        print(json.dumps(measure(model, molecule, compiled == "1", args.steps)))
        return
    result: dict = {
        "setting": "MD17 (../shared/data), batch 5, 1 thread, plateau protocol's optimiser",
        "command": " ".join(sys.argv),
        "load_average_start": os.getloadavg()[0],
        "cells": [],
    }
    for molecule in args.molecules:
        for model in args.models:
            rounds: dict[str, list] = {"eager": [], "compiled": []}
            for _ in range(args.rounds):
                rounds["eager"].append(_in_subprocess(model, molecule, False, args.steps))
                rounds["compiled"].append(_in_subprocess(model, molecule, True, args.steps))
            cell: dict = {"model": model, "molecule": molecule, "rounds": rounds}
            for mode, rows in rounds.items():
                good = [r for r in rows if "step_ms" in r]
                if good:
                    cell[f"{mode}_step_ms"] = statistics.median(r["step_ms"] for r in good)
            if "eager_step_ms" in cell and "compiled_step_ms" in cell:
                cell["speedup"] = cell["eager_step_ms"] / cell["compiled_step_ms"]
            result["cells"].append(cell)
            print(
                f"{molecule} {model}: " + ", ".join(f"{k} {v:.3g}" for k, v in cell.items() if isinstance(v, float)),
                file=sys.stderr,
            )
    result["load_average_end"] = os.getloadavg()[0]
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
