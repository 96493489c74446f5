"""NequIP network: physics (symmetry, gradients, smoothness, periodicity) for every l_max and
parity, faithfulness of the tensor product to e3nn, hyperparameter validation, paper configs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from e3nn import o3

from mlip_bench import testing
from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, frame_to_graph
from mlip_bench.errors import ConfigError
from mlip_bench.models.nequip import NequIPNetwork
from mlip_bench.models.nequip.interaction import AngularCoupling
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import ModelConfig, available_models, build_potential, load_model_config

STATS = DatasetStatistics(
    species=[1, 6, 8], e0_ev=[-13.6, -1030.0, -2040.0], force_rms_ev_per_a=1.3, avg_num_neighbors=4.0
)
#: E0 = 0 so that the 1e-10 relative energy tolerance applies to the interaction energy itself
PHYSICS_STATS = DatasetStatistics(
    species=[1, 6, 8], e0_ev=[0.0, 0.0, 0.0], force_rms_ev_per_a=1.3, avg_num_neighbors=4.0
)
TRICLINIC = np.array([[3.1, 0.0, 0.0], [0.6, 3.3, 0.0], [0.4, -0.5, 3.6]])


def small_potential(l_max: int, parity: bool = True, dtype: str = "float64", r_max: float = 3.0, stats=STATS, **extra):
    torch.manual_seed(0)
    hyper = dict(l_max=l_max, parity=parity, num_layers=2, num_features=4, invariant_layers=2, invariant_neurons=8)
    hyper.update(extra)
    config = ModelConfig(name="test", model="nequip", r_max=r_max, dtype=dtype, hyperparameters=hyper)
    potential = build_potential(config, stats)
    with torch.no_grad():  # make the per-species scale/shift non-trivial
        potential.species_scale.uniform_(0.5, 1.5)
        potential.species_shift.uniform_(-0.5, 0.5)
    return potential


def random_molecule(seed: int = 0, n: int = 6) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame(positions=rng.uniform(0.0, 3.0, size=(n, 3)), numbers=rng.choice([1, 6, 8], size=n))


def random_crystal(seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame(
        positions=rng.uniform(size=(3, 3)) @ TRICLINIC,
        numbers=np.array([1, 8, 6]),
        cell=TRICLINIC,
        pbc=np.array([True, True, True]),
    )


@pytest.mark.parametrize("parity", [True, False])
@pytest.mark.parametrize("l_max", [0, 1, 2, 3])
def test_physics_checks_pass_for_every_lmax_and_parity(l_max, parity):
    potential = small_potential(l_max, parity, stats=PHYSICS_STATS)
    molecule, crystal = random_molecule(l_max), random_crystal(l_max)
    testing.assert_equivariant(potential, molecule, reflections=parity, rtol=1e-10)
    testing.assert_equivariant(potential, crystal, reflections=parity, rtol=1e-10)
    testing.assert_translation_invariant(potential, molecule)
    testing.assert_permutation_equivariant(potential, molecule)
    testing.assert_forces_are_gradients(potential, molecule, eps=1e-5, tol=1e-7, max_components=8)
    testing.assert_smooth_at_cutoff(potential, molecule)
    testing.assert_supercell_consistent(potential, crystal, repeats=(2, 1, 2))


def test_model_is_not_trivially_invariant():
    """The symmetry checks are meaningful: energies and forces depend on geometry."""
    potential = small_potential(2)
    frame = random_molecule(1)
    e1, f1 = testing.evaluate(potential, frame)
    moved = Frame(positions=frame.positions * 1.05, numbers=frame.numbers)
    e2, _ = testing.evaluate(potential, moved)
    assert abs(e1 - e2) > 1e-6
    assert np.abs(f1).max() > 1e-4


def test_so3_model_is_not_reflection_symmetric_but_o3_model_is():
    """parity=False gives an SO(3) model that can tell a molecule from its mirror image."""
    frame = random_molecule(3, n=5)
    so3 = small_potential(2, parity=False, num_layers=3)
    with pytest.raises(AssertionError, match="reflection"):
        testing.assert_equivariant(so3, frame, reflections=True)
    testing.assert_equivariant(small_potential(2, parity=True, num_layers=3), frame, reflections=True)


@pytest.mark.parametrize("l1,l2,l3", [(0, 1, 1), (1, 1, 0), (1, 1, 2), (2, 1, 3), (3, 2, 1), (2, 2, 2)])
def test_coupling_equals_e3nn_uvu_tensor_product(l1, l2, l3):
    """One convolution path gives exactly e3nn's TensorProduct("uvu", component normalisation)."""
    torch.manual_seed(0)
    lmax = max(l1, l2, l3)
    coupling = AngularCoupling(lmax, list(range(lmax + 1)), lmax)
    vec = torch.randn(7, 3, dtype=torch.float64)
    sh = o3.spherical_harmonics(list(range(lmax + 1)), vec, normalize=True, normalization="component")
    x = torch.randn(7, 2 * l1 + 1, dtype=torch.float64)
    a = coupling(sh)[l1]
    row = 0
    for b3, b2 in coupling.blocks[l1]:
        if (b3, b2) == (l3, l2):
            break
        row += 2 * b3 + 1
    ours = torch.einsum("erm,em->er", a[:, row : row + 2 * l3 + 1], x)
    p1, p2 = (-1) ** l1, (-1) ** l2
    tp = o3.TensorProduct(
        o3.Irreps([(1, (l1, p1))]),
        o3.Irreps([(1, (l2, p2))]),
        o3.Irreps([(1, (l3, p1 * p2))]),
        [(0, 0, 0, "uvu", True)],
        shared_weights=False,
        internal_weights=False,
    ).to(torch.float64)
    sh_l2 = sh[:, l2 * l2 : (l2 + 1) ** 2]
    reference = tp(x, sh_l2, torch.ones(7, tp.weight_numel, dtype=torch.float64))
    # e3nn builds its tables in float32 before the cast, hence 1e-6 rather than 1e-12
    torch.testing.assert_close(ours, reference, rtol=1e-6, atol=1e-7)


def test_irreps_follow_reachable_paths_like_nequip():
    """Layer outputs keep only irreps a tensor-product path can reach (paper l=3: 64x0e input)."""
    net = NequIPNetwork(r_max=4.0, num_species=3, avg_num_neighbors=10.0, l_max=3, num_layers=3, num_features=2)
    stages = [str(layout) for layout in net.layouts]
    assert stages[0] == "2x0e"
    assert stages[1] == "2x0e+2x1o+2x2e+2x3o"
    assert stages[3] == "2x0e+2x0o+2x1e+2x1o+2x2e+2x2o+2x3e+2x3o"
    l0 = NequIPNetwork(r_max=4.0, num_species=1, l_max=0, num_layers=2, num_features=8)
    assert [str(x) for x in l0.layouts] == ["8x0e", "8x0e", "8x0e"]


def test_float32_model_returns_float64_energy_and_finite_forces():
    reference = small_potential(1, dtype="float64")
    potential = small_potential(1, dtype="float32")
    potential.load_state_dict(reference.state_dict())  # same weights, cast to float32
    graph = collate([frame_to_graph(random_molecule(2), 3.0, torch.float32)])
    out = potential(graph)
    assert out["energy"].dtype == torch.float64
    assert out["forces"].dtype == torch.float32 and torch.isfinite(out["forces"]).all()
    e64, _ = testing.evaluate(reference, random_molecule(2))
    assert abs(float(out["energy"]) - e64) < 1e-4  # float32 rounding only: E0 is added in float64


@pytest.mark.parametrize(
    "bad",
    [
        {"l_max": 4},
        {"l_max": -1},
        {"num_layers": 0},
        {"num_features": 2.5},
        {"parity": "yes"},
        {"neighbor_normalization": -3},
        {"polynomial_p": 1},
        {"feature_irreps_hidden": "32x0e+32x5o"},
        {"feature_irreps_hidden": "not irreps"},
        {"nonlinearity_scalars": {"e": "relu6"}},
        {"unknown_option": 1},
    ],
)
def test_bad_hyperparameters_raise_config_error(bad):
    config = ModelConfig(name="bad", model="nequip", r_max=4.0, hyperparameters={"l_max": 1, **bad})
    with pytest.raises(ConfigError):
        build_potential(config, STATS)


def test_neighbor_normalization_auto_uses_statistics_and_number_overrides():
    auto = NequIPNetwork(r_max=4.0, num_species=1, avg_num_neighbors=7.5)
    fixed = NequIPNetwork(r_max=4.0, num_species=1, avg_num_neighbors=7.5, neighbor_normalization=10)
    assert auto.avg_num_neighbors == 7.5 and fixed.avg_num_neighbors == 10.0
    assert fixed.layers[0].interaction.inv_sqrt_neighbors == pytest.approx(1 / math.sqrt(10))


def test_paper_and_cpu_configs_build():
    names = [n for n in available_models() if n.startswith("nequip-")]
    for required in [
        "nequip-l0",
        "nequip-l1",
        "nequip-l2",
        "nequip-l3",
        "nequip-l2-periodic",
        "nequip-l0-cpu",
        "nequip-l1-cpu",
        "nequip-l2-cpu",
    ]:
        assert required in names
    paper = load_model_config("nequip-l3")
    assert paper.r_max == 4.0 and paper.hyperparameters["num_layers"] == 5
    assert paper.hyperparameters["num_features"] == 64 and paper.hyperparameters["invariant_layers"] == 3
    for name in ["nequip-l1", "nequip-l2-cpu"]:
        build_potential(load_model_config(name), STATS)


@pytest.mark.slow
def test_every_nequip_config_builds():
    for name in [n for n in available_models() if n.startswith("nequip-")]:
        build_potential(load_model_config(name), STATS)


def test_training_steps_reduce_force_error():
    """A few Adam steps on one frame lower the force error: gradients reach every parameter."""
    potential = small_potential(1, dtype="float64")
    frame = random_molecule(4)
    graph = collate([frame_to_graph(frame, 3.0, torch.float64)])
    target = torch.from_numpy(np.random.default_rng(0).normal(size=(frame.n_atoms, 3)))
    opt = torch.optim.Adam(potential.parameters(), lr=0.01)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        out = potential(graph, training=True)
        loss = ((out["forces"] - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.9 * losses[0]
    assert potential.network.bessel.frequencies.grad is not None  # trainable Bessel frequencies
