"""Choose each baseline's learning rate on validation, not by hand (issue 10, "fair baselines").

    python scripts/baseline_lr_grid.py --records leaderboard/results/plateau --work runs/lr-grid \
        [--models schnet] [--n-train 50] [--grid 3e-4 1e-3 3e-3] [--run] [--out benchmarks/results/baseline_lr_grid.json]

For each model, trains MD17 ethanol (seed 0, the ``plateau`` protocol, which trains until a
plateau rule certifies convergence) at each learning rate of ``--grid`` and picks the one with
the lowest best validation loss (the quantity model selection uses; the validation force MAE in
meV/Å is printed beside it). The run at the preset's own learning rate is the learning-curve
record itself when ``--records`` holds it; the others get a ``+<hash>`` protocol label and live
under ``--work``. Without ``--run`` only existing records are read. The winner is what the
``plateau`` preset's ``learning_rate_by_model`` should say; the script prints whether it does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DATASET = "md17/ethanol"
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=Path, required=True, help="folder with the plateau learning-curve records")
    parser.add_argument("--work", type=Path, default=Path("runs/lr-grid"))
    parser.add_argument("--models", nargs="+", default=["schnet"])
    parser.add_argument("--n-train", type=int, default=50)
    parser.add_argument("--grid", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3])
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from mlip_bench.results.io import read_record
    from mlip_bench.train.harness import cell_run_id, run_cell
    from mlip_bench.train.protocols import load_protocol

    preset = load_protocol("plateau", "molecule")
    result: dict = {
        "dataset": DATASET,
        "seed": SEED,
        "n_train": args.n_train,
        "protocol": "plateau",
        "selection": "lowest best validation loss",
        "command": " ".join(sys.argv),
        "models": {},
    }
    for model in args.models:
        network = model.split("-cpu")[0]
        preset_lr = preset.learning_rate_for(network)
        rows = []
        for lr in args.grid:
            if abs(lr - preset_lr) < 1e-12:
                folder, overrides = args.records, None
            else:
                folder = args.work
                overrides = {"learning_rate_by_model": {**preset.learning_rate_by_model, network: lr}}
            rid = cell_run_id(model, DATASET, args.n_train, SEED, "plateau", overrides)
            path = folder / "records" / f"{rid}.json"
            if path.exists():
                record = read_record(path)
            elif args.run:
                print(f"{model} lr {lr:g}: training {rid}", file=sys.stderr)
                record = run_cell(model, DATASET, args.n_train, SEED, "plateau", folder, overrides=overrides)
            else:
                print(f"{model} lr {lr:g}: no record {path}", file=sys.stderr)
                continue
            h = record.validation_history
            best = min(range(len(h.val_loss)), key=h.val_loss.__getitem__)
            rows.append(
                {
                    "learning_rate": lr,
                    "run_id": rid,
                    "best_val_loss": h.val_loss[best],
                    "best_val_force_mae_mev_per_a": h.val_force_mae_mev_per_a[best],
                    "test_force_mae_mev_per_a": record.metrics["test"].force_mae_mev_per_a,
                    "steps": record.timings.steps,
                    "converged": record.certified,
                }
            )
            print(
                f"{model} lr {lr:g}: best val loss {h.val_loss[best]:.4g}, val F {h.val_force_mae_mev_per_a[best]:.1f} "
                f"meV/Å, {record.timings.steps} steps, certified {record.certified}",
                file=sys.stderr,
            )
        if rows:
            winner = min(rows, key=lambda r: r["best_val_loss"])
            result["models"][model] = {
                "grid": rows,
                "chosen_learning_rate": winner["learning_rate"],
                "preset_learning_rate": preset_lr,
                "preset_agrees": abs(winner["learning_rate"] - preset_lr) < 1e-12,
            }
            print(f"{model}: chosen {winner['learning_rate']:g}, preset {preset_lr:g}", file=sys.stderr)
    text = json.dumps(result, indent=1)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
