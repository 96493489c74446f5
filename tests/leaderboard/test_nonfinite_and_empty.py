"""Issue 11: runs whose metrics are NaN/inf are left out of means and seed lists *and the page
says so*; a results folder without records is refused with one line instead of a blank site."""

from __future__ import annotations

import json
import math

import pytest

from mlip_bench.cli import main
from mlip_bench.errors import ResultsError
from mlip_bench.leaderboard.build import build_site
from mlip_bench.leaderboard.tables import build_curves, dataset_sections, nonfinite_metrics
from mlip_bench.results.io import write_record
from tests.leaderboard.leaderboard_records import make_record


def _records():
    good = [make_record(seed=s, force_mae=20.0 + s) for s in (0, 1)]
    bad = make_record(seed=2, force_mae=math.nan)
    inf = make_record(seed=3, energy_mae=math.inf)
    return good, bad, inf


def test_nonfinite_runs_leave_means_and_seed_lists():
    good, bad, inf = _records()
    assert nonfinite_metrics(good[0]) == []
    assert any("F MAE" in text and "nan" in text for text in nonfinite_metrics(bad))
    assert any("E MAE" in text and "inf" in text for text in nonfinite_metrics(inf))
    (section,) = dataset_sections([*good, bad, inf])
    (row,) = [r for r in section.rows if r.kind == "reproduced"]
    assert row.seeds == [0, 1]
    assert row.values["force_mae"].n == 2 and row.values["force_mae"].mean == pytest.approx(20.5)
    assert row.values["energy_mae"].n == 2
    assert [(r.seed, why) for r, why in section.excluded][0][0] == 2
    assert {r.seed for r, _ in section.excluded} == {2, 3}
    (curve,) = build_curves([*good, bad, inf])
    assert curve.seeds == [0, 1]


def test_page_names_the_excluded_runs_with_their_seed(tmp_path):
    good, bad, inf = _records()
    results = tmp_path / "results"
    for r in (*good, bad, inf):
        write_record(r, results)
    out = tmp_path / "site"
    build_site([results], out, static_figures=False)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "non-finite" in page
    assert "n_train 100, seed 2" in page and "n_train 100, seed 3" in page
    assert "F MAE (meV/Å) test = nan" in page and "E MAE (meV) test = inf" in page
    # the Seeds cell of the row lists only the finite runs
    row = page.split('class="row-reproduced"', 1)[1].split("</tr>", 1)[0]
    assert "<td>0, 1</td>" in row
    data = json.loads((out / "data" / "leaderboard.json").read_text(encoding="utf-8"))
    assert data  # downloads still written


def test_empty_results_folder_is_refused(tmp_path, capsys):
    empty = tmp_path / "results"
    empty.mkdir()
    out = tmp_path / "site"
    with pytest.raises(ResultsError, match="no run records in"):
        build_site([empty], out, static_figures=False)
    assert not out.exists()
    assert main(["leaderboard", "build", "--results", str(empty), "--out", str(out)]) == ResultsError.exit_code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no run records in") and "\n" not in err
    assert not out.exists()
