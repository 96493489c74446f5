"""ASE calculator: consistent energy/forces/stress, loading from a file, energy-conserving NVE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms, units
from ase.calculators.calculator import PropertyNotImplementedError
from ase.md.verlet import VelocityVerlet

from mlip_bench.calculator import MlipCalculator
from mlip_bench.errors import ModelError
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import ModelConfig, build_potential

STATS = DatasetStatistics(
    species=[1, 6, 8], e0_ev=[-13.6, -1030.0, -2040.0], force_rms_ev_per_a=1.0, avg_num_neighbors=4.0
)
TRICLINIC = np.array([[3.1, 0.0, 0.0], [0.6, 3.3, 0.0], [0.4, -0.5, 3.6]])


def potential(dtype: str = "float64"):
    torch.manual_seed(0)
    config = ModelConfig(
        name="calc-test",
        model="nequip",
        r_max=3.0,
        dtype=dtype,
        hyperparameters=dict(l_max=1, num_layers=2, num_features=4, invariant_layers=2, invariant_neurons=8),
    )
    return build_potential(config, STATS)


def ethanol_like() -> Atoms:
    return Atoms(
        "CCOHHHHHH",
        positions=[
            [0.0, 0.0, 0.0],
            [1.52, 0.0, 0.0],
            [2.05, 1.3, 0.0],
            [-0.4, 1.0, 0.2],
            [-0.4, -0.5, -0.9],
            [-0.35, -0.55, 0.85],
            [1.9, -0.55, 0.88],
            [1.9, -0.5, -0.9],
            [3.0, 1.25, 0.1],
        ],
    )


def test_energy_forces_stress_match_finite_differences():
    rng = np.random.default_rng(0)
    atoms = Atoms("HOC", scaled_positions=rng.uniform(size=(3, 3)), cell=TRICLINIC, pbc=True)
    atoms.calc = MlipCalculator(potential())
    assert atoms.get_potential_energy() == pytest.approx(atoms.calc.get_property("free_energy", atoms))
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    with pytest.warns(FutureWarning):
        numeric_forces = atoms.calc.calculate_numerical_forces(atoms, d=1e-5)
        numeric_stress = atoms.calc.calculate_numerical_stress(atoms, d=1e-5)
    np.testing.assert_allclose(forces, numeric_forces, atol=1e-7)
    np.testing.assert_allclose(stress, numeric_stress, atol=1e-8)
    assert np.abs(stress).max() > 1e-5  # not trivially zero


def test_loads_a_saved_model_and_gives_the_same_energy(tmp_path):
    pot = potential()
    path = tmp_path / "model.pt"
    torch.save(pot.checkpoint_payload(), path)
    atoms = ethanol_like()
    atoms.calc = MlipCalculator(pot)
    expected = atoms.get_potential_energy()
    atoms.calc = MlipCalculator(path)
    assert atoms.get_potential_energy() == pytest.approx(expected, abs=1e-10)


def test_stress_of_a_molecule_and_bad_inputs_raise():
    atoms = ethanol_like()
    atoms.calc = MlipCalculator(potential())
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()
    with pytest.raises(ModelError):
        MlipCalculator(42)
    with pytest.raises(ModelError):
        MlipCalculator("/nonexistent/model.pt")


def _nve_energy_error(pot, atoms: Atoms, velocities: np.ndarray, dt_fs: float, steps: int) -> float:
    atoms = atoms.copy()
    atoms.calc = MlipCalculator(pot)
    atoms.set_velocities(velocities)
    dyn = VelocityVerlet(atoms, timestep=dt_fs * units.fs)
    e0 = atoms.get_total_energy()
    worst = 0.0
    for _ in range(steps):
        dyn.run(1)
        worst = max(worst, abs(atoms.get_total_energy() - e0))
    return worst


def test_nve_conserves_energy_with_verlet_error_scaling():
    """Velocity Verlet on a smooth untrained model conserves total energy.

    Tolerance: for a smooth potential the Verlet energy error is bounded and O(dt^2) (it oscillates
    around a conserved shadow Hamiltonian) with no secular drift. With 9 atoms at 50 K (kinetic
    energy ~0.05 eV; an untrained model has no short-range repulsion, so hotter atoms can fall
    into holes of the random surface within tens of fs) and forces of ~0.2 eV/Å, 60 steps of
    0.5 fs give errors of ~4e-5 eV. We allow 5e-4 eV (1% of the kinetic energy) and require the
    error to shrink ~4x when dt is halved (between 2.5x and 6.5x over the same 30 fs): that fails
    if the forces are not the exact gradient of the energy or if energy or forces jump when a
    neighbour crosses r_max, since neither error scales as dt^2.
    """
    pot = potential()
    atoms = ethanol_like()
    rng = np.random.default_rng(1)
    masses = atoms.get_masses()[:, None]
    velocities = rng.normal(size=(len(atoms), 3)) * np.sqrt(50 * units.kB / masses)
    velocities -= (masses * velocities).sum(0) / masses.sum()
    coarse = _nve_energy_error(pot, atoms, velocities, 0.5, 60)
    fine = _nve_energy_error(pot, atoms, velocities, 0.25, 120)
    assert coarse < 5e-4
    assert 2.5 < coarse / fine < 6.5, (coarse, fine)


@pytest.mark.slow
def test_trained_ethanol_model_drives_a_stable_1ps_nve_run(tmp_path):
    """Train NequIP (l=1, CPU size) for ~2 minutes on the embedded rMD17 ethanol frames, then run
    1 ps of NVE (2000 x 0.5 fs) at ~300 K through the calculator.

    Stable means: no NaN, the molecule stays bonded (every atom within 2.2 Å of another) and the
    total energy stays within 0.05 eV of its start (Verlet error of a smooth surface at 0.5 fs is
    ~1e-3 eV for a 9-atom molecule; a model with holes or a rough surface blows through 0.05 eV).
    """
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    from mlip_bench.data.catalog import open_store
    from mlip_bench.train.harness import checkpoint_dir, run_cell

    record = run_cell(
        "nequip-l1-cpu",
        "rmd17/ethanol",
        n_train=50,
        seed=0,
        protocol="demo",
        out_dir=tmp_path,
        overrides={"max_steps": 800, "max_wall_seconds": 150},
        device="cpu",
    )
    best = checkpoint_dir(tmp_path, record.run_id) / "best_model.pt"
    store = open_store("rmd17/ethanol")
    try:
        atoms = store.frame(0).to_atoms()
    finally:
        store.close()
    atoms.calc = MlipCalculator(best)
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    e0 = atoms.get_total_energy()
    worst = 0.0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 9 atoms: one thread is fastest, and safe on a shared machine
    try:
        for _ in range(200):
            dyn.run(10)
            energy = atoms.get_total_energy()
            assert np.isfinite(energy)
            worst = max(worst, abs(energy - e0))
    finally:
        torch.set_num_threads(threads)
    distances = atoms.get_all_distances() + np.eye(len(atoms)) * 10
    assert distances.min(axis=1).max() < 2.2
    assert worst < 0.05, worst
