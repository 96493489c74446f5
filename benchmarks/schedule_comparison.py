"""Which learning-rate schedule reaches the lowest validation error per CPU-second?

    python benchmarks/schedule_comparison.py --plateau-records leaderboard/results/plateau \
        --out benchmarks/results/schedule_comparison.json [--n-train 50 950] [--run]

Candidates, all with the paper's loss, optimiser (Adam, AMSGrad), batch 5 and EMA 0.99, on MD17
ethanol, ``nequip-l1-cpu``, seed 0:

- ``plateau``: the ``plateau`` preset (validation every ~100 steps, LR halved after 4 validations
  without gain, stop at 1/100 of the start LR or after 20 validations without gain). Its runs
  are the committed learning-curve records (``--plateau-records``), not rerun here.
- ``cosine``: linear warm-up over 5 % of the steps, then cosine decay to zero, with the *same
  number of optimiser steps* the plateau run took at that size (a budget-aware schedule given
  the budget the plateau rule found).
- ``plateau-lr2x``: the plateau preset started at twice the learning rate (0.02; "larger
  learning rates early").
- ``short``: the old fixed budget (1000 / 3000 steps at 50 / 950 frames), for reference.

With ``--run`` the missing candidate runs are trained through the harness (``run_cell``, records
under ``--work``, default ``runs/schedule-comparison``); without it, only records already there
are read. The JSON holds, per candidate and size: validation force MAE (meV/Å) against optimiser
step and against training seconds (from the record's validation history), the best validation
force MAE, the test force and energy MAE of the selected weights, the steps and training time.
Seconds come from 1-thread runs on a shared 2-core machine: compare within a size, not across
machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

MODEL = "nequip-l1-cpu"
DATASET = "md17/ethanol"
SEED = 0
SHORT_STEPS = {50: 1000, 950: 3000}


def _plateau_record(folder: Path, n_train: int):
    from mlip_bench.results.io import read_record

    path = folder / "records" / f"{MODEL}__md17-ethanol__n{n_train}__s{SEED}__plateau.json"
    return read_record(path) if path.exists() else None


def candidates(plateau_steps: int, n_train: int) -> dict[str, tuple[str, dict]]:
    """name -> (protocol preset, overrides) for the runs this script trains."""
    return {
        "cosine": (
            "plateau",
            {
                "lr_schedule": "cosine",
                "warmup_steps": max(1, plateau_steps // 20),
                "max_steps": plateau_steps,
                "early_stopping_patience": 1_000_000,
            },
        ),
        "plateau-lr2x": ("plateau", {"learning_rate": 0.02}),
        "short": ("short", {}),
    }


def summarise(record) -> dict:
    """The comparison's numbers from one record."""
    h = record.validation_history
    seconds = record.timings.train_seconds if record.timings else float("nan")
    steps = record.timings.steps if record.timings else 0
    out = {
        "run_id": record.run_id,
        "steps": steps,
        "train_seconds": seconds,
        "test_force_mae_mev_per_a": record.metrics["test"].force_mae_mev_per_a,
        "test_energy_mae_mev_per_atom": record.metrics["test"].energy_mae_mev_per_atom,
        "converged": record.certified,
        "stop": record.notes,
    }
    if h is not None and h.step:
        per_step = seconds / max(steps, 1)
        out["history"] = {
            "step": h.step,
            "seconds": [round(s * per_step, 1) for s in h.step],
            "val_force_mae_mev_per_a": h.val_force_mae_mev_per_a,
            "lr": h.lr,
        }
        out["best_val_force_mae_mev_per_a"] = min(h.val_force_mae_mev_per_a)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plateau-records", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("runs/schedule-comparison"))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--n-train", type=int, nargs="+", default=[50, 950])
    parser.add_argument("--only", nargs="+", default=None, help="train only these candidates")
    parser.add_argument("--run", action="store_true", help="train the missing candidate runs")
    args = parser.parse_args()
    from mlip_bench.results.io import read_record
    from mlip_bench.train.harness import cell_run_id, run_cell

    result: dict = {"model": MODEL, "dataset": DATASET, "seed": SEED, "command": " ".join(sys.argv), "sizes": {}}
    for n_train in args.n_train:
        plateau = _plateau_record(args.plateau_records, n_train)
        if plateau is None:
            print(f"n={n_train}: no plateau record in {args.plateau_records}; skipped", file=sys.stderr)
            continue
        size = {"plateau": summarise(plateau)}
        for name, (preset, overrides) in candidates(plateau.timings.steps, n_train).items():
            rid = cell_run_id(MODEL, DATASET, n_train, SEED, preset, overrides)
            path = args.work / "records" / f"{rid}.json"
            if path.exists():
                size[name] = summarise(read_record(path))
            elif args.run and (args.only is None or name in args.only):
                print(f"n={n_train}: training {name} ({rid})", file=sys.stderr)
                size[name] = summarise(run_cell(MODEL, DATASET, n_train, SEED, preset, args.work, overrides=overrides))
        result["sizes"][str(n_train)] = size
        for name, s in size.items():
            print(
                f"n={n_train} {name:13s} steps {s['steps']:6d} {s['train_seconds']:7.0f} s  "
                f"best val F {s.get('best_val_force_mae_mev_per_a', float('nan')):6.1f}  "
                f"test F {s['test_force_mae_mev_per_a']:6.1f} meV/Å",
                file=sys.stderr,
            )
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
