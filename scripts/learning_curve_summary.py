"""Print the learning-curve table REPLICATION.md quotes: per dataset and model, the mean test
errors at each training size (meV/Å for forces, meV per molecule for energies) and the fitted
exponent b of MAE = a n^b with its 95 % interval, from the run records in the given folders.

    python scripts/learning_curve_summary.py leaderboard/results
"""

from __future__ import annotations

import sys
from pathlib import Path

from mlip_bench.leaderboard.tables import build_curves
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


def main(folders: list[str]) -> None:
    records = load_records([Path(f) for f in folders])
    curves = build_curves(records)
    sizes = sorted({r.n_train for r in records})
    head = " | ".join(f"F@{n}" for n in sizes)
    print(f"| dataset | model | seeds | {head} | force slope | energy slope |")
    print("|---" * (5 + len(sizes)) + "|")
    for curve in sorted(curves, key=lambda c: (c.dataset, c.protocol, c.model)):
        stats = curve.stats_by_n(FORCE)
        cells = []
        for n in sizes:
            s = stats.get(n)
            if s is None:
                cells.append("-")
            elif s.n > 1:
                cells.append(f"{s.mean:.1f} ± {s.std:.1f}")
            else:
                cells.append(f"{s.mean:.1f}")
        seeds = ",".join(str(x) for x in curve.seeds)
        print(
            f"| {curve.dataset} | {curve.model} [{curve.protocol}] | {seeds} | "
            + " | ".join(cells)
            + f" | {_slope(curve, FORCE)} | {_slope(curve, ENERGY)} |"
        )


if __name__ == "__main__":
    main(sys.argv[1:] or ["leaderboard/results"])
