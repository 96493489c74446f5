"""A run killed with SIGKILL resumes from its checkpoint and ends with the same metrics."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlip_bench.results.io import load_records
from mlip_bench.train.checkpoint import load_checkpoint
from mlip_bench.train.harness import run_cell

REPO = Path(__file__).resolve().parents[2]
SCRIPT = ["-m", "tests.train.resume_script"]
STEPS = 200


def _run(root, out, baselines) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *SCRIPT, str(root), str(out), str(baselines), str(STEPS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=REPO,
    )


def test_killed_run_resumes_to_identical_metrics(tmp_path, baselines, toy_root):
    # uninterrupted reference, in this process (same code, one thread like the script)
    reference = (
        run_cell("pairmlp", "toy", 20, 0, "smoke", tmp_path / "ref", root=toy_root, overrides={"max_steps": STEPS})
        .metrics["test"]
        .model_dump(mode="json")
    )

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, *SCRIPT, str(toy_root), str(out), str(baselines), str(STEPS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    ckpt_dirs = out / "checkpoints"
    deadline = time.time() + 120
    killed_at_epoch = None
    try:
        while time.time() < deadline and proc.poll() is None:
            last = list(ckpt_dirs.glob("*/last.pt")) if ckpt_dirs.is_dir() else []
            if last:
                try:
                    epoch = load_checkpoint(last[0])["epoch"]
                except Exception:  # being replaced right now; the atomic write makes this rare
                    epoch = 0
                if epoch >= 5:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    killed_at_epoch = epoch
                    break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert killed_at_epoch is not None, "the run finished before it could be killed; raise STEPS"
    assert not (out / "records").exists() or not list((out / "records").glob("*.json"))
    state = load_checkpoint(next(ckpt_dirs.glob("*/last.pt")))
    assert not state["finished"] and 0 < state["step"] < STEPS

    resumed = json.loads(_run(toy_root, out, baselines).stdout.strip().splitlines()[-1])
    (record,) = load_records(out)
    assert "resumed" in record.notes and record.timings.steps == STEPS
    for key, value in reference.items():
        if isinstance(value, float):
            assert abs(resumed[key] - value) <= 1e-10 * max(1.0, abs(value)), key
        else:
            assert resumed[key] == value, key
