"""The Slurm path, through submitit's debug (in-process) and local (subprocess) executors."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from mlip_bench.errors import ConfigError
from mlip_bench.results.io import load_records
from mlip_bench.sweep.cells import CellState
from mlip_bench.sweep.local import cells_to_run
from mlip_bench.sweep.slurm import submit_array, wait_for_jobs
from mlip_bench.sweep.spec import SlurmResources, expand_cells, parse_sweep
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
        "resources": {
            "partition": "gpu",
            "time": "02:00:00",
            "cpus": 4,
            "gpus": 1,
            "mem": "16G",
            "array_parallelism": 8,
            "setup": ["module load cuda"],
            "additional": {"constraint": "a100"},
        },
    }
    data.update(fields)
    return parse_sweep(data)


def test_debug_executor_runs_the_array_and_records_failures(tmp_path: Path) -> None:
    spec = _spec(cell_overrides=[{"match": {"model": "m-a", "n_train": 20}, "overrides": {"fail": "diverged"}}])
    cells = expand_cells(spec)
    jobs = submit_array(cells, tmp_path, spec.resources, "mlip-toy", runner=RUNNER, cluster="debug")
    assert len(jobs) == len(cells)
    states = wait_for_jobs(jobs, cells, tmp_path, poll_s=0.01)
    bad = next(c for c in cells if c.model == "m-a" and c.n_train == 20)
    assert states[bad.run_id] is CellState.FAILED
    assert [s for rid, s in states.items() if rid != bad.run_id] == [CellState.DONE] * 3
    assert "diverged" in json.loads((tmp_path / "records" / f"{bad.run_id}.json").read_text())["error"]

    # resubmitting the sweep submits only the cell that is not complete
    todo, summary = cells_to_run(expand_cells(_spec()), tmp_path)
    assert [c.run_id for c in todo] == [bad.run_id] and len(summary.skipped) == 3
    jobs = submit_array(todo, tmp_path, spec.resources, "mlip-toy", runner=RUNNER, cluster="debug")
    assert wait_for_jobs(jobs, todo, tmp_path, poll_s=0.01) == {bad.run_id: CellState.DONE}
    starts = Counter(rid for word, rid in fake.read_calls(tmp_path) if word == "start")
    assert starts == Counter({c.run_id: (2 if c.run_id == bad.run_id else 1) for c in cells})


def test_local_submitit_executor_runs_one_array_in_subprocesses(tmp_path: Path, runner_env: dict) -> None:
    spec = _spec(n_train=[10])
    cells = expand_cells(spec)
    jobs = submit_array(cells, tmp_path, spec.resources, "mlip-toy", runner=RUNNER, cluster="local", threads=1)
    assert len(jobs) == len(cells)  # one task per cell (the local executor runs each as a process)
    states = wait_for_jobs(jobs, cells, tmp_path, poll_s=0.2)
    assert set(states.values()) == {CellState.DONE}
    records = load_records(tmp_path)
    assert sorted(r.run_id for r in records) == sorted(c.run_id for c in cells)
    pids = {r.notes.split("pid ")[1].split()[0] for r in records}
    assert len(pids) == len(cells)  # each cell ran in its own task process
    assert all((tmp_path / "logs" / f"{c.run_id}.log").exists() for c in cells)


def _fake_slurm(bin_dir: Path) -> Path:
    """``srun`` and an ``sbatch`` that keeps the submitted script and answers with a job id."""
    bin_dir.mkdir()
    kept = bin_dir / "submitted.sh"  # (parallelism is capped at the array size by submitit)
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {kept}\necho "Submitted batch job 4242"\n')
    for name in ("srun", "sbatch"):
        (bin_dir / name).chmod(0o755)
    return kept


def test_one_array_job_with_the_sweep_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = _fake_slurm(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    spec = _spec()
    cells = expand_cells(spec)
    jobs = submit_array(cells, tmp_path / "out", spec.resources, "mlip-toy", runner=RUNNER, cluster="slurm")
    assert [job.job_id for job in jobs] == [f"4242_{i}" for i in range(len(cells))]
    script = kept.read_text()
    for line in (
        "#SBATCH --array=0-3%4",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=120",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --mem=16GB",
        "#SBATCH --job-name=mlip-toy",
        "#SBATCH --constraint=a100",
        "module load cuda",
    ):
        assert line in script, line
    assert str(tmp_path / "out" / "submitit") in script


def test_missing_slurm_is_a_one_line_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # neither srun nor sbatch
    spec = _spec(n_train=[10])
    with pytest.raises(ConfigError, match="use --executor local"):
        submit_array(expand_cells(spec), tmp_path, SlurmResources(), "mlip-toy", runner=RUNNER, cluster="slurm")
    # srun without a working sbatch
    bin_dir = tmp_path / "bin"
    _fake_slurm(bin_dir)
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 'sbatch: error: invalid partition' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    with pytest.raises(ConfigError, match="Slurm submission failed"):
        submit_array(expand_cells(spec), tmp_path, SlurmResources(), "mlip-toy", runner=RUNNER, cluster="slurm")
