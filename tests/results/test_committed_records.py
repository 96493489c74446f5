"""Every committed run record validates against today's schema (old versions included) and is
complete; every record of schema version 2 or later comes from a clean commit and states its
convergence. (Some version-1 `short` records came from a dirty tree or a machine
without the checkout's git; the site flags them.)"""

from pathlib import Path

import pytest

from mlip_bench.results.io import load_records

RESULTS = Path(__file__).resolve().parents[2] / "leaderboard" / "results"


@pytest.mark.skipif(not RESULTS.is_dir(), reason="no committed results in this checkout")
def test_committed_records_load_and_come_from_clean_commits():
    records = load_records(RESULTS)
    assert records, "leaderboard/results holds no records"
    for record in records:
        assert record.status == "complete", record.run_id
        if record.schema_version >= 2:
            assert record.environment.git_commit and not record.environment.git_dirty, record.run_id
            assert record.convergence is not None and record.validation_history is not None, record.run_id
