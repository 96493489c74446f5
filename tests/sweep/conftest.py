"""Fixtures of the sweep tests: the cheap test runner is importable here and in subprocesses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def runner_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment in which subprocesses can import the test runner."""
    path = os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    monkeypatch.setenv("PYTHONPATH", path)
    return dict(os.environ)
