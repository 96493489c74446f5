"""Replication statuses.

Numbers: reproduced within tolerance, not reproduced, not run (nearest shown), not comparable
(another budget, model size or l_max; never "not reproduced"), shown only.
Claims: judged on certified points only; "steeper" by the seed-level interval of the slope
difference, "same slope" by an equivalence margin, one-seed curves provisional, budget studies
not comparable.
"""

from __future__ import annotations

import pytest

from mlip_bench.leaderboard.curves import PAIRED, WELCH
from mlip_bench.leaderboard.published import default_published_path, load_published
from mlip_bench.leaderboard.replication import (
    CLAIM_RULES,
    HOLDS,
    INCONCLUSIVE,
    NOT_COMPARABLE,
    NOT_REPRODUCED,
    NOT_RUN,
    PROVISIONAL,
    REPRODUCED,
    SHOWN_ONLY,
    check_claim,
    check_number,
    replicate,
)
from mlip_bench.leaderboard.tables import build_curves, group_figures
from tests.leaderboard.leaderboard_records import REPO, make_record

PUB = load_published(default_published_path())
VALUES = {v.id: v for v in PUB.values}
CLAIMS = {c.id: c for c in PUB.file.claims}
ASPIRIN_F = VALUES["rmd17-nequip-l3/aspirin/force_mae"]  # 8.2 meV/Å at n_train 950
PAPER_SIZE = {"name": "nequip-l3", "hyperparameters": {"l_max": 3, "num_layers": 5, "num_features": 64}}
CPU_SIZE = {"name": "nequip-l1-cpu", "hyperparameters": {"l_max": 1, "num_layers": 4, "num_features": 32}}


def _nequip(n=950, seed=0, f=8.2, protocol="paper", l_max=3, config=None, **kw):
    return make_record(
        "nequip-l3",
        n,
        seed,
        f,
        dataset="rmd17/aspirin",
        protocol=protocol,
        l_max=l_max,
        model_config_full=config or PAPER_SIZE,
        **kw,
    )


def test_within_tolerance_is_reproduced_and_outside_is_not():
    ok = check_number(ASPIRIN_F, [_nequip(f=8.6), _nequip(seed=1, f=9.0)], tolerance=0.15)
    assert ok.status == REPRODUCED
    assert ok.measured.mean == pytest.approx(8.8) and ok.measured.n == 2
    assert ok.relative_difference == pytest.approx(0.6 / 8.2)
    bad = check_number(ASPIRIN_F, [_nequip(f=12.0)], tolerance=0.15)
    assert bad.status == NOT_REPRODUCED
    # two-sided: much better than published is also outside tolerance
    assert check_number(ASPIRIN_F, [_nequip(f=5.0)], tolerance=0.15).status == NOT_REPRODUCED


def test_other_size_is_not_run_but_shows_the_nearest_measurement():
    check = check_number(ASPIRIN_F, [_nequip(n=100, f=30.0), _nequip(n=500, f=12.0)], tolerance=0.15)
    assert check.status == NOT_RUN
    assert check.measured.mean == pytest.approx(12.0)  # n=500 is nearer to 950 on a log scale
    assert "n_train 500" in check.setting


def test_another_budget_is_not_comparable_never_not_reproduced():
    cpu = check_number(ASPIRIN_F, [_nequip(f=30.0, protocol="cpu")], tolerance=0.15)
    assert cpu.status == NOT_COMPARABLE and "protocol 'cpu'" in cpu.setting
    assert cpu.measured.mean == pytest.approx(30.0)  # the measurement is still shown
    # the paper protocol, but every run still improving (no certificate): another budget too
    for certified in (False, None):
        still = check_number(ASPIRIN_F, [_nequip(f=30.0, certified=certified)], tolerance=0.15)
        assert still.status == NOT_COMPARABLE and "still improving" in still.setting


def test_cpu_size_models_are_not_comparable_with_the_papers_numbers():
    # our CPU-size NequIP (l = 1, 4 layers x 32 features) against the paper's l = 3 model
    l1_cpu = _nequip(f=32.5, l_max=1, config=CPU_SIZE)
    check = check_number(ASPIRIN_F, [l1_cpu], tolerance=0.15)
    assert check.status == NOT_COMPARABLE
    assert "l_max 1 (published 3)" in check.setting and "num_layers 4 (published 5)" in check.setting
    # the paper's l_max but not its size
    small_l3 = _nequip(f=30.0, config={"name": "x", "hyperparameters": {"num_layers": 4, "num_features": 64}})
    check = check_number(ASPIRIN_F, [small_l3], tolerance=0.15)
    assert check.status == NOT_COMPARABLE and "num_layers 4" in check.setting and "num_features" not in check.setting
    # the nearest l_max is shown
    l0_cpu = _nequip(f=60.0, l_max=0, config=CPU_SIZE)
    assert check_number(ASPIRIN_F, [l0_cpu, l1_cpu], tolerance=0.15).measured.mean == pytest.approx(32.5)
    # the same setting wins over a not-comparable one
    assert check_number(ASPIRIN_F, [l1_cpu, _nequip(f=8.0)], tolerance=0.15).status == REPRODUCED


def test_only_certified_runs_count_at_the_same_setting():
    runs = [_nequip(f=8.4), _nequip(seed=1, f=30.0, certified=False)]
    check = check_number(ASPIRIN_F, runs, tolerance=0.15)
    assert check.status == REPRODUCED
    assert check.measured.mean == pytest.approx(8.4) and check.measured.n == 1
    assert [r.seed for r in check.still_improving] == [1] and "still improving: seed 1" in check.setting


def test_other_model_family_does_not_count():
    other = make_record("schnet", 950, 0, 8.2, dataset="rmd17/aspirin", l_max=None)
    assert check_number(ASPIRIN_F, [other], 0.15).status == NOT_RUN
    assert check_number(ASPIRIN_F, [], 0.15).measured is None


def test_low_confidence_numbers_are_never_targets():
    ani = VALUES["rmd17-ani-random/aspirin/force_mae"]
    rec = make_record("ani-random", 950, 0, 75.0, dataset="rmd17/aspirin", l_max=None, family="ani-random")
    assert check_number(ani, [rec], 0.15).status == SHOWN_ONLY


def test_schnetpack_schnet_runs_compare_with_schnet_numbers_but_dimenetpp_not_with_dimenet():
    schnet = VALUES["md17-schnet/aspirin/force_mae"]  # 1.35 kcal/mol/Å
    rec = make_record(
        "schnetpack-schnet", 1000, 0, 1.35 * 43.3641, dataset="md17/aspirin", l_max=None, family="schnetpack-schnet"
    )
    assert check_number(schnet, [rec], 0.15).status == REPRODUCED
    dimenet = VALUES["md17-dimenet/aspirin/force_mae"]
    pp = make_record("dimenet++", 1000, 0, 21.6, dataset="md17/aspirin", l_max=None, family="dimenet++")
    assert check_number(dimenet, [pp], 0.15).status == NOT_RUN


def test_kcal_numbers_compare_in_mev():
    dimenet = VALUES["md17-dimenet/aspirin/force_mae"]  # 0.499 kcal/mol/Å, n_train 1000
    rec = make_record("dimenet", 950, 0, 0.499 * 43.3641 * 1.05, dataset="md17/aspirin", l_max=None)
    assert check_number(dimenet, [rec], 0.15).status == REPRODUCED


def test_every_published_number_gets_a_status():
    rep = replicate(PUB, [_nequip(f=8.0)], [])
    assert len(rep.numbers) == len(PUB.values)
    assert rep.counts()[REPRODUCED] == 1
    assert sum(rep.counts().values()) == len(PUB.values)
    assert rep.tolerance == 0.15 and "15" in rep.rule


# -- learning-curve claims -----------------------------------------------------------------------

SIZES = (50, 150, 550, 950)
#: per-seed multiplicative scatter of the errors (same for every model: it is the seed's split)
WOBBLE = {0: (1.03, 0.98, 1.01, 0.99), 1: (0.97, 1.02, 0.99, 1.01), 2: (1.00, 1.01, 0.98, 1.02)}


def _curve(model, l_max, slope, f0, seeds=(0, 1, 2), family=None, seed_slope=None, uncertified=(), **kw):
    """One record per seed and size: f0 (n/50)^slope with the seed's scatter.

    ``seed_slope``: seed -> extra exponent added for that seed (shared split effects);
    ``uncertified``: (n, seed) cells that are still improving.
    """
    out = []
    for seed in seeds:
        b = slope + (seed_slope or {}).get(seed, 0.0)
        for i, n in enumerate(SIZES):
            f = f0 * (n / 50) ** b * WOBBLE[seed % 3][i]
            out.append(
                make_record(model, n, seed, f, l_max=l_max, family=family, certified=(n, seed) not in uncertified, **kw)
            )
    return out


def _check(claim_id, records, dataset="md17/aspirin"):
    (check,) = [c for c in check_claim(CLAIMS[claim_id], group_figures(build_curves(records))) if c.dataset == dataset]
    return check


def test_steeper_holds_only_when_the_difference_interval_excludes_zero():
    steep = _curve("nequip-l1", 1, -0.55, 80.0)
    shallow = _curve("nequip-l0", 0, -0.30, 90.0)
    check = _check("lc-equivariant-steeper-than-l0", steep + shallow)
    assert check.status == HOLDS
    (cmp,) = check.comparisons
    assert cmp.difference.method == PAIRED and cmp.difference.ci_high < 0
    assert "nequip-l1 [paper] − nequip-l0 [paper]" in check.detail and "→ holds" in check.detail
    by_ds = {
        c.dataset: c.status
        for c in check_claim(CLAIMS["lc-equivariant-steeper-than-l0"], group_figures(build_curves(steep + shallow)))
    }
    assert by_ds["water"] == NOT_RUN
    same = _curve("nequip-l0", 0, -0.55, 90.0, seed_slope={0: 0.03, 1: -0.04, 2: 0.0})
    assert _check("lc-equivariant-steeper-than-l0", steep + same).status == INCONCLUSIVE
    reversed_ = _curve("nequip-l1", 1, -0.2, 80.0)
    assert _check("lc-equivariant-steeper-than-l0", reversed_ + shallow).status == NOT_REPRODUCED


def test_overlapping_slope_intervals_but_a_difference_interval_below_zero_holds():
    # the seeds' splits move both curves' slopes together (-0.12 ... +0.12); l = 1 is steeper by
    # 0.05-0.07 in every seed. The pooled intervals overlap, the paired difference does not contain 0.
    split_effect = {0: -0.12, 1: 0.12, 2: 0.0}
    steep = _curve("nequip-l1", 1, -0.46, 80.0, seed_slope=split_effect)
    shallow = _curve("nequip-l0", 0, -0.40, 90.0, seed_slope={0: -0.11, 1: 0.11, 2: 0.0})
    (fig,) = group_figures(build_curves(steep + shallow))
    fits = {c.model: c.fit("force_mae") for c in fig.curves}
    assert fits["nequip-l1"].ci_high > fits["nequip-l0"].ci_low  # the intervals overlap
    check = _check("lc-equivariant-steeper-than-l0", steep + shallow)
    assert check.status == HOLDS
    diff = check.comparisons[0].difference
    assert diff.method == PAIRED and diff.estimate == pytest.approx(-0.06, abs=1e-9)
    assert -0.1 < diff.ci_low < diff.ci_high < 0


def test_curves_on_other_seeds_are_compared_with_a_welch_interval():
    steep = _curve("nequip-l1", 1, -0.55, 80.0, seeds=(0, 1, 2))
    shallow = _curve("nequip-l0", 0, -0.30, 90.0, seeds=(0, 1))
    check = _check("lc-equivariant-steeper-than-l0", steep + shallow)
    assert check.comparisons[0].difference.method == WELCH
    assert check.status == HOLDS


def test_a_one_seed_curve_makes_the_claim_provisional():
    steep = _curve("nequip-l1", 1, -0.55, 80.0)
    one_seed = _curve("nequip-l0", 0, -0.30, 90.0, seeds=(0,))
    check = _check("lc-equivariant-steeper-than-l0", steep + one_seed)
    assert check.status == PROVISIONAL
    assert "no interval" in check.detail and "Δb -0.2" in check.detail
    assert check.comparisons[0].difference.estimate == pytest.approx(-0.25, abs=0.02)
    # a contradiction by another curve of the group still decides the claim
    schnet_one_seed = _curve("schnet", None, -0.30, 150.0, seeds=(0,))
    assert _check("lc-equivariant-steeper-than-invariant", steep + schnet_one_seed).status == PROVISIONAL
    dimenet_steeper = _curve("dimenet", None, -0.9, 100.0)
    check = _check("lc-equivariant-steeper-than-invariant", steep + schnet_one_seed + dimenet_steeper)
    assert check.status == NOT_REPRODUCED


def test_same_slope_needs_the_difference_interval_inside_the_equivalence_margin():
    claim = "lc-higher-l-only-shifts"
    l1 = _curve("nequip-l1", 1, -0.50, 80.0)
    assert _check(claim, l1 + _curve("nequip-l2", 2, -0.50, 60.0)).status == HOLDS
    # the same mean slope but seeds that scatter: the interval crosses ±0.05, so no verdict
    scattered = _curve("nequip-l2", 2, -0.50, 60.0, seed_slope={0: 0.08, 1: -0.08, 2: 0.0})
    check = _check(claim, l1 + scattered)
    assert check.status == INCONCLUSIVE
    # overlapping intervals alone no longer count as "same slope"
    assert "→ inconclusive" in check.detail
    assert _check(claim, l1 + _curve("nequip-l2", 2, -0.30, 60.0)).status == NOT_REPRODUCED
    assert _check(claim, l1 + _curve("nequip-l2", 2, -0.50, 60.0, seeds=(0,))).status == PROVISIONAL


def test_uncertified_points_are_named_and_left_out_of_the_fits():
    steep = _curve("nequip-l1", 1, -0.55, 80.0)
    # l = 0 at 950 is still improving and far too high: fitted, it would flatten the l = 0 curve
    shallow = [r for r in _curve("nequip-l0", 0, -0.30, 90.0) if r.n_train != 950]
    shallow += [make_record("nequip-l0", 950, s, 500.0, l_max=0, certified=False) for s in (0, 1, 2)]
    check = _check("lc-equivariant-steeper-than-l0", steep + shallow)
    assert check.status == HOLDS
    (cmp,) = check.comparisons
    assert cmp.sizes == [50, 150, 550]  # the sizes certified in both curves
    assert check.still_improving == ["nequip-l0 [paper]: n=950 s0, n=950 s1, n=950 s2"]
    assert "still improving, not fitted: nequip-l0 [paper]: n=950 s0" in check.detail
    l0_fit = dict((c.model, f) for c, f in check.second)["nequip-l0"]
    assert l0_fit.n_points == 9 and l0_fit.slope == pytest.approx(-0.30, abs=0.03)


def test_budget_study_curves_are_not_comparable():
    # fixed step budget, records without certificates (like the committed `short` ones)
    short = [
        make_record(model, n, s, f0 * (n / 50) ** b, l_max=l_max, protocol="short", certified=None)
        for model, l_max, b, f0 in (("nequip-l1", 1, -0.26, 90.0), ("nequip-l0", 0, -0.15, 100.0))
        for n in SIZES
        for s in (0, 1, 2)
    ]
    curves = build_curves(short)
    assert all(c.budget_study for c in curves)
    check = _check("lc-equivariant-steeper-than-l0", short)
    assert check.status == NOT_COMPARABLE
    assert "budget-study" in check.detail and "short" in check.detail
    # with certified curves beside them, the budget study is ignored
    certified = _curve("nequip-l1", 1, -0.55, 80.0, protocol="plateau") + _curve(
        "nequip-l0", 0, -0.30, 90.0, protocol="plateau"
    )
    checks = [
        c
        for c in check_claim(CLAIMS["lc-equivariant-steeper-than-l0"], group_figures(build_curves(short + certified)))
        if c.dataset == "md17/aspirin"
    ]
    assert [c.status for c in checks] == [HOLDS]
    assert "[short]" not in checks[0].detail
    # a certified figure that cannot decide it ("not run") beside a budget study: not comparable
    lone = [r for r in _curve("nequip-l0", 0, -0.30, 90.0, protocol="plateau") if r.n_train == 50]
    checks = [
        c
        for c in check_claim(CLAIMS["lc-equivariant-steeper-than-l0"], group_figures(build_curves(short + lone)))
        if c.dataset == "md17/aspirin"
    ]
    assert [c.status for c in checks] == [NOT_COMPARABLE] and "nequip-l1 [short]" in checks[0].detail


def test_a_curve_with_one_certified_size_is_left_out_and_named():
    steep = _curve("nequip-l1", 1, -0.55, 80.0)
    shallow = _curve("nequip-l0", 0, -0.30, 90.0)
    one_size = [r for r in _curve("nequip-l2", 2, -0.1, 60.0) if r.n_train == 50]
    check = _check("lc-equivariant-steeper-than-l0", steep + shallow + one_size)
    assert check.status == HOLDS  # the l = 2 curve (one size) cannot decide it
    assert "nequip-l2" in check.detail and "fewer than two certified sizes" in check.detail
    assert [c.model for c, _ in check.first] == ["nequip-l1"]
    # with only one-size curves in a group, the claim cannot be checked
    only_short = [r for r in steep if r.n_train == 50] + shallow
    check = _check("lc-equivariant-steeper-than-l0", only_short)
    assert check.status == INCONCLUSIVE and "nequip-l1" in check.detail


def test_every_claim_status_has_a_rule_text():
    assert set(CLAIM_RULES) == {HOLDS, NOT_REPRODUCED, INCONCLUSIVE, PROVISIONAL, NOT_COMPARABLE, NOT_RUN}
    assert "±0.05" in CLAIM_RULES[HOLDS] and "never counted as 'not reproduced'" in CLAIM_RULES[NOT_COMPARABLE]


def test_published_file_is_the_checkout_file():
    assert default_published_path().is_file()
    assert REPO in default_published_path().parents


def test_pairs_every_seed_over_the_same_sizes_certified_for_all_of_them():
    """A balanced design: a slope over 50-950 and one over 50-550 are never paired or averaged."""
    steep = _curve("nequip-l1", 1, -0.55, 80.0)
    # seed 2 of l = 0 is still improving at 950: all three seeds are compared on 50-550
    shallow = _curve("nequip-l0", 0, -0.30, 90.0, uncertified={(950, 2)})
    (cmp,) = _check("lc-equivariant-steeper-than-l0", steep + shallow).comparisons
    assert cmp.sizes == [50, 150, 550]
    diff = cmp.difference
    assert diff.method == PAIRED and sorted(diff.first_slopes) == [0, 1, 2]
    assert diff.estimate == pytest.approx(-0.25, abs=1e-9)  # the shared scatter cancels seed by seed
    assert cmp.status == HOLDS


def test_more_seeds_before_more_sizes():
    """Seed 0 reaches 950 frames, seeds 1 and 2 stop at 150: three seeds on 50-150 are compared,
    not one seed on 50-950 (which would give no interval)."""
    late = {(n, s) for n in (550, 950) for s in (1, 2)}
    steep = _curve("nequip-l1", 1, -0.55, 80.0, uncertified=late)
    shallow = _curve("nequip-l0", 0, -0.30, 90.0, uncertified=late)
    (cmp,) = _check("lc-equivariant-steeper-than-l0", steep + shallow).comparisons
    assert cmp.sizes == [50, 150] and sorted(cmp.difference.first_slopes) == [0, 1, 2]
    assert cmp.difference.method == PAIRED and cmp.difference.has_interval
