"""Stability criteria and observables on hand-made configurations."""

from __future__ import annotations

import numpy as np
import pytest

from mlip_bench.md import observables as obs
from mlip_bench.md.stability import StabilityCheck, find_bonds

WATER = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
WATER_Z = np.array([8, 1, 1])


def test_bonds_come_from_covalent_radii():
    bonds = find_bonds(WATER, WATER_Z)
    assert sorted(map(tuple, bonds.tolist())) == [(0, 1), (0, 2)]  # O-H twice, no H-H bond


def test_stability_detector_fires_on_a_stretched_bond_only():
    check = StabilityCheck.for_system(WATER, WATER_Z)
    assert check.kind == "molecule"
    assert check.check(WATER) == ""
    mild = WATER.copy()
    mild[1, 0] += 0.4  # 0.4 Å stretch: within the 0.5 Å tolerance
    assert check.check(mild) == ""
    stretched = WATER.copy()
    stretched[1, 0] += 0.6
    reason = check.check(stretched)
    assert "bond 0-1" in reason and "0.600 Å" in reason
    compressed = WATER.copy()
    compressed[2] *= 0.4  # O-H shortened by about 0.58 Å
    assert "bond 0-2" in check.check(compressed)
    assert check.check(WATER, forces=np.full((3, 3), np.nan)) == "non-finite forces"
    assert check.check(np.full((3, 3), np.inf)) == "non-finite positions"


def test_reference_lengths_are_the_mean_over_reference_frames():
    ref = np.stack([WATER, WATER * 1.1])
    check = StabilityCheck.for_system(WATER, WATER_Z, reference_positions=ref)
    np.testing.assert_allclose(check.reference_lengths, [0.96 * 1.05, np.hypot(0.24, 0.93) * 1.05])


def test_periodic_detector_fires_on_close_atoms_across_the_boundary():
    cell = np.eye(3) * 5.0
    pbc = np.array([True, True, True])
    pos = np.array([[0.1, 1.0, 1.0], [2.6, 1.0, 1.0]])
    check = StabilityCheck.for_system(pos, np.array([29, 29]), cell, pbc)
    assert check.kind == "periodic" and check.check(pos) == ""
    close = np.array([[0.1, 1.0, 1.0], [4.8, 1.0, 1.0]])  # 0.3 Å apart through the boundary
    assert check.check(close) == "atoms 0-1 (Cu-Cu) at 0.30 Å, closer than the floor 0.50 Å"
    assert check.check(pos, forces=np.array([[np.inf, 0, 0], [0, 0, 0]])) == "non-finite forces"
    # the neighbour search reaches further than the 0.5 Å floor (speed), but only the floor fails a frame
    assert check.check(np.array([[0.1, 1.0, 1.0], [4.1, 1.0, 1.0]])) == ""  # 1.0 Å apart


def test_periodic_pair_floors_come_from_the_reference_frames():
    # an adsorbate above a slab: C-Cu is never shorter than 1.9 Å in the reference, C-O is 1.25 Å
    from mlip_bench.md.stability import pair_floors, reference_pair_minima

    cell = np.eye(3) * 8.0
    pbc = np.array([True, True, True])
    numbers = np.array([29, 6, 8])
    ref = np.array(
        [[[1.0, 1.0, 1.0], [1.0, 1.0, 3.0], [1.0, 1.0, 4.25]], [[1.0, 1.0, 1.0], [1.0, 1.0, 2.9], [1.0, 1.0, 4.15]]]
    )
    minima = reference_pair_minima(ref, np.stack([cell, cell]), pbc, numbers)
    assert minima[(6, 29)] == pytest.approx(1.9) and minima[(6, 8)] == pytest.approx(1.25)
    assert (8, 8) not in minima  # one O: no O-O pair
    assert pair_floors(minima)[(6, 29)] == pytest.approx(0.75 * 1.9)
    check = StabilityCheck.for_system(ref[0], numbers, cell, pbc, reference_positions=ref, reference_cells=None)
    assert check.floors_by_name() == {
        "C-O": pytest.approx(0.9375),
        "C-Cu": pytest.approx(1.425),
        "O-Cu": pytest.approx(0.75 * 3.15),
    }
    assert check.check(ref[0]) == ""
    collapsed = ref[0].copy()
    collapsed[1:, 2] -= 0.9  # C 1.1 Å above the Cu: far above the 0.5 Å global floor, below the C-Cu floor
    reason = check.check(collapsed)
    assert "(C-Cu) at 1.10 Å" in reason and "pair floor 1.42" in reason
    assert "C-Cu 1.42 Å" in check.describe()
    # the old rule (one global floor) passes the same frame
    old = StabilityCheck.for_system(ref[0], numbers, cell, pbc, reference_positions=ref, pair_floor_factor=None)
    assert old.floors_by_name() is None and old.check(collapsed) == ""


def test_hr_mae_is_zero_for_identical_sets_and_two_for_disjoint():
    rng = np.random.default_rng(0)
    frames = WATER + 0.05 * rng.standard_normal((50, 3, 3))
    h = obs.distance_histogram(frames)
    assert np.sum(h) * obs.HR_BIN_A == pytest.approx(1.0)
    assert obs.hr_mae(h, obs.distance_histogram(frames.copy())) == 0.0
    assert obs.hr_mae(h, obs.distance_histogram(frames * 3.0)) == pytest.approx(2.0)
    assert 0 < obs.hr_mae(h, obs.distance_histogram(frames * 1.02)) < 2.0


def test_rdf_of_an_ideal_gas_is_one_and_identical_sets_agree():
    rng = np.random.default_rng(1)
    cell = np.eye(3) * 8.0
    frames = rng.uniform(0, 8.0, size=(200, 40, 3))
    numbers = np.array([3] * 20 + [16] * 20)
    r_max = obs.rdf_r_max(cell)
    assert r_max == pytest.approx(4.0)
    g = obs.rdfs(frames, numbers, cell, np.array([True] * 3), r_max, bin_width=0.25)
    assert set(g) == {"Li-Li", "Li-S", "S-S"}
    for curve in g.values():
        assert np.mean(curve[4:]) == pytest.approx(1.0, abs=0.05)
    assert obs.rdf_mae(g["Li-S"], g["Li-S"].copy()) == 0.0


def test_a_species_with_one_atom_has_no_self_rdf():
    # Cu-formate: one C and one H in the formate. A C-C or H-H "RDF" would be zero everywhere
    # and pull rdf_mae_mean towards zero, so those pairs are left out; the cross pairs stay.
    numbers = np.array([29] * 6 + [6, 1, 8, 8])
    assert [obs.pair_label(p) for p in obs.species_pairs(numbers)] == [
        "H-C",
        "H-O",
        "H-Cu",
        "C-O",
        "C-Cu",
        "O-O",
        "O-Cu",
        "Cu-Cu",
    ]
    rng = np.random.default_rng(3)
    frames = rng.uniform(0, 8.0, size=(5, len(numbers), 3))
    g = obs.rdfs(frames, numbers, np.eye(3) * 8.0, np.array([True] * 3), 4.0)
    assert "C-C" not in g and "H-H" not in g and "O-O" in g


def test_diffusivity_of_a_random_walk():
    rng = np.random.default_rng(2)
    sigma, dt_ps = 0.1, 0.01  # Å per axis per sample; ps per sample
    walk = np.cumsum(sigma * rng.standard_normal((600, 100, 3)), axis=0)
    msd = obs.mean_square_displacement(walk)
    d = obs.diffusivity(msd, dt_ps)
    expected = sigma**2 / (2 * dt_ps) * obs.A2_PER_PS_TO_CM2_PER_S  # 3 sigma² per sample = 6 D dt
    assert d == pytest.approx(expected, rel=0.1)
    assert obs.diffusivity(msd[:3], dt_ps) is None


def test_unwrap_and_continuity():
    cell = np.eye(3) * 4.0
    pbc = np.array([True] * 3)
    straight = np.array([[[0.1 * k + 3.5, 1.0, 1.0]] for k in range(20)])
    wrapped = straight.copy()
    wrapped[..., 0] %= 4.0
    assert obs.is_continuous(wrapped, cell, pbc)
    np.testing.assert_allclose(obs.unwrap(wrapped, cell, pbc), straight)
    shuffled = wrapped[np.random.default_rng(0).permutation(20)]
    assert not obs.is_continuous(shuffled, cell, pbc)


def _li_replica(index: int, walk: np.ndarray, failed: bool):
    from mlip_bench.md.runner import ReplicaState

    state = ReplicaState(index=index, start_frame=index, fingerprint="x", samples=list(walk))
    state.failed = failed
    return state


def test_diffusivity_comes_from_the_replicas_that_stayed_stable():
    """A replica that failed (here: Li flying apart, as on a broken surface) does not enter D; when
    every replica failed the record says why there is no D instead of fitting the broken part."""
    from ase import Atoms

    from mlip_bench.md.runner import Reference, _diffusion
    from mlip_bench.md.settings import MDSettingsInput
    from mlip_bench.results.md_schema import Observables

    rng = np.random.default_rng(5)
    start = Atoms("Li4S4", positions=rng.uniform(0, 10, (8, 3)), cell=[10.0] * 3, pbc=True)
    calm = np.cumsum(0.05 * rng.standard_normal((200, 8, 3)), axis=0)
    wild = np.cumsum(2.0 * rng.standard_normal((200, 8, 3)), axis=0)
    settings = MDSettingsInput(timestep_fs=1.0, sample_every=10)
    reference = Reference(positions=None, cells=None, source="none")

    result, plots = Observables(kind="periodic"), {}
    _diffusion([_li_replica(0, calm, False), _li_replica(1, wild, True)], start, reference, settings, result, plots)
    alone = obs.diffusivity(obs.mean_square_displacement(calm[:, :4]), 10 * 1e-3)
    assert result.diffusivity_cm2_per_s["Li"] == pytest.approx(alone)

    result = Observables(kind="periodic")
    _diffusion([_li_replica(0, calm, True), _li_replica(1, wild, True)], start, reference, settings, result, {})
    assert "Li" not in result.diffusivity_cm2_per_s
    assert "every replica failed" in result.not_available["diffusivity Li"]
