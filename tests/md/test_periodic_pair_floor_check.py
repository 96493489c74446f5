"""scripts/periodic_pair_floor_check.py: sampled MD distances against the per-pair floors."""

from __future__ import annotations

import importlib.util

from mlip_bench.results.md_schema import Curve
from tests.leaderboard.leaderboard_records import REPO, make_record, periodic_md_record, write_md


def _script():
    path = REPO / "scripts" / "periodic_pair_floor_check.py"
    spec = importlib.util.spec_from_file_location("periodic_pair_floor_check", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_first_nonempty_bin_against_the_floor():
    script = _script()
    r = [0.025 + 0.05 * k for k in range(60)]
    g = [0.0] * 60
    assert script.shortest_sampled(r, g) is None and script.verdict(None, 1.5) == "clear"
    g[20] = 0.3  # distances in 1.00-1.05 Å
    bounds = script.shortest_sampled(r, g)
    assert abs(bounds[0] - 1.0) < 1e-9 and abs(bounds[1] - 1.05) < 1e-9
    assert script.verdict(bounds, 1.5) == "below"
    assert script.verdict(bounds, 1.02) == "at"
    assert script.verdict(bounds, 0.5) == "clear"


def test_a_record_with_pair_floors_is_judged_by_its_own_floors(tmp_path, capsys, monkeypatch):
    script = _script()
    run = make_record("nequip-l1-cpu", 10, 0, 30.0, dataset="lips", protocol="plateau")
    record = periodic_md_record(run, d_li=None, n_stable=3)
    r = [0.025 + 0.05 * k for k in range(60)]
    close = [0.0] * 60
    close[13] = 0.2  # Li-S at 0.65-0.70 Å: above 0.5 Å, below a 1.5 Å pair floor
    stability = record.stability.model_copy(update={"pair_floors_a": {"Li-S": 1.5}})
    observables = record.observables.model_copy(update={"rdf": {"Li-S": Curve(r_a=r, md=close, reference=close)}})
    write_md(record.model_copy(update={"stability": stability, "observables": observables}), tmp_path / "md")
    monkeypatch.setattr("sys.argv", ["periodic_pair_floor_check.py", str(tmp_path)])
    script.main()
    (row,) = [ln for ln in capsys.readouterr().out.splitlines() if "Li-S" in ln]
    assert "3/3 (pair floors)" in row and "| 1.50 | 0.65-0.70 | below |" in row
