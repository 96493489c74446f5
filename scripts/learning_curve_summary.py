"""Print the tables REPLICATION.md quotes, from the run records in the given folders:

1. learning curves (datasets run at several training sizes): per dataset and model, the mean test
   force MAE (meV/Å) at each size and the fitted exponent b of MAE = a n^b (force and energy) with
   its 95 % interval;
2. single-size datasets (3BPA, the periodic sets): mean ± std over seeds of the energy MAE
   (meV/atom) and force MAE (meV/Å) on the test set and on every extra named test set.

    python scripts/learning_curve_summary.py leaderboard/results
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlip_bench.leaderboard.tables import Stat, build_curves
from mlip_bench.results.io import load_records

FORCE = "force_mae"
ENERGY = "energy_mae"


def _slope(curve, key: str) -> str:
    fit = curve.fit(key)
    if fit is None:
        return "-"
    if fit.has_interval:
        return f"{fit.slope:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}]"
    return f"{fit.slope:.2f}"


def _cell(stat: Stat | None) -> str:
    """'mean ± std' over seeds, 'mean' for one seed, '-' for none."""
    if stat is None:
        return "-"
    return f"{stat.mean:.1f} ± {stat.std:.1f}" if stat.std is not None else f"{stat.mean:.1f}"


def main(folders: list[str]) -> None:
    records = load_records([Path(f) for f in folders])
    curves = build_curves(records)
    ladders = [c for c in curves if len(c.n_trains) > 1]
    singles = [c for c in curves if len(c.n_trains) == 1]
    sizes = sorted({n for c in ladders for n in c.n_trains})
    head = " | ".join(f"F@{n}" for n in sizes)
    print(f"| dataset | model | seeds | {head} | force slope | energy slope |")
    print("|---" * (5 + len(sizes)) + "|")
    for curve in sorted(ladders, key=lambda c: (c.dataset, c.protocol, c.model)):
        stats = curve.stats_by_n(FORCE)
        cells = [_cell(stats.get(n)) for n in sizes]
        seeds = ",".join(str(x) for x in curve.seeds)
        print(
            f"| {curve.dataset} | {curve.model} [{curve.protocol}] | {seeds} | "
            + " | ".join(cells)
            + f" | {_slope(curve, FORCE)} | {_slope(curve, ENERGY)} |"
        )
    if not singles:
        return
    print()
    print("| dataset | model | seeds | n_train | test set | E MAE (meV/atom) | F MAE (meV/Å) |")
    print("|---" * 7 + "|")
    for curve in sorted(singles, key=lambda c: (c.dataset, c.protocol, c.model)):
        runs = [r for r in curve.runs if r.status == "complete"]
        seeds = ",".join(str(x) for x in curve.seeds)
        for name in sorted({k for r in runs for k in r.metrics}, key=lambda k: (k != "test", k)):
            sets = [r.metrics[name] for r in runs if name in r.metrics]
            print(
                f"| {curve.dataset} | {curve.model} [{curve.protocol}] | {seeds} | {curve.n_trains[0]} | {name} | "
                f"{_cell(Stat.of(m.energy_mae_mev_per_atom for m in sets))} | "
                f"{_cell(Stat.of(m.force_mae_mev_per_a for m in sets))} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:] or ["leaderboard/results"])
