"""Helpers for the leaderboard tests: fixture paths and factories of run and MD records.

A uniquely named module (not ``conftest``) so that imports resolve to it whichever other
``conftest.py`` pytest loaded first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlip_bench.results.md_schema import MDRecord
from mlip_bench.results.schema import RunRecord

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def make_record(
    model: str = "nequip-l1",
    n_train: int = 100,
    seed: int = 0,
    force_mae: float = 20.0,
    energy_mae: float = 10.0,
    *,
    family: str | None = None,
    l_max: int | None = 1,
    dataset: str = "md17/aspirin",
    protocol: str = "paper",
    split_sha: str | None = None,
    split_seed: int | None = None,
    status: str = "complete",
    certified: bool | None = True,
    **extra: Any,
) -> RunRecord:
    """A valid RunRecord with the given test-set errors (meV, meV/Å); 21 atoms per structure.

    ``certified``: True gives a convergence certificate (converged by the plateau rule), False a
    "still improving" record (stopped by its step budget), None a record without convergence
    information (schema version 1, like the committed ``short`` records).
    """
    split_seed = seed if split_seed is None else split_seed
    sha = split_sha or hashlib.sha256(f"{dataset}|{split_seed}".encode()).hexdigest()
    metrics = {}
    if status == "complete":
        metrics = {
            "test": {
                "n_frames": 200,
                "energy_mae_mev": energy_mae,
                "energy_rmse_mev": energy_mae * 1.3,
                "energy_mae_mev_per_atom": energy_mae / 21,
                "energy_rmse_mev_per_atom": energy_mae * 1.3 / 21,
                "force_mae_mev_per_a": force_mae,
                "force_rmse_mev_per_a": force_mae * 1.3,
            }
        }
    data: dict[str, Any] = dict(
        run_id=f"{model}-{dataset.replace('/', '-')}-n{n_train}-s{seed}-{protocol}",
        status=status,
        created=f"2026-11-20T10:{seed:02d}:00+00:00",
        model=model,
        model_family=family or model.split("-")[0],
        model_config_full={"name": model},
        l_max=l_max,
        n_parameters=1000,
        dataset={"name": dataset, "store_sha256": "ab" * 32},
        split={"name": "default", "sha256": sha, "seed": split_seed, "n_train": n_train, "n_val": 50, "n_test": 200},
        n_train=n_train,
        seed=seed,
        protocol=protocol,
        metrics=metrics,
        timings={"train_seconds": 60.0, "steps": 100, "epochs": 10},
    )
    if certified is not None:
        data["schema_version"] = 2
        data["convergence"] = (
            {"converged": True, "rule": "no-validation-gain", "best_epoch": 80, "epochs": 100}
            if certified
            else {"converged": False, "rule": "budget", "best_epoch": 99, "epochs": 100}
        )
    else:
        data["schema_version"] = 1
    data.update(extra)
    return RunRecord.model_validate(data)


def md_record(run, ttf: float, hr: float, n_stable: int = 0, steps: int = 2000, **settings) -> MDRecord:
    s = dict(ensemble="nvt", temperature_k=500.0, timestep_fs=0.5, steps=steps, replicas=3, seed=0)
    s.update(settings)
    md_id = f"{run.run_id}__md-{s['ensemble']}-{s['temperature_k']:g}K-{s['timestep_fs']:g}fs-{steps}steps-r3-s0"
    return MDRecord.model_validate(
        {
            "md_id": md_id,
            "created": "2026-11-30T12:00:00+00:00",
            "run": {
                "run_id": run.run_id,
                "model": run.model,
                "checkpoint_path": "x/best_model.pt",
                "checkpoint_sha256": "0" * 64,
                "dataset": run.dataset.name,
                "n_train": run.n_train,
                "seed": run.seed,
            },
            "settings": {**s, "sample_every": 10, "start_source": "test split", "dataset": run.dataset.name},
            "stability": {
                "criterion": "bonds",
                "kind": "molecule",
                "bond_tolerance_a": 0.5,
                "n_replicas": 3,
                "n_stable": n_stable,
                "mean_time_to_failure_ps": ttf,
                "min_time_to_failure_ps": ttf / 2,
                "length_ps": steps * s["timestep_fs"] / 1000,
            },
            "observables": {"kind": "molecule", "hr_mae": hr},
        }
    )


def write_md(record: MDRecord, folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{record.md_id}.json").write_text(json.dumps(record.model_dump(mode="json")))


def periodic_md_record(run, d_li: float | None, ttf: float = 20.0, n_stable: int = 3) -> MDRecord:
    """A LiPS-like MD record (periodic, NVT 600 K, 20,000 steps of 1 fs) with RDF MAE 0.1 and
    Li diffusivity ``d_li`` (cm²/s; None: not available)."""
    record = md_record(run, ttf, hr=0.0, n_stable=n_stable, steps=20000, temperature_k=600.0, timestep_fs=1.0)
    stability = record.stability.model_copy(
        update={"kind": "periodic", "criterion": "distances", "bond_tolerance_a": None, "min_distance_a": 0.5}
    )
    observables = record.observables.model_copy(
        update={
            "kind": "periodic",
            "hr_mae": None,
            "rdf_mae": {"Li-S": 0.1},
            "rdf_mae_mean": 0.1,
            "diffusivity_cm2_per_s": {} if d_li is None else {"Li": d_li},
            "reference_is_trajectory": False,
        }
    )
    return record.model_copy(update={"stability": stability, "observables": observables})
