"""Smoke test: the speed benchmark runs end to end and writes its JSON (not a timing test)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_models.py"


@pytest.mark.slow
def test_benchmark_runs_once_and_writes_json(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_models", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "bench.json"
    module.main(
        [
            "--lmax",
            "0",
            "--systems-to-run",
            "aspirin",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--modes",
            "eager",
            "--no-reference",
            "--threads",
            "1",
            "--out",
            str(out),
        ]
    )
    result = json.loads(out.read_text())
    (row,) = result["rows"]
    assert row["implementation"] == "mlip-bench" and row["l_max"] == 0
    assert row["train_step_ms"] > 0 and row["inference_ms_per_config"] > 0 and row["peak_rss_mb"] > 0
    assert row["profile_top_ops"] and result["settings"]["num_layers"] == 4
