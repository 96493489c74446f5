"""Table assembly: curves never mix split hashes, seeds aggregate, published rows convert units."""

from __future__ import annotations

import statistics

import pytest

from mlip_bench.leaderboard.published import PublishedValue
from mlip_bench.leaderboard.tables import (
    best_per_column,
    build_curves,
    dataset_sections,
    group_figures,
    published_rows,
    record_value,
    reproduced_rows,
)
from tests.leaderboard.leaderboard_records import make_record


def test_per_seed_splits_form_one_curve_with_seed_error_bars():
    recs = [
        make_record(n_train=n, seed=s, force_mae=f)
        for n, fs in ((100, (30.0, 34.0)), (300, (20.0, 22.0)), (1000, (12.0, 13.0)))
        for s, f in zip((0, 1), fs)
    ]
    (curve,) = build_curves(recs)
    assert curve.seeds == [0, 1] and curve.n_trains == [100, 300, 1000]
    stats = curve.stats_by_n("force_mae")
    assert stats[100].mean == pytest.approx(32.0)
    assert stats[100].std == pytest.approx(statistics.stdev([30.0, 34.0]))
    fit = curve.fit("force_mae")
    assert fit.n_points == 6 and fit.slope < 0


def test_runs_with_a_different_split_hash_for_the_same_seed_never_share_a_curve():
    same = [make_record(n_train=n, seed=0, force_mae=20.0 * (100 / n) ** 0.5) for n in (100, 300)]
    other = make_record(n_train=1000, seed=0, force_mae=5.0, split_sha="f" * 64, created="2026-11-21T00:00:00+00:00")
    curves = build_curves(same + [other])
    assert len(curves) == 2
    for c in curves:
        assert len({r.split.sha256 for r in c.runs if r.split.seed == 0}) == 1
    assert {len(c.runs) for c in curves} == {2, 1}
    assert any("split v2" in c.label for c in curves)
    # and the two versions are drawn in different figures
    figures = group_figures(curves)
    assert len(figures) == 2


def test_models_on_the_same_splits_share_a_figure_and_others_do_not():
    a = [make_record("nequip-l1", n, 0, 10.0) for n in (100, 300)]
    b = [make_record("schnet-base", n, 0, 20.0, l_max=None) for n in (100, 300)]
    c = [make_record("schnet-other", n, 0, 20.0, l_max=None, split_sha="e" * 64) for n in (100, 300)]
    d = [make_record("nequip-l1", n, 0, 10.0, dataset="rmd17/ethanol") for n in (100, 300)]
    figures = group_figures(build_curves(a + b + c + d))
    by_models = sorted(sorted(c.model for c in f.curves) for f in figures)
    assert by_models == [["nequip-l1"], ["nequip-l1", "schnet-base"], ["schnet-other"]]


def test_failed_runs_stay_out_of_curves_and_tables_but_are_listed():
    ok = make_record(n_train=100, seed=0)
    bad = make_record(n_train=100, seed=1, status="failed", error="loss is NaN")
    (section,) = dataset_sections([ok, bad])
    (row,) = section.rows
    assert row.seeds == [0]
    assert [r.run_id for r in section.failed] == [bad.run_id]


def test_reproduced_rows_aggregate_seeds_and_mark_the_best_value():
    recs = [make_record("nequip-l1", 100, s, f, energy_mae=e) for s, f, e in ((0, 10.0, 4.0), (1, 12.0, 6.0))]
    recs += [make_record("nequip-l0", 100, 0, 15.0, energy_mae=3.0, l_max=0)]
    rows = reproduced_rows(build_curves(recs))
    l1 = next(r for r in rows if r.model == "nequip-l1")
    assert l1.values["force_mae"].mean == pytest.approx(11.0)
    assert l1.values["force_mae"].n == 2
    assert l1.train_seconds.mean == pytest.approx(60.0)
    best = best_per_column(rows)
    assert best["force_mae"] == pytest.approx(11.0)  # nequip-l1 wins forces
    assert best["energy_mae"] == pytest.approx(3.0)  # nequip-l0 wins energies


def _pv(**kw) -> PublishedValue:
    base = dict(
        id="g/aspirin/force_mae",
        method="DimeNet",
        family="dimenet",
        match_families=("dimenet",),
        l_max=None,
        dataset="md17/aspirin",
        n_train=1000,
        n_val=None,
        metric="force_mae",
        value=0.499 * 43.3641,
        unit="meV/Å",
        reported_value=0.499,
        reported_unit="kcal/mol/Å",
        conversion_factor=43.3641,
        source="DimeNet",
        table="MD17",
        evidence="MEM-M",
    )
    base.update(kw)
    return PublishedValue(**base)


def test_published_rows_keep_evidence_and_conversion_notes():
    rows = published_rows(
        [
            _pv(),
            _pv(
                id="g/aspirin/energy_mae",
                metric="energy_mae",
                value=0.204 * 43.3641,
                unit="meV",
                reported_value=0.204,
                reported_unit="kcal/mol",
                evidence="MEM-L",
            ),
        ]
    )
    (row,) = rows
    assert row.kind == "published"
    assert row.values["force_mae"].mean == pytest.approx(21.6387, abs=1e-3)
    assert row.evidence == {"force_mae": "MEM-M", "energy_mae": "MEM-L"}
    assert "0.499 kcal/mol/Å × 43.3641" in row.notes["force_mae"]


def test_energy_per_water_molecule_goes_to_the_per_atom_column():
    (row,) = published_rows(
        [
            _pv(
                id="w/liquid/energy_rmse",
                dataset="water-deepmd/liquid",
                metric="energy_rmse",
                value=1.0,
                unit="meV/H2O",
                reported_value=1.0,
                reported_unit="meV/H2O",
                conversion_factor=1.0,
            )
        ]
    )
    assert row.values["energy_rmse_per_atom"].mean == pytest.approx(1.0 / 3)
    assert "meV/H2O" in row.notes["energy_rmse_per_atom"]


def test_sections_put_our_datasets_first_then_published_only_ones():
    recs = [make_record(dataset="rmd17/ethanol")]
    sections = dataset_sections(recs, [_pv(), _pv(dataset="rmd17/ethanol", id="x")])
    assert [s.dataset for s in sections] == ["rmd17/ethanol", "md17/aspirin"]
    eth = sections[0]
    assert [r.kind for r in eth.rows] == ["reproduced", "published"]
    assert {c.key for c in eth.columns} >= {"force_mae", "energy_mae"}


def test_extra_test_sets_get_their_own_columns_on_their_dataset_only():
    def with_600k(record, force):
        metrics = record.metrics["test"].model_copy(update={"force_mae_mev_per_a": force})
        return record.model_copy(update={"metrics": {**record.metrics, "test_600K": metrics}})

    records = [
        with_600k(make_record("nequip-l1", 450, seed, force_mae=40.0, dataset="3bpa"), 70.0 + seed) for seed in (0, 1)
    ] + [make_record("nequip-l1", 100, 0, dataset="md17/aspirin")]
    sections = {s.dataset: s for s in dataset_sections(records)}
    keys = [c.key for c in sections["3bpa"].columns]
    assert "force_mae@test_600K" in keys and "energy_mae_per_atom@test_600K" in keys
    assert not any("@" in c.key for c in sections["md17/aspirin"].columns)
    (row,) = sections["3bpa"].rows
    assert row.values["force_mae@test_600K"].mean == pytest.approx(70.5)  # the 600 K set, not "test"
    assert row.values["force_mae"].mean == pytest.approx(40.0)
    assert record_value(records[1], "force_mae@test_600K") == pytest.approx(71.0)
    assert record_value(records[2], "force_mae@test_600K") is None


def test_only_certified_points_enter_the_fit_and_their_own_means():
    recs = [
        make_record(n_train=n, seed=s, force_mae=100.0 * (n / 100) ** -0.5) for n in (100, 300, 1000) for s in (0, 1)
    ]
    recs += [make_record(n_train=3000, seed=s, force_mae=90.0, certified=False) for s in (0, 1)]
    (curve,) = build_curves(recs)
    fit = curve.fit("force_mae")
    assert fit.n_points == 6 and fit.slope == pytest.approx(-0.5)
    assert list(curve.stats_by_n("force_mae", certified=True)) == [100, 300, 1000]
    assert list(curve.stats_by_n("force_mae", certified=False)) == [3000]
    assert list(curve.stats_by_n("force_mae")) == [100, 300, 1000, 3000]
    assert curve.still_improving("force_mae") == ["n=3000 s0", "n=3000 s1"]
    assert curve.seed_slopes("force_mae") == {0: pytest.approx(-0.5), 1: pytest.approx(-0.5)}
    assert curve.n_certified == 6 and not curve.budget_study
    rows = {r.n_train: r for r in reproduced_rows([curve])}
    assert rows[100].convergence == "certified" and rows[3000].convergence == "still improving"


def test_protocols_without_certified_runs_are_budget_studies_with_figures_and_rows_apart():
    plateau = [make_record("nequip-l1", n, s, 20.0, protocol="plateau") for n in (100, 300) for s in (0, 1)]
    plateau[0] = make_record("nequip-l1", 100, 0, 20.0, protocol="plateau", certified=False)
    short = [make_record("nequip-l1", n, s, 30.0, protocol="short", certified=None) for n in (100, 300) for s in (0, 1)]
    curves = build_curves(plateau + short)
    assert {c.protocol: c.budget_study for c in curves} == {"plateau": False, "short": True}
    figures = group_figures(curves)
    assert sorted((f.budget_study, [c.protocol for c in f.curves]) for f in figures) == [
        (False, ["plateau"]),
        (True, ["short"]),
    ]
    assert len({f.key for f in figures}) == 2
    (section,) = dataset_sections(plateau + short)
    assert {r.protocol for r in section.rows} == {"plateau"}
    assert {r.protocol for r in section.budget_rows} == {"short"}
    assert [r.convergence for r in section.rows] == ["1 of 2 certified", "certified"]
    assert {r.convergence for r in section.budget_rows} == {"still improving"}
    # the ★ marks come from the certified rows only (the budget rows are worse here anyway)
    assert section.best["force_mae"] == pytest.approx(20.0)
