"""Every committed run record validates against today's schema (old versions included), reads back
as it was written (less the old second copy of n_train), is complete, and gets its run page on
the site; every record of schema version 2 or later comes from a clean commit and states its
convergence. (Some version-1 `short` records came from a dirty tree or a machine without the
checkout's git; the site flags them.)"""

import json
from pathlib import Path

import pytest

from mlip_bench.results.io import load_records, record_files
from mlip_bench.results.schema import RunRecord

RESULTS = Path(__file__).resolve().parents[2] / "leaderboard" / "results"
needs_results = pytest.mark.skipif(not RESULTS.is_dir(), reason="no committed results in this checkout")


@needs_results
def test_committed_records_load_and_come_from_clean_commits():
    records = load_records(RESULTS)
    assert records, "leaderboard/results holds no records"
    for record in records:
        assert record.status == "complete", record.run_id
        if record.schema_version >= 2:
            assert record.environment.git_commit and not record.environment.git_dirty, record.run_id
            assert record.convergence is not None and record.validation_history is not None, record.run_id


@needs_results
def test_committed_records_read_back_as_written_less_the_second_n_train():
    """Reading an old record drops its second copy of n_train (schema version 3 keeps one);
    everything else dumps as the file was written, key order included."""
    files = record_files([RESULTS])
    assert files
    for path in files:
        raw = json.loads(path.read_text())
        assert raw["schema_version"] == 3 or raw["split"].pop("n_train") == raw["n_train"], path
        again = RunRecord.model_validate(raw).model_dump(mode="json", exclude_unset=True)
        assert json.dumps(again) == json.dumps(raw), path


@needs_results
def test_every_committed_record_gets_its_run_page(tmp_path):
    from mlip_bench.leaderboard.build import build_site, run_page_name

    records = load_records(RESULTS)
    build_site([RESULTS], tmp_path / "site", static_figures=False)
    missing = [r.run_id for r in records if not (tmp_path / "site" / "runs" / run_page_name(r.run_id)).is_file()]
    assert not missing, f"{len(missing)} records without a run page: {missing[:5]}"
    page = (tmp_path / "site" / "runs" / run_page_name(records[0].run_id)).read_text()
    assert records[0].split.sha256 in page and f"n_train {records[0].n_train}," in page


@needs_results
def test_committed_md_records_validate_and_link_their_run_records():
    """Every committed MD record validates, and the run record it cites lies beside it in the
    repository (``../records/<run_id>.json``) with the sha256 it names."""
    import hashlib

    from mlip_bench.leaderboard.md_data import load_md_files, md_folders

    files = load_md_files(md_folders([RESULTS]))  # validates every record (ResultsError names a bad one)
    assert files
    for record, path in files:
        cited = path.parent / record.run.record_path
        assert not Path(record.run.record_path).is_absolute() and cited.is_file(), path
        assert hashlib.sha256(cited.read_bytes()).hexdigest() == record.run.record_sha256, path
        assert record.environment.git_commit and not record.environment.git_dirty, path
