"""`mlip-bench sweep`: one-line errors, dry runs, and a real kill-and-rerun of a sweep process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from mlip_bench.cli import main
from mlip_bench.results.io import load_records
from tests.sweep import cell_runner_for_tests as fake
from tests.sweep.sweep_files_for_tests import write_sweep

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_bad_sweep_file_is_one_line_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_sweep(tmp_path / "bad.yaml", seeds="zero..two")
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "field 'seeds'" in err and err.startswith("error:")


def test_unknown_model_with_the_harness_runner(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_sweep(tmp_path / "s.yaml", runner="mlip_bench.train.harness:run_cell", models=["nequip-l9"])
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "unknown model(s) nequip-l9" in err and "nequip-l1" in err


def test_dry_run_shows_cells_and_their_state(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_sweep(tmp_path / "s.yaml")
    out = tmp_path / "out"
    fake.run_cell("m-a", "rmd17/ethanol", 10, 0, "smoke", out)
    assert main(["sweep", str(path), "--dry-run", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 cells" in text and "1 done" in text and "3 pending" in text
    assert fake.read_calls(out) == [
        ("start", fake.run_id("m-a", "rmd17/ethanol", 10, 0, "smoke")),
        ("end", fake.run_id("m-a", "rmd17/ethanol", 10, 0, "smoke")),
    ]


def test_the_paper_sweeps_dry_run_with_the_real_harness(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["sweep", str(REPO / "sweeps" / "paper-rmd17.yaml"), "--dry-run", "--out", str(tmp_path)]) == 0
    assert "40 cells" in capsys.readouterr().out


def test_debug_executor_runs_the_sweep_through_submitit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_sweep(tmp_path / "s.yaml", n_train=[10])
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--executor", "debug", "--out", str(out)]) == 0
    assert sorted(r.run_id for r in load_records(out)) == sorted(
        fake.run_id(m, "rmd17/ethanol", 10, 0, "smoke") for m in ("m-a", "m-b")
    )
    assert main(["sweep", str(path), "--executor", "debug", "--out", str(out)]) == 0
    assert "nothing to submit" in capsys.readouterr().err


def test_filters_run_part_of_the_sweep_under_the_same_run_ids(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = write_sweep(tmp_path / "s.yaml", seeds="0..2")
    out = tmp_path / "out"
    args = ["sweep", str(path), "--executor", "debug", "--out", str(out), "--n-train", "20", "--seeds", "1,2"]
    assert main([*args, "--model", "m-b"]) == 0
    assert sorted(r.run_id for r in load_records(out)) == sorted(
        fake.run_id("m-b", "rmd17/ethanol", 20, s, "smoke") for s in (1, 2)
    )
    assert main(["sweep", str(path), "--dry-run", "--out", str(out), "--seeds", "0..1"]) == 0
    assert "8 cells" in capsys.readouterr().out
    assert main([*args, "--model", "m-c"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no cell of the sweep matches" in err and "'m-a', 'm-b'" in err
    assert main(["sweep", str(path), "--dry-run", "--seeds", "one"]) == 2
    assert "--seeds 'one'" in capsys.readouterr().err


def test_failed_cells_make_the_command_exit_nonzero(tmp_path: Path) -> None:
    path = write_sweep(
        tmp_path / "s.yaml", n_train=[10], cell_overrides=[{"match": {"model": "m-b"}, "overrides": {"fail": "boom"}}]
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "mlip_bench.cli", "sweep", str(path), "--out", str(out), "--workers", "2"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 7, proc.stderr  # TrainingError
    assert "1 run, 0 already complete, 1 failed" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: 1 of 2 cells failed")
    assert {r.model: r.status for r in load_records(out)} == {"m-a": "complete", "m-b": "failed"}


def test_killed_sweep_resumes_without_repeating_completed_cells(tmp_path: Path) -> None:
    """SIGKILL a running sweep after some cells completed; the rerun finishes the rest only."""
    path = write_sweep(
        tmp_path / "s.yaml", models=["m-a", "m-b", "m-c"], n_train=[10, 20, 30, 40], overrides={"sleep_s": 0.6}
    )
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "mlip_bench.cli", "sweep", str(path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            ends = [rid for word, rid in fake.read_calls(out) if word == "end"]
            if len(ends) >= 3:
                break
            assert proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.05)
        else:
            pytest.fail("no cell completed in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    time.sleep(1.0)  # the workers follow their parent (PR_SET_PDEATHSIG)
    done_before = {p.stem: p.stat().st_mtime_ns for p in (out / "records").glob("*.json")}
    assert 3 <= len(done_before) < 12

    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    records = load_records(out)
    assert len(records) == 12 and {r.status for r in records} == {"complete"}
    # completed cells were neither rerun nor rewritten
    ends = Counter(rid for word, rid in fake.read_calls(out) if word == "end")
    assert all(count == 1 for count in ends.values()) and len(ends) == 12
    assert {rid: (out / "records" / f"{rid}.json").stat().st_mtime_ns for rid in done_before} == done_before
    starts = Counter(rid for word, rid in fake.read_calls(out) if word == "start")
    assert all(starts[rid] == 1 for rid in done_before)
    assert f"{len(done_before)} already complete" in rerun.stderr


def test_compile_step_reaches_the_workers_through_their_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlip_bench.train.harness import COMPILE_STEP_VARIABLE, compile_step_requested

    monkeypatch.setenv(COMPILE_STEP_VARIABLE, "0")  # restored after the test, whatever the sweep sets
    path = write_sweep(tmp_path / "s.yaml")
    assert main(["sweep", str(path), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    assert not compile_step_requested()
    assert main(["sweep", str(path), "--dry-run", "--compile-step", "--out", str(tmp_path / "out")]) == 0
    assert compile_step_requested()  # spawned and submitted workers inherit it
    monkeypatch.setenv(COMPILE_STEP_VARIABLE, "0")
    # or the sweep file asks for it
    asked = write_sweep(tmp_path / "c.yaml", compile_step=True)
    assert main(["sweep", str(asked), "--dry-run", "--out", str(tmp_path / "out")]) == 0
    assert compile_step_requested()
