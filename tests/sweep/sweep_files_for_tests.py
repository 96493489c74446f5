"""Sweep files for the sweep tests: they drive the cheap test runner."""

from __future__ import annotations

from pathlib import Path

import yaml

RUNNER = "tests.sweep.cell_runner_for_tests:run_cell"


def write_sweep(path: Path, **fields: object) -> Path:
    """Write a sweep YAML using the test runner; ``fields`` replace the defaults."""
    data: dict[str, object] = {
        "name": "toy",
        "models": ["m-a", "m-b"],
        "datasets": ["rmd17/ethanol"],
        "n_train": [10, 20],
        "seeds": [0],
        "protocol": "smoke",
        "runner": RUNNER,
    }
    data.update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
