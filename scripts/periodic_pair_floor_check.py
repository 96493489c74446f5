"""Re-judge the periodic MD records against the per-species-pair stability floors.

MD records written before 2026-12-02 judged periodic systems by one 0.5 Å floor. Their
trajectories are not kept, but each record stores the RDF of the MD samples (every
``sample_every`` steps, bins of 0.05 Å) per species pair. This script computes each pair's floor
from the dataset exactly as ``mlip-bench md`` now does (0.75 x the pair's shortest distance in the
reference frames, at least 0.5 Å) and reports, per record and pair, the shortest sampled MD
distance (the first non-empty RDF bin) against that floor:

* ``below``: a whole bin lies below the floor, so some sampled frame breaks the per-pair rule;
* ``at``: the floor falls inside the first non-empty bin (cannot tell at 0.05 Å resolution);
* ``clear``: no sampled frame comes closer than the floor.

It judges sampled frames only (the stability check itself runs every step), and it cannot tell
which replica broke the rule, because the RDF pools the replicas. Needs the dataset stores
(``MLIP_BENCH_ROOT``).

    MLIP_BENCH_ROOT=/work/data python scripts/periodic_pair_floor_check.py leaderboard/results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from mlip_bench.data.catalog import open_store, resolve_variant
from mlip_bench.md.runner import reference_frames
from mlip_bench.md.stability import StabilityCheck
from mlip_bench.results.md_schema import MDRecord

MAX_REFERENCE_FRAMES = 1000  # the default of ``mlip-bench md --max-reference-frames``


def floors_for(record: MDRecord) -> dict[str, float]:
    """The pair floors (Å) the current rule gives ``record``'s system, keyed ``"C-Cu"``."""
    variant = resolve_variant(record.settings.dataset)
    store = open_store(variant)
    try:
        start = store.frame(record.replicas[0].start_frame)
        ref = reference_frames(store, start.numbers, MAX_REFERENCE_FRAMES, record.settings.seed, variant)
    finally:
        store.close()
    check = StabilityCheck.for_system(
        start.positions, start.numbers, start.cell, start.pbc, ref.positions, reference_cells=ref.cells
    )
    return check.floors_by_name() or {}


def shortest_sampled(r_a: list[float], g: list[float]) -> tuple[float, float] | None:
    """The bounds (Å) of the first non-empty bin of an RDF sampled at bin centres ``r_a``."""
    r = np.asarray(r_a)
    nonzero = np.nonzero(np.asarray(g) > 0)[0]
    if len(nonzero) == 0:
        return None
    half = (r[1] - r[0]) / 2
    k = int(nonzero[0])
    return float(r[k] - half), float(r[k] + half)


def verdict(bounds: tuple[float, float] | None, floor: float) -> str:
    """``below``, ``at`` or ``clear``: the first non-empty bin ``bounds`` (Å) against ``floor`` (Å)."""
    if bounds is None or bounds[0] >= floor:
        return "clear"
    return "below" if bounds[1] <= floor else "at"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="results folders (their md/ folders are read)")
    args = parser.parse_args()
    paths = sorted(p for folder in args.folders for p in folder.rglob("md/*.json"))
    print("| MD record | stable (rule of the record) | pair | floor (Å) | shortest sampled MD distance (Å) | verdict |")
    print("|---|---|---|---:|---|---|")
    for path in paths:
        record = MDRecord.model_validate(json.loads(path.read_text()))
        if record.stability.kind != "periodic":
            continue
        floors = record.stability.pair_floors_a or floors_for(record)
        stable = f"{record.stability.n_stable}/{record.stability.n_replicas}"
        stable += " (pair floors)" if record.stability.pair_floors_a else " (0.5 Å floor)"
        for pair, curve in sorted(record.observables.rdf.items()):
            floor = floors.get(pair, 0.5)
            bounds = shortest_sampled(curve.r_a, curve.md)
            shortest = "none" if bounds is None else f"{bounds[0]:.2f}-{bounds[1]:.2f}"
            print(f"| {record.md_id} | {stable} | {pair} | {floor:.2f} | {shortest} | {verdict(bounds, floor)} |")


if __name__ == "__main__":
    main()
