"""NequIP network: SO(3) models tell mirror images apart, faithfulness of the tensor product to
e3nn, irreps, float32 energies, hyperparameter validation, paper configs, training.

The physics checks (symmetry, gradients, smoothness, periodicity) for every l_max and parity,
the float32 training step and checkpoints are in tests/models/test_every_model.py (every
registered network, one class)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from e3nn import o3

from mlip_bench import testing
from mlip_bench.data.graphs import collate, frame_to_graph
from mlip_bench.errors import ConfigError
from mlip_bench.models.nequip import NequIPNetwork
from mlip_bench.models.nequip.interaction import AngularCoupling
from mlip_bench.models.registry import available_models, build_potential, load_model_config


def test_so3_model_is_not_reflection_symmetric_but_o3_model_is():
    """parity=False gives an SO(3) model that can tell a molecule from its mirror image."""
    frame = testing.random_molecule(3, n=5)
    so3 = testing.small_potential("nequip", l_max=2, parity=False, num_layers=3)
    with pytest.raises(AssertionError, match="reflection"):
        testing.assert_equivariant(so3, frame, reflections=True)
    o3 = testing.small_potential("nequip", l_max=2, parity=True, num_layers=3)
    testing.assert_equivariant(o3, frame, reflections=True)


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
    reference = testing.small_potential("nequip", dtype="float64", l_max=1)
    potential = testing.small_potential("nequip", dtype="float32", l_max=1)
    potential.load_state_dict(reference.state_dict())  # same weights, cast to float32
    graph = collate([frame_to_graph(testing.random_molecule(2), testing.SMALL_R_MAX, torch.float32)])
    out = potential(graph)
    assert out["energy"].dtype == torch.float64
    assert out["forces"].dtype == torch.float32 and torch.isfinite(out["forces"]).all()
    e64, _ = testing.evaluate(reference, testing.random_molecule(2))
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
    with pytest.raises(ConfigError):
        testing.small_potential("nequip", **bad)


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
        build_potential(load_model_config(name), testing.toy_statistics())


@pytest.mark.slow
def test_every_nequip_config_builds():
    for name in [n for n in available_models() if n.startswith("nequip-")]:
        build_potential(load_model_config(name), testing.toy_statistics())


def test_training_steps_reduce_force_error():
    """A few Adam steps on one frame lower the force error: gradients reach every parameter."""
    potential = testing.small_potential("nequip", l_max=1)
    frame = testing.random_molecule(4)
    graph = collate([frame_to_graph(frame, testing.SMALL_R_MAX, torch.float64)])
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
