"""The public physics checks pass a correct potential and catch each kind of broken model; the toy
network registers only on request and passes them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mlip_bench import testing
from mlip_bench.data.frame import Frame
from mlip_bench.errors import ModelError
from mlip_bench.models import registry
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import ModelConfig, build_potential

REPO = Path(__file__).resolve().parents[1]

R_CUT = 3.0
TRICLINIC = np.array([[3.4, 0.0, 0.0], [0.5, 3.2, 0.0], [-0.3, 0.4, 3.5]])


def _pairs(frame: Frame, cutoff: float, images: bool = True):
    """All (i, j, r_ij vector) with |r_ij| < cutoff, including periodic images when ``images``."""
    shifts = [np.zeros(3)]
    if frame.is_periodic and images:
        rng = range(-2, 3)
        shifts = [np.array([a, b, c]) @ frame.cell for a in rng for b in rng for c in rng]
    out = []
    for i in range(frame.n_atoms):
        for j in range(frame.n_atoms):
            for s in shifts:
                vec = frame.positions[j] + s - frame.positions[i]
                d = np.linalg.norm(vec)
                if 1e-9 < d < cutoff:
                    out.append((i, j, vec, d))
    return out


def smooth_pair_model(frame: Frame, images: bool = True):
    """A correct potential: E = 1/2 sum_ij A (1 - r/rc)^3 exp(-r), analytic forces (eV, eV/Å)."""
    energy, forces = 0.0, np.zeros_like(frame.positions)
    for i, j, vec, d in _pairs(frame, R_CUT, images):
        x = 1 - d / R_CUT
        energy += 0.5 * x**3 * np.exp(-d)
        de_dr = 0.5 * np.exp(-d) * (-3 * x**2 / R_CUT - x**3)
        forces[i] += de_dr * vec / d  # dE/dr_i = -dE/dr * r_hat for r = r_j - r_i
        forces[j] -= de_dr * vec / d
    return energy, forces


def molecule() -> Frame:
    rng = np.random.default_rng(0)
    return Frame(positions=rng.uniform(0, 2.5, size=(5, 3)), numbers=np.array([1, 6, 8, 1, 6]))


def crystal() -> Frame:
    rng = np.random.default_rng(1)
    return Frame(
        positions=rng.uniform(size=(2, 3)) @ TRICLINIC,
        numbers=np.array([1, 8]),
        cell=TRICLINIC,
        pbc=np.array([True, True, True]),
    )


def test_correct_pair_potential_passes_every_check():
    testing.assert_equivariant(smooth_pair_model, molecule())
    testing.assert_equivariant(smooth_pair_model, crystal())
    testing.assert_invariant_energy(smooth_pair_model, molecule())
    testing.assert_translation_invariant(smooth_pair_model, molecule())
    testing.assert_permutation_equivariant(smooth_pair_model, molecule())
    testing.assert_forces_are_gradients(smooth_pair_model, molecule(), eps=1e-5, tol=1e-7)
    testing.assert_smooth_at_cutoff(smooth_pair_model, molecule(), r_max=R_CUT)
    testing.assert_supercell_consistent(smooth_pair_model, crystal(), repeats=(2, 1, 1))


def test_equivariance_check_catches_an_orientation_dependent_model():
    def tilted(frame):  # energy depends on the x axis: not rotation invariant
        e, f = smooth_pair_model(frame)
        return e + 0.1 * frame.positions[:, 0].sum(), f - np.array([0.1, 0, 0])

    with pytest.raises(AssertionError, match="assert_equivariant"):
        testing.assert_equivariant(tilted, molecule())
    with pytest.raises(AssertionError, match="assert_invariant_energy"):
        testing.assert_invariant_energy(tilted, molecule())


def test_reflection_check_catches_a_chiral_model():
    def chiral(frame):  # signed volume of the first tetrahedron: rotation invariant, flips under mirror
        p = frame.positions
        return np.linalg.det(np.stack([p[1] - p[0], p[2] - p[0], p[3] - p[0]])), np.zeros_like(p)

    testing.assert_invariant_energy(chiral, molecule(), reflections=False)
    with pytest.raises(AssertionError, match="reflection"):
        testing.assert_equivariant(chiral, molecule(), reflections=True)


def test_translation_check_catches_an_origin_dependent_model():
    def anchored(frame):
        return float((frame.positions**2).sum()), -2 * frame.positions

    with pytest.raises(AssertionError, match="translation"):
        testing.assert_translation_invariant(anchored, molecule())


def test_permutation_check_catches_an_order_dependent_model():
    def ordered(frame):
        w = np.arange(frame.n_atoms)[:, None]
        return float((w * frame.positions**2).sum()), -2 * w * frame.positions

    with pytest.raises(AssertionError, match="permutation"):
        testing.assert_permutation_equivariant(ordered, molecule())


def test_gradient_check_catches_wrong_forces():
    def wrong_sign(frame):
        e, f = smooth_pair_model(frame)
        return e, -f

    with pytest.raises(AssertionError, match="finite-difference"):
        testing.assert_forces_are_gradients(wrong_sign, molecule(), eps=1e-5, tol=1e-6)


def test_smoothness_check_catches_a_hard_cutoff():
    def hard(frame):  # exp(-r) truncated at R_CUT without an envelope
        energy, forces = 0.0, np.zeros_like(frame.positions)
        for i, j, vec, d in _pairs(frame, R_CUT):
            energy += 0.5 * np.exp(-d)
            forces[i] += -0.5 * np.exp(-d) * vec / d
            forces[j] -= -0.5 * np.exp(-d) * vec / d
        return energy, forces

    with pytest.raises(AssertionError, match="r_max"):
        testing.assert_smooth_at_cutoff(hard, molecule(), r_max=R_CUT)


def test_smoothness_check_catches_a_force_kink_at_the_cutoff():
    """Energy continuous at r_max but forces not: E = 1/2 sum (1 - r/rc) (a linear envelope)."""

    def kinked(frame):
        energy, forces = 0.0, np.zeros_like(frame.positions)
        for i, j, vec, d in _pairs(frame, R_CUT):
            energy += 0.5 * (1 - d / R_CUT)
            de_dr = -0.5 / R_CUT
            forces[i] += de_dr * vec / d
            forces[j] -= de_dr * vec / d
        return energy, forces

    with pytest.raises(AssertionError, match="force change across r_max"):
        testing.assert_smooth_at_cutoff(kinked, molecule(), r_max=R_CUT)


def test_supercell_check_catches_a_model_ignoring_periodic_images():
    def no_images(frame):
        return smooth_pair_model(frame, images=False)

    edge = Frame(
        positions=np.array([[0.1, 0.5, 0.5], [0.85, 0.5, 0.5]]) @ TRICLINIC,
        numbers=np.array([1, 8]),
        cell=TRICLINIC,
        pbc=np.array([True, True, True]),
    )  # closest contact through the a face
    testing.assert_supercell_consistent(smooth_pair_model, edge, repeats=(2, 1, 1))
    with pytest.raises(AssertionError, match="supercell"):
        testing.assert_supercell_consistent(no_images, edge, repeats=(2, 1, 1))


def test_smoothness_check_catches_a_nequip_without_envelope():
    """A real NequIP whose envelope is replaced by a step (and Bessel zeros moved) fails."""
    torch.manual_seed(0)
    stats = DatasetStatistics(species=[1, 6, 8], e0_ev=[0.0, 0.0, 0.0], force_rms_ev_per_a=1.0, avg_num_neighbors=3.0)
    config = ModelConfig(
        name="t",
        model="nequip",
        r_max=R_CUT,
        dtype="float64",
        hyperparameters=dict(l_max=1, num_layers=2, num_features=4, invariant_layers=1, invariant_neurons=8),
    )
    potential = build_potential(config, stats)
    testing.assert_smooth_at_cutoff(potential, molecule())

    class Step(torch.nn.Module):
        def forward(self, r):
            return (r < R_CUT).to(r.dtype)

    potential.network.cutoff = Step()
    with torch.no_grad():
        potential.network.bessel.frequencies.mul_(1.1)  # as after training: sin(w r/rc) != 0 at rc
    with pytest.raises(AssertionError, match="r_max"):
        testing.assert_smooth_at_cutoff(potential, molecule())


def test_supercell_helper_tiles_atoms_and_cell():
    big = testing.supercell(crystal(), (2, 3, 1))
    assert big.n_atoms == 12
    np.testing.assert_allclose(big.cell, TRICLINIC * np.array([[2], [3], [1]]))
    with pytest.raises(ValueError):
        testing.supercell(molecule(), (2, 1, 1))


def test_builders_return_what_they_promise():
    mol = testing.random_molecule(seed=3, n=7, species=(1, 8))
    assert mol.n_atoms == 7 and not mol.pbc.any() and not mol.is_periodic
    assert set(mol.numbers.tolist()) <= {1, 8}
    d = np.linalg.norm(mol.positions[:, None] - mol.positions[None], axis=-1)[np.triu_indices(7, 1)]
    assert d.min() > 0.9 and np.abs(d - testing.SMALL_R_MAX).min() > 0.05 and d.max() > testing.SMALL_R_MAX
    np.testing.assert_array_equal(testing.random_molecule(seed=3, n=7, species=(1, 8)).positions, mol.positions)
    assert testing.random_molecule(seed=4).n_atoms == 8

    crystal = testing.random_crystal(seed=2)
    assert crystal.pbc.all() and crystal.is_periodic and crystal.n_atoms == 3
    np.testing.assert_allclose(crystal.cell, testing.SMALL_CELL)
    assert abs(np.linalg.det(crystal.cell)) > 20.0  # a real 3-D cell, about 3 Å a side

    stats = testing.toy_statistics(species=(8, 1))
    assert stats.species == [1, 8] and stats.e0_ev == [-13.6, -2041.0] and stats.force_rms_ev_per_a > 0
    assert testing.toy_statistics(species=(1, 6), e0_ev=0.0).e0_ev == [0.0, 0.0]
    with pytest.raises(ValueError, match="reference energies"):
        testing.toy_statistics(species=(1, 6), e0_ev=[1.0])

    state = torch.random.get_rng_state()
    potential = testing.small_potential("nequip", l_max=2, statistics=stats)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG is left alone
    assert potential.dtype == torch.float64 and potential.config.r_max == testing.SMALL_R_MAX
    assert potential.config.hyperparameters["l_max"] == 2 and potential.config.hyperparameters["num_features"] == 4
    assert sum(p.numel() for p in potential.parameters()) < 20_000
    energy, forces = testing.evaluate(potential, testing.random_molecule(1, species=(1, 8)))
    assert np.isfinite(energy) and forces.shape == (8, 3)
    same = testing.small_potential("nequip", l_max=2, statistics=stats)
    assert all(torch.equal(a, b) for a, b in zip(potential.state_dict().values(), same.state_dict().values()))
    assert testing.small_potential("schnet", dtype="float32").dtype == torch.float32


def test_importing_testing_or_the_cli_registers_no_toy_network():
    """The toy network joins the registry only on request, so users never see it."""
    code = (
        "import mlip_bench.cli, mlip_bench.testing\n"
        "from mlip_bench.models import registry\n"
        "print(','.join(registry.registered_networks()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300, cwd=REPO
    ).stdout
    names = out.strip().splitlines()[-1].split(",")
    assert "nequip" in names and testing.TOY_NETWORK not in names


def test_register_toy_network_is_explicit_and_idempotent(monkeypatch):
    assert testing.register_toy_network() is testing.PairMLP
    assert testing.register_toy_network() is testing.PairMLP  # a second call is a no-op
    assert registry.network_class("pairmlp") is testing.PairMLP
    assert registry.registered_networks().count("pairmlp") == 1

    class Other(registry.Network):
        pass

    monkeypatch.setitem(registry._REGISTRY, "pairmlp", Other)  # someone else's network by that name
    with pytest.raises(ModelError, match="taken by"):
        testing.register_toy_network()
    assert registry.network_class("pairmlp") is Other  # left alone


def test_toy_network_passes_the_physics_checks_on_a_morse_molecule(tmp_path, monkeypatch):
    testing.register_toy_network()
    monkeypatch.setattr(registry, "BASELINES_DIR", tmp_path)
    assert testing.install_toy_model(tmp_path) == tmp_path / "pairmlp.yaml"
    config = registry.load_model_config("pairmlp")
    assert config.model == "pairmlp" and config.dtype == "float64" and config.r_max == 4.0
    potential = testing.small_potential(
        "pairmlp",
        r_max=config.r_max,
        statistics=testing.toy_statistics(species=(1, 6, 8), e0_ev=0.0),
        **config.hyperparameters,
    )
    frame = testing.morse_frames(3, seed=2)[2]
    assert frame.n_atoms == 4 and frame.forces.shape == (4, 3) and np.isfinite(frame.energy)
    testing.assert_forces_are_gradients(potential, frame, eps=1e-5, tol=1e-7)
    testing.assert_equivariant(potential, frame)
    testing.assert_translation_invariant(potential, frame)
    testing.assert_permutation_equivariant(potential, frame)
    testing.assert_smooth_at_cutoff(potential, frame)
    np.testing.assert_array_equal(testing.morse_frames(3, seed=2)[2].positions, frame.positions)  # same seed
