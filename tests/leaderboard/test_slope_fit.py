"""The learning-curve exponent: exact on power laws, honest intervals, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlip_bench.errors import ResultsError
from mlip_bench.leaderboard.curves import (
    EQUIVALENCE_MARGIN,
    ONE_SEED,
    PAIRED,
    WELCH,
    fit_learning_curve,
    seed_slope,
    slope_difference,
)


def test_recovers_exponent_of_noise_free_power_law():
    n = [50, 150, 350, 550, 750, 950]
    mae = [120.0 * x**-0.5 for x in n]
    fit = fit_learning_curve(n, mae)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12)
    assert np.exp(fit.intercept) == pytest.approx(120.0)
    assert fit.ci_low == pytest.approx(-0.5, abs=1e-9) and fit.ci_high == pytest.approx(-0.5, abs=1e-9)
    assert fit.predict(400) == pytest.approx(120.0 * 400**-0.5)


def test_interval_matches_t_distribution_on_per_seed_points():
    rng = np.random.default_rng(0)
    n = np.repeat([50, 150, 550, 950], 3)  # three seeds per size
    mae = 80.0 * n**-0.4 * np.exp(rng.normal(0, 0.05, n.size))
    fit = fit_learning_curve(n, mae, confidence=0.95)
    ref = stats.linregress(np.log(n), np.log(mae))
    half = stats.t.ppf(0.975, n.size - 2) * ref.stderr
    assert fit.slope == pytest.approx(ref.slope)
    assert fit.ci_low == pytest.approx(ref.slope - half)
    assert fit.ci_high == pytest.approx(ref.slope + half)
    assert fit.n_points == 12 and fit.n_sizes == 4
    # a wider confidence level widens the interval
    wide = fit_learning_curve(n, mae, confidence=0.99)
    assert wide.ci_low < fit.ci_low and wide.ci_high > fit.ci_high


def test_two_points_give_a_slope_but_no_interval():
    fit = fit_learning_curve([100, 1000], [10.0, 5.0])
    assert fit.slope == pytest.approx(np.log(0.5) / np.log(10))
    assert not fit.has_interval
    assert "no CI" in fit.label()


@pytest.mark.parametrize(
    "n, mae",
    [([100, 100, 100], [1.0, 2.0, 3.0]), ([100, 200], [1.0, 0.0]), ([100, -5], [1.0, 2.0]), ([1, 2], [1.0])],
)
def test_refuses_unfittable_points(n, mae):
    with pytest.raises(ResultsError):
        fit_learning_curve(n, mae)


@settings(max_examples=40, deadline=None)
@given(
    slope=st.floats(-1.5, -0.05),
    scale=st.floats(0.01, 1e4),
    unit=st.floats(0.01, 100.0),
)
def test_slope_does_not_depend_on_the_unit_of_the_error(slope, scale, unit):
    n = np.array([10, 30, 100, 300, 1000])
    noise = np.array([1.02, 0.97, 1.05, 0.99, 1.01])
    mae = scale * n**slope * noise
    a = fit_learning_curve(n, mae)
    b = fit_learning_curve(n, mae * unit)  # e.g. kcal/mol/Å -> meV/Å
    assert b.slope == pytest.approx(a.slope, rel=1e-9, abs=1e-12)
    assert b.ci_high - b.ci_low == pytest.approx(a.ci_high - a.ci_low, rel=1e-6)


# -- seed-level slope differences ----------------------------------------------------------------


def test_seed_slope_is_the_least_squares_exponent_and_needs_two_sizes():
    assert seed_slope([50, 500], [10.0, 5.0]) == pytest.approx(np.log(0.5) / np.log(10))
    assert seed_slope([50, 50], [10.0, 9.0]) is None


def test_paired_interval_is_the_t_interval_of_the_per_seed_differences():
    first = {0: -0.52, 1: -0.47, 2: -0.61}
    second = {0: -0.40, 1: -0.38, 2: -0.45}
    diff = slope_difference(first, second)
    d = np.array([first[s] - second[s] for s in (0, 1, 2)])
    ref = stats.ttest_1samp(d, 0.0).confidence_interval(0.95)
    assert diff.method == PAIRED and diff.df == 2
    assert diff.estimate == pytest.approx(d.mean())
    assert (diff.ci_low, diff.ci_high) == pytest.approx((ref.low, ref.high))
    assert diff.excludes_zero() == -1
    assert "paired, 3 seeds" in diff.label()


def test_other_seeds_give_a_welch_interval():
    first = {0: -0.52, 1: -0.47, 2: -0.61}
    second = {3: -0.40, 4: -0.30}
    diff = slope_difference(first, second)
    ref = stats.ttest_ind(list(first.values()), list(second.values()), equal_var=False).confidence_interval(0.95)
    assert diff.method == WELCH
    assert (diff.ci_low, diff.ci_high) == pytest.approx((ref.low, ref.high))
    # a partial overlap of seeds is not a pairing either
    assert slope_difference(first, {0: -0.4, 1: -0.3}).method == WELCH


def test_one_seed_gives_a_point_estimate_without_interval():
    diff = slope_difference({0: -0.5, 1: -0.6}, {0: -0.3})
    assert diff.method == ONE_SEED and not diff.has_interval
    assert diff.estimate == pytest.approx(-0.25)
    assert diff.excludes_zero() == 0 and not diff.within() and not diff.beyond()
    assert "no interval" in diff.label()


def test_identical_differences_give_a_zero_width_interval():
    diff = slope_difference({0: -0.5, 1: -0.6}, {0: -0.4, 1: -0.5})
    assert diff.ci_low == pytest.approx(-0.1) and diff.ci_high == pytest.approx(-0.1)


def test_equivalence_margin_checks():
    inside = slope_difference({0: -0.50, 1: -0.51, 2: -0.49}, {0: -0.50, 1: -0.50, 2: -0.50})
    assert inside.within(EQUIVALENCE_MARGIN) and not inside.beyond(EQUIVALENCE_MARGIN)
    far = slope_difference({0: -0.60, 1: -0.61, 2: -0.62}, {0: -0.30, 1: -0.31, 2: -0.30})
    assert far.beyond() and not far.within()
    wide = slope_difference({0: -0.40, 1: -0.60, 2: -0.50}, {0: -0.50, 1: -0.50, 2: -0.50})
    assert not wide.within() and not wide.beyond() and wide.excludes_zero() == 0


def test_empty_side_is_refused():
    with pytest.raises(ResultsError):
        slope_difference({}, {0: -0.3})
