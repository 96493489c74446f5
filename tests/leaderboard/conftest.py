"""Fixtures for the leaderboard tests (helpers live in leaderboard_records.py)."""

from __future__ import annotations

import pytest

from mlip_bench.results.schema import RunRecord
from tests.leaderboard.leaderboard_records import FIXTURES


@pytest.fixture
def fixture_records() -> list[RunRecord]:
    from mlip_bench.results.io import load_records

    return load_records([FIXTURES])
