"""The local executor: worker processes, skip-complete, failures recorded, no lost records."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from pathlib import Path

import pytest

from mlip_bench.results.io import load_records
from mlip_bench.sweep.cells import CellState
from mlip_bench.sweep.local import run_local
from mlip_bench.sweep.progress import SweepProgress
from mlip_bench.sweep.spec import expand_cells, parse_sweep
from tests.sweep import cell_runner_for_tests as fake
from tests.sweep.sweep_files_for_tests import RUNNER


def _spec(**fields):
    data = {
        "name": "toy",
        "models": ["m-a", "m-b"],
        "datasets": ["rmd17/ethanol"],
        "n_train": [10, 20],
        "seeds": [0],
        "protocol": "smoke",
        "runner": RUNNER,
    }
    data.update(fields)
    return parse_sweep(data)


def _starts(out: Path) -> Counter:
    return Counter(rid for word, rid in fake.read_calls(out) if word == "start")


def test_runs_every_cell_in_workers_and_skips_them_on_rerun(tmp_path: Path) -> None:
    cells = expand_cells(_spec())
    progress = SweepProgress("toy", cells, workers=2, live=False)
    summary = run_local(cells, tmp_path, runner=RUNNER, workers=2, progress=progress)
    assert sorted(summary.done) == sorted(c.run_id for c in cells) and summary.ok
    records = load_records(tmp_path)
    assert sorted(r.run_id for r in records) == sorted(c.run_id for c in cells)
    assert all(r.status == "complete" for r in records)
    assert all(r.notes.endswith("threads 1") for r in records)  # one thread per worker by default
    assert progress.counts() == {"done": 4}
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "records").glob("*.json")}

    again = run_local(cells, tmp_path, runner=RUNNER, workers=2)
    assert again.done == [] and sorted(again.skipped) == sorted(c.run_id for c in cells)
    assert _starts(tmp_path) == Counter({c.run_id: 1 for c in cells})
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "records").glob("*.json")} == mtimes


def test_a_failed_cell_is_recorded_and_does_not_stop_the_others(tmp_path: Path) -> None:
    spec = _spec(
        cell_overrides=[{"match": {"model": "m-b", "n_train": 10}, "overrides": {"fail": "loss is NaN at step 3"}}]
    )
    cells = expand_cells(spec)
    summary = run_local(cells, tmp_path, runner=RUNNER, workers=2)
    bad = next(c for c in cells if c.model == "m-b" and c.n_train == 10)
    assert summary.failed == [bad.run_id]
    assert len(summary.done) == 3
    record = json.loads((tmp_path / "records" / f"{bad.run_id}.json").read_text())
    assert record["status"] == "failed"
    assert "TrainingError: loss is NaN at step 3" in record["error"]
    log = (tmp_path / "logs" / f"{bad.run_id}.log").read_text()
    assert "Traceback" in log and "loss is NaN" in log

    # fixed and rerun: only the failed cell runs again; its old record is kept aside
    fixed = expand_cells(_spec())
    summary = run_local(fixed, tmp_path, runner=RUNNER, workers=2)
    assert summary.done == [bad.run_id] and len(summary.skipped) == 3
    assert {r.status for r in load_records(tmp_path)} == {"complete"}
    assert len(list((tmp_path / "failed-attempts").glob("*.json"))) == 1
    # --skip-failed leaves failed cells alone
    other = tmp_path / "other"
    run_local(cells, other, runner=RUNNER, workers=1)
    kept = run_local(fixed, other, runner=RUNNER, workers=1, retry_failed=False)
    assert kept.failed == [bad.run_id] and kept.done == []


def test_a_worker_that_dies_is_recorded_failed_and_the_rest_finish(tmp_path: Path) -> None:
    spec = _spec(cell_overrides=[{"match": {"model": "m-a", "n_train": 20}, "overrides": {"crash": True}}])
    cells = expand_cells(spec)
    progress = SweepProgress("toy", cells, workers=2, live=False)
    summary = run_local(cells, tmp_path, runner=RUNNER, workers=2, progress=progress)
    crashed = next(c for c in cells if c.model == "m-a" and c.n_train == 20)
    assert summary.failed == [crashed.run_id]
    assert sorted(summary.done) == sorted(c.run_id for c in cells if c is not crashed)
    record = json.loads((tmp_path / "records" / f"{crashed.run_id}.json").read_text())
    assert record["status"] == "failed" and "worker process died" in record["error"]
    assert progress.state[crashed.run_id] is CellState.FAILED


def _sweep_in_process(out: str, workers: int) -> None:
    cells = expand_cells(_spec(models=["m-a", "m-b", "m-c"], n_train=[10, 20, 30], overrides={"sleep_s": 0.2}))
    run_local(cells, Path(out), runner=RUNNER, workers=workers)


def test_two_sweeps_on_one_out_dir_run_each_cell_once(tmp_path: Path) -> None:
    """Concurrent workers of two sweep processes: no cell twice, no lost or corrupt record."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_sweep_in_process, args=(str(tmp_path), 2)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    cells = expand_cells(_spec(models=["m-a", "m-b", "m-c"], n_train=[10, 20, 30], overrides={"sleep_s": 0.2}))
    assert _starts(tmp_path) == Counter({c.run_id: 1 for c in cells})
    records = load_records(tmp_path)  # every file parses and validates
    assert sorted(r.run_id for r in records) == sorted(c.run_id for c in cells)
    assert not list((tmp_path / "records").glob(".*"))  # no temp files left behind


@pytest.mark.parametrize("workers", [1, 3])
def test_progress_eta_and_counts(tmp_path: Path, workers: int) -> None:
    cells = expand_cells(_spec())
    progress = SweepProgress("toy", cells, workers=workers, live=False)
    assert progress.eta_seconds() is None
    progress.mark_running(cells[0])
    progress.mark_finished(cells[0], CellState.DONE, seconds=30.0)
    assert progress.eta_seconds() == pytest.approx(3 * 30.0 / workers)
    assert progress.counts() == {"done": 1, "pending": 3}
