"""Run records: atomic JSON, never overwritten silently, readable by pandas."""

from __future__ import annotations

import json

import pytest

from mlip_bench.errors import ResultsError
from mlip_bench.results import schema
from mlip_bench.results.environment import collect_environment
from mlip_bench.results.io import load_records, read_record, record_path, records_dataframe, write_record
from mlip_bench.results.schema import DatasetRef, RunRecord, SplitRef, Timings


def make_record(run_id="m__d__n50__s0__cpu", n_train=50, force_mae=12.5) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        created="2026-01-01T00:00:00+00:00",
        model="nequip-l1",
        model_family="nequip",
        model_config_full={"name": "nequip-l1"},
        l_max=1,
        dataset=DatasetRef(name="rmd17/ethanol", store_sha256="ab" * 32),
        split=SplitRef(name="default", sha256="cd" * 32, seed=0, n_val=50, n_test=100),
        n_train=n_train,
        seed=0,
        protocol="cpu",
        metrics={
            "test": schema.TestMetrics(
                n_frames=100,
                energy_mae_mev=3.0,
                energy_rmse_mev=4.0,
                energy_mae_mev_per_atom=0.33,
                energy_rmse_mev_per_atom=0.44,
                force_mae_mev_per_a=force_mae,
                force_rmse_mev_per_a=17.0,
                force_mae_mev_per_a_by_element={"H": 10.0, "C": 15.0},
            )
        },
        timings=Timings(train_seconds=60.0, steps=2000, epochs=200),
        environment=collect_environment(),
    )


def test_write_then_load_round_trips(tmp_path):
    record = make_record()
    path = write_record(record, tmp_path)
    assert path == record_path(tmp_path, record.run_id) and path.parent.name == "records"
    assert load_records(tmp_path) == [record]
    assert load_records([path]) == [record]
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_existing_record_is_never_overwritten_silently(tmp_path):
    write_record(make_record(force_mae=1.0), tmp_path)
    with pytest.raises(ResultsError, match="already exists"):
        write_record(make_record(force_mae=2.0), tmp_path)
    assert load_records(tmp_path)[0].metrics["test"].force_mae_mev_per_a == 1.0
    write_record(make_record(force_mae=2.0), tmp_path, overwrite=True)
    assert load_records(tmp_path)[0].metrics["test"].force_mae_mev_per_a == 2.0


def test_invalid_record_names_file_and_field(tmp_path):
    path = write_record(make_record(), tmp_path)
    raw = json.loads(path.read_text())
    raw["schema_version"] = 99
    path.write_text(json.dumps(raw))
    with pytest.raises(ResultsError, match=r"records/.*\.json: field 'schema_version'"):
        load_records(tmp_path)


def test_dataframe_has_one_row_per_record_with_metrics(tmp_path):
    for n in (50, 100, 250):
        write_record(make_record(run_id=f"m__d__n{n}__s0__cpu", n_train=n, force_mae=1000.0 / n), tmp_path)
    df = records_dataframe(tmp_path).sort_values("n_train")
    assert list(df["n_train"]) == [50, 100, 250]
    assert list(df["force_mae_mev_per_a"]) == [20.0, 10.0, 4.0]
    assert {"model", "dataset", "seed", "protocol", "train_seconds", "steps", "energy_mae_mev"} <= set(df.columns)


def test_environment_describes_machine_and_checkout():
    env = collect_environment()
    assert env.threads >= 1 and env.python and "torch" in env.packages
    assert len(env.git_commit) in (0, 40)


def test_n_train_lives_in_one_place_and_old_records_still_read(tmp_path):
    """Schema version 3 keeps n_train once (the record's); versions 1 and 2 also had it in
    ``split``, which is dropped on reading when it agrees and refused when it does not."""
    from pydantic import ValidationError

    assert schema.SCHEMA_VERSION == 3 and "n_train" not in SplitRef.model_fields
    current = make_record().model_dump(mode="json")
    assert current["schema_version"] == 3 and "n_train" not in current["split"]
    for version in (1, 2):
        old = json.loads(json.dumps(current))
        old["schema_version"] = version
        old["split"]["n_train"] = 50
        (tmp_path / f"v{version}.json").write_text(json.dumps(old))
        record = read_record(tmp_path / f"v{version}.json")
        assert record.schema_version == version and record.n_train == 50 and record.split.subset_sha256 is None
        old["split"]["n_train"] = 60
        (tmp_path / "bad.json").write_text(json.dumps(old))
        with pytest.raises(ResultsError, match="split.n_train 60 differs from n_train 50"):
            read_record(tmp_path / "bad.json")
    current["split"]["n_train"] = 50  # a version-3 record has no second copy
    with pytest.raises(ValidationError, match="n_train"):
        RunRecord.model_validate(current)
