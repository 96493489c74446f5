"""Run one toy cell in its own process (used by test_resume.py), as
``python -m tests.train.resume_script ROOT OUT BASELINES MAX_STEPS`` from the repository root."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import mlip_bench.models.registry as registry
from mlip_bench import testing
from mlip_bench.train.harness import run_cell

testing.register_toy_network()  # a fresh process: the toy network is not registered yet
torch.set_num_threads(1)

root, out, baselines, max_steps = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
registry.BASELINES_DIR = baselines
record = run_cell("pairmlp", "toy", 20, 0, "smoke", Path(out), root=Path(root), overrides={"max_steps": max_steps})
print(record.metrics["test"].model_dump_json())
