"""Fixtures of the sweep tests: the cheap test runner (``tests.sweep.cell_runner_for_tests``) is
importable here and in subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment in which subprocesses can import the test runner."""
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    monkeypatch.setenv("PYTHONPATH", path)
    return dict(os.environ)
