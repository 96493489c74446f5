"""Replication statuses: reproduced within tolerance, not reproduced, not run (nearest shown), shown only."""

from __future__ import annotations

import pytest
from leaderboard_records import make_record

from mlip_bench.leaderboard.published import default_published_path, load_published
from mlip_bench.leaderboard.replication import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    SHOWN_ONLY,
    check_claim,
    check_number,
    replicate,
)
from mlip_bench.leaderboard.tables import build_curves, group_figures

PUB = load_published(default_published_path())
VALUES = {v.id: v for v in PUB.values}
ASPIRIN_F = VALUES["rmd17-nequip-l3/aspirin/force_mae"]  # 8.2 meV/Å at n_train 950


def _nequip(n=950, seed=0, f=8.2, protocol="paper", l_max=3):
    return make_record("nequip-l3", n, seed, f, dataset="rmd17/aspirin", protocol=protocol, l_max=l_max)


def test_within_tolerance_is_reproduced_and_outside_is_not():
    ok = check_number(ASPIRIN_F, [_nequip(f=8.6), _nequip(seed=1, f=9.0)], tolerance=0.15)
    assert ok.status == REPRODUCED
    assert ok.measured.mean == pytest.approx(8.8) and ok.measured.n == 2
    assert ok.relative_difference == pytest.approx(0.6 / 8.2)
    bad = check_number(ASPIRIN_F, [_nequip(f=12.0)], tolerance=0.15)
    assert bad.status == NOT_REPRODUCED
    # two-sided: much better than published is also outside tolerance
    assert check_number(ASPIRIN_F, [_nequip(f=5.0)], tolerance=0.15).status == NOT_REPRODUCED


def test_other_size_or_protocol_is_not_run_but_shows_the_nearest_measurement():
    check = check_number(ASPIRIN_F, [_nequip(n=100, f=30.0), _nequip(n=500, f=12.0)], tolerance=0.15)
    assert check.status == NOT_RUN
    assert check.measured.mean == pytest.approx(12.0)  # n=500 is nearer to 950 on a log scale
    assert "n_train 500" in check.setting
    cpu = check_number(ASPIRIN_F, [_nequip(f=8.2, protocol="cpu")], tolerance=0.15)
    assert cpu.status == NOT_RUN and "protocol 'cpu'" in cpu.setting


def test_other_model_or_l_max_does_not_count():
    assert check_number(ASPIRIN_F, [_nequip(l_max=1)], 0.15).status == NOT_RUN
    assert check_number(ASPIRIN_F, [], 0.15).measured is None


def test_low_confidence_numbers_are_never_targets():
    ani = VALUES["rmd17-ani-random/aspirin/force_mae"]
    rec = make_record("ani-random", 950, 0, 75.0, dataset="rmd17/aspirin", l_max=None, family="ani-random")
    assert check_number(ani, [rec], 0.15).status == SHOWN_ONLY


def test_schnetpack_schnet_runs_compare_with_schnet_numbers_but_dimenetpp_not_with_dimenet():
    schnet = VALUES["md17-schnet/aspirin/force_mae"]  # 1.35 kcal/mol/Å
    rec = make_record("schnetpack-schnet", 1000, 0, 1.35 * 43.3641, dataset="md17/aspirin", l_max=None,
                      family="schnetpack-schnet")
    assert check_number(schnet, [rec], 0.15).status == REPRODUCED
    dimenet = VALUES["md17-dimenet/aspirin/force_mae"]
    pp = make_record("dimenet++", 1000, 0, 21.6, dataset="md17/aspirin", l_max=None, family="dimenet++")
    assert check_number(dimenet, [pp], 0.15).status == NOT_RUN


def test_kcal_numbers_compare_in_mev():
    dimenet = VALUES["md17-dimenet/aspirin/force_mae"]  # 0.499 kcal/mol/Å, n_train 1000
    rec = make_record("dimenet", 950, 0, 0.499 * 43.3641 * 1.05, dataset="md17/aspirin", l_max=None)
    assert check_number(dimenet, [rec], 0.15).status == REPRODUCED


def _curve_records(model, l_max, slope, f0, family=None):
    out = []
    for seed, wobble in ((0, 1.03), (1, 0.97)):
        for n in (50, 150, 550, 950):
            out.append(make_record(model, n, seed, f0 * (n / 50) ** slope * wobble, l_max=l_max, family=family))
    return out


def test_steeper_claim_is_reproduced_inconclusive_or_contradicted():
    claim = next(c for c in PUB.file.claims if c.id == "lc-equivariant-steeper-than-l0")
    steep = _curve_records("nequip-l1", 1, -0.55, 80.0)
    shallow = _curve_records("nequip-l0", 0, -0.30, 90.0)
    checks = check_claim(claim, group_figures(build_curves(steep + shallow)))
    by_ds = {c.dataset: c for c in checks}
    assert by_ds["md17/aspirin"].status == REPRODUCED
    assert by_ds["water"].status == NOT_RUN
    same = _curve_records("nequip-l0", 0, -0.55, 90.0)
    assert check_claim(claim, group_figures(build_curves(steep + same)))[0].status == INCONCLUSIVE
    reversed_ = _curve_records("nequip-l1", 1, -0.2, 80.0)
    assert check_claim(claim, group_figures(build_curves(reversed_ + shallow)))[0].status == NOT_REPRODUCED


def test_every_published_number_gets_a_status():
    rep = replicate(PUB, [_nequip(f=8.0)], [])
    assert len(rep.numbers) == len(PUB.values)
    assert rep.counts()[REPRODUCED] == 1
    assert sum(rep.counts().values()) == len(PUB.values)
    assert rep.tolerance == 0.15 and "15" in rep.rule


def test_a_two_point_curve_is_left_out_of_a_claim_not_made_to_block_it():
    claim = next(c for c in PUB.file.claims if c.id == "lc-equivariant-steeper-than-l0")
    steep = _curve_records("nequip-l1", 1, -0.55, 80.0)
    shallow = _curve_records("nequip-l0", 0, -0.30, 90.0)
    two_points = [r for r in _curve_records("nequip-l2", 2, -0.1, 60.0) if r.n_train in (50, 150) and r.seed == 0]
    (check,) = [c for c in check_claim(claim, group_figures(build_curves(steep + shallow + two_points)))
                if c.dataset == "md17/aspirin"]
    assert check.status == REPRODUCED  # the l = 2 curve (shallow, two sizes) cannot decide it
    assert "nequip-l2" in check.detail and "no confidence interval" in check.detail
    assert [c.model for c, _ in check.first] == ["nequip-l1"]
    # with only two-size curves in a group, the claim cannot be checked
    only_short = [r for r in steep if r.n_train in (50, 150) and r.seed == 0] + shallow
    (check,) = [c for c in check_claim(claim, group_figures(build_curves(only_short)))
                if c.dataset == "md17/aspirin"]
    assert check.status == INCONCLUSIVE and "nequip-l1" in check.detail
