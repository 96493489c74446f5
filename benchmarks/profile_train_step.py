"""Where a training step's time goes: phases and operators of one trainer step, as JSON.

    python benchmarks/profile_train_step.py --models nequip-l1-cpu schnet \
        --out benchmarks/results/train_step_profile.json

Same setting as ``bench_train_step.py`` (1 CPU thread, MD17 aspirin from ../shared/data, batch 5,
float32 networks). For each model, ``--steps`` steps after 10 warm-up steps are timed phase by
phase, in the order the trainer takes them:

- ``collate``: the batch of cached graphs joined into one;
- ``forward_energy``: the network's energy (the graph kept for forces);
- ``forces``: -dE/dr with ``create_graph`` (the first backward pass);
- ``loss_backward``: the loss's gradient to the weights (the second, double backward pass);
- ``optimizer``: the gradient check, Adam step and EMA update.

A second pass under ``torch.profiler`` gives the operators with the most self time. The fractions
say which of the levers named in issue 10 (host syncs, collation, caching, compile) can pay: a
phase that takes 5 % of a step cannot make the step 2x faster.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PHASES = ("collate", "forward_energy", "forces", "loss_backward", "optimizer")


def profile(model: str, steps: int) -> dict:
    """Phase times (ms, median over ``steps``) and the top operators of one ``model`` step."""
    import torch
    from bench_train_step import aspirin_graphs

    from mlip_bench.data.graphs import collate
    from mlip_bench.models.registry import build_potential
    from mlip_bench.train.protocols import load_protocol
    from mlip_bench.train.trainer import Trainer

    config, stats, graphs = aspirin_graphs(model)
    torch.manual_seed(0)
    potential = build_potential(config, stats)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(potential, load_protocol("plateau", "molecule"), graphs[:200], graphs[200:250], Path(tmp))
        trainable = [p for p in potential.parameters() if p.requires_grad]

        def step(k: int, clock: dict[str, list[float]] | None) -> None:
            marks = [time.perf_counter()]
            batch = collate([graphs[(5 * k + j) % 200] for j in range(5)])
            marks.append(time.perf_counter())
            potential.train()
            trainer.optimizer.zero_grad(set_to_none=True)
            batch.pos.requires_grad_(True)
            prediction = potential(batch, compute_forces=False, training=True)
            energy = prediction["energy"]
            marks.append(time.perf_counter())
            (grad,) = torch.autograd.grad(energy.sum(), batch.pos, create_graph=True)
            prediction["forces"] = -grad
            marks.append(time.perf_counter())
            terms = trainer.loss_fn(prediction, batch)
            terms.total.backward()
            marks.append(time.perf_counter())
            grads = [p.grad for p in trainable if p.grad is not None]
            bool(torch.stack(torch._foreach_norm(grads)).isfinite().all())
            trainer.optimizer.step()
            trainer.ema.update()
            marks.append(time.perf_counter())
            if clock is not None:
                for name, a, b in zip(PHASES, marks[:-1], marks[1:], strict=True):
                    clock[name].append(1000.0 * (b - a))

        for k in range(10):
            step(k, None)
        clock: dict[str, list[float]] = {name: [] for name in PHASES}
        for k in range(10, 10 + steps):
            step(k, clock)
        # the trainer's own step, for comparison with the sum of the phases
        own = []
        for k in range(10 + steps, 10 + 2 * steps):
            started = time.perf_counter()
            trainer._train_step([(5 * k + j) % 200 for j in range(5)])
            own.append(1000.0 * (time.perf_counter() - started))
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for k in range(steps):
                trainer._train_step([(5 * k + j) % 200 for j in range(5)])
    phases = {name: statistics.median(values) for name, values in clock.items()}
    total = sum(phases.values())
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    all_self = sum(e.self_cpu_time_total for e in events)
    return {
        "phase_ms": phases,
        "phase_fraction": {name: value / total for name, value in phases.items()},
        "sum_of_phases_ms": total,
        "trainer_step_ms": statistics.median(own),
        "top_operators": [
            {"name": e.key, "self_fraction": e.self_cpu_time_total / all_self, "calls_per_step": e.count / steps}
            for e in events[:12]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["nequip-l1-cpu", "schnet"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: print only)")
    args = parser.parse_args()
    result = {
        "dataset": "md17/aspirin (../shared/data), batch 5",
        "threads": 1,
        "command": "benchmarks/profile_train_step.py " + " ".join(sys.argv[1:]),
        "load_average_start": os.getloadavg()[0],
        "models": {m: profile(m, args.steps) for m in args.models},
        "load_average_end": os.getloadavg()[0],
    }
    for name, r in result["models"].items():
        shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in r["phase_fraction"].items())
        print(f"{name}: step {r['trainer_step_ms']:.1f} ms; {shares}")
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text + "\n")
        tmp.replace(args.out)
    else:
        print(text)


if __name__ == "__main__":
    main()
