"""A cheap cell runner for the sweep tests: same signature as the harness's ``run_cell``.

It trains nothing; it writes a genuine, schema-valid RunRecord whose metrics are a deterministic
function of the cell, after an optional sleep. Overrides steer it:

- ``sleep_s``: seconds to sleep before writing the record (to be killed mid-run);
- ``fail``: raise a TrainingError with this message;
- ``crash``: kill its own process with SIGKILL (a worker that dies);
- every call appends ``start <run_id> <pid>`` / ``end <run_id> <pid>`` to ``<out>/runner-calls.log``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlip_bench.errors import TrainingError
from mlip_bench.results.io import record_path, write_record
from mlip_bench.results.schema import DatasetRef, RunRecord, SplitRef, TestMetrics, Timings

CALLS_LOG = "runner-calls.log"


def run_id(model: str, dataset: str, n_train: int, seed: int, protocol: str) -> str:
    """Identity of a test cell (file-name safe)."""
    return f"{model}__{dataset.replace('/', '-')}__n{n_train}__s{seed}__{protocol}"


def _log(out_dir: Path, word: str, rid: str) -> None:
    fd = os.open(Path(out_dir) / CALLS_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{word} {rid} {os.getpid()} {time.time():.6f}\n".encode())
    finally:
        os.close(fd)


def read_calls(out_dir: Path) -> list[tuple[str, str]]:
    """(word, run_id) pairs from the calls log, in order."""
    path = Path(out_dir) / CALLS_LOG
    if not path.exists():
        return []
    return [tuple(line.split()[:2]) for line in path.read_text().splitlines() if line.strip()]  # type: ignore[misc]


def run_cell(
    model: str,
    dataset: str,
    n_train: int,
    seed: int,
    protocol: str,
    out_dir: Path,
    root: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> RunRecord:
    overrides = overrides or {}
    rid = run_id(model, dataset, n_train, seed, protocol)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    existing = record_path(out_dir, rid)
    if existing.exists():
        raise AssertionError(f"runner called for {rid} although its record exists")
    _log(out_dir, "start", rid)
    time.sleep(float(overrides.get("sleep_s", 0.0)))
    if overrides.get("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    if overrides.get("fail"):
        raise TrainingError(str(overrides["fail"]))
    digest = int(hashlib.sha256(rid.encode()).hexdigest()[:8], 16)
    force_mae = 10.0 * (n_train / 50.0) ** -0.5 * (1.0 + (digest % 100) / 1000.0)
    metrics = TestMetrics(
        n_frames=100,
        energy_mae_mev=force_mae / 3,
        energy_rmse_mev=force_mae / 2,
        energy_mae_mev_per_atom=force_mae / 30,
        energy_rmse_mev_per_atom=force_mae / 20,
        force_mae_mev_per_a=force_mae,
        force_rmse_mev_per_a=1.3 * force_mae,
    )
    record = RunRecord(
        run_id=rid,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=model,
        model_family="test-runner",
        model_config_full={"name": model},
        dataset=DatasetRef(name=dataset, store_sha256="0" * 64),
        split=SplitRef(name="default", sha256="1" * 64, seed=seed, n_val=10, n_test=100),
        n_train=n_train,
        seed=seed,
        protocol=protocol,
        protocol_config=dict(overrides),
        metrics={"test": metrics},
        timings=Timings(train_seconds=float(overrides.get("sleep_s", 0.0)), steps=1, epochs=1),
        notes=f"pid {os.getpid()} threads {os.environ.get('OMP_NUM_THREADS', '')}",
    )
    write_record(record, out_dir)
    _log(out_dir, "end", rid)
    return record
