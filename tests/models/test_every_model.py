"""Every registered network, one test class: the physics a user relies on (symmetries, forces as
gradients, a smooth cutoff, periodic cells), a float32 training step and checkpoints.

The networks come from the registry, so a newly registered network is tested here without
editing this file (give it tiny sizes in ``mlip_bench.testing.TINY_HYPERPARAMETERS``). NequIP
runs at every l_max with and without parity (O(3) and SO(3) models). Models are built with
:func:`mlip_bench.testing.small_potential`: float64 for the tight tolerances, E0 = 0 so the
1e-10 relative energy tolerance applies to the interaction energy itself. schnetpack networks
skip when the optional extra is not installed.
"""

from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest
import torch

from mlip_bench import testing
from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, frame_to_graph
from mlip_bench.models import registry
from mlip_bench.models.loading import potential_from_payload
from mlip_bench.models.schnetpack_compat import apply_schnetpack_compat

R_MAX = testing.SMALL_R_MAX
#: E0 = 0: the relative energy tolerances then apply to the interaction energy itself
PHYSICS_STATISTICS = testing.toy_statistics(e0_ev=0.0)


def registered_networks() -> list[str]:
    """The networks mlip-bench's models register (not toys a test registered, such as
    ``mlip_bench.testing.PairMLP``)."""
    names = registry.registered_networks()
    return [name for name in names if registry.network_class(name).__module__.startswith("mlip_bench.models.")]


def _cases() -> list:
    cases = []
    for network in registered_networks():
        if network == "nequip":
            for l_max in range(4):
                for parity in (True, False):
                    name = f"nequip-l{l_max}-{'o3' if parity else 'so3'}"
                    cases.append(pytest.param((network, {"l_max": l_max, "parity": parity}), id=name))
        elif network.startswith("schnetpack-"):
            missing = importlib.util.find_spec("schnetpack") is None
            skip = pytest.mark.skipif(missing, reason="optional extra mlip-bench[schnetpack] not installed")
            cases.append(pytest.param((network, {}), id=network, marks=skip))
        else:
            cases.append(pytest.param((network, {}), id=network))
    return cases


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=_cases())
def case(request) -> tuple[str, dict]:
    network, hyper = request.param
    if network.startswith("schnetpack-"):
        apply_schnetpack_compat()  # before schnetpack's first import
        pytest.importorskip("schnetpack", reason="optional extra mlip-bench[schnetpack] not installed")
    return network, hyper


@pytest.fixture(scope="module")
def potential(case):
    """The float64 model every physics check uses (not modified by the tests)."""
    network, hyper = case
    return testing.small_potential(network, statistics=PHYSICS_STATISTICS, **hyper)


@pytest.fixture(scope="module")
def reflections(case) -> bool:
    """SO(3) models (nequip parity=False) need not be symmetric under reflections."""
    return bool(case[1].get("parity", True))


class TestEveryNetwork:
    def test_every_registered_network_is_sized_and_configured(self):
        """A new network is sized for these tests and has a packaged config."""
        networks = registered_networks()
        assert {"nequip", "schnet", "dimenet++", "schnetpack-schnet", "schnetpack-painn"} <= set(networks)
        assert set(networks) <= set(testing.TINY_HYPERPARAMETERS)
        configured = {registry.load_model_config(name).model for name in registry.available_models()}
        assert set(networks) <= configured

    def test_predictions_depend_on_geometry(self, potential):
        """The symmetry checks are meaningful: energies and forces are not trivially constant."""
        frame = testing.random_molecule(1)
        energy, forces = testing.evaluate(potential, frame)
        stretched = Frame(positions=frame.positions * 1.05, numbers=frame.numbers)
        assert abs(testing.evaluate(potential, stretched)[0] - energy) > 1e-6
        assert np.abs(forces).max() > 1e-4

    def test_energy_invariant_and_forces_equivariant_under_rotations_and_reflections(self, potential, reflections):
        """Molecule and periodic crystal (the cell turns with the atoms), random translations too."""
        testing.assert_equivariant(potential, testing.random_molecule(2), reflections=reflections)
        testing.assert_equivariant(potential, testing.random_crystal(2), reflections=reflections)

    def test_translation_and_permutation(self, potential):
        frame = testing.random_molecule(3)
        testing.assert_translation_invariant(potential, frame)
        testing.assert_permutation_equivariant(potential, frame)

    def test_forces_are_minus_energy_gradient(self, potential):
        testing.assert_forces_are_gradients(
            potential, testing.random_molecule(5), eps=1e-5, tol=1e-7, max_components=12
        )

    def test_smooth_when_a_neighbour_crosses_the_cutoff(self, potential):
        # seed 5 puts the scanned atom 0.59 Å from another atom: the steep but smooth force there
        # must not read as a jump (the check compares second differences)
        for seed in (4, 5):
            testing.assert_smooth_at_cutoff(potential, testing.random_molecule(seed))

    def test_periodic_images_supercell_and_lattice_translations(self, potential):
        """Interactions with periodic images (angles included) are consistent: a 2x1x2 supercell,
        where images become distinct atoms, has the same energy per atom and the same forces;
        forces are gradients in the cell; moving atoms by lattice vectors changes nothing."""
        frame = testing.random_crystal(6)
        testing.assert_supercell_consistent(potential, frame, repeats=(2, 1, 2))
        testing.assert_forces_are_gradients(potential, frame, eps=1e-5, tol=1e-7, max_components=5)
        moved = Frame(
            positions=frame.positions + np.array([[0, 0, 0], [1, 0, 0], [0, -1, 1]]) @ frame.cell,
            numbers=frame.numbers,
            cell=frame.cell,
            pbc=frame.pbc,
        )
        (e1, f1), (e2, f2) = testing.evaluate(potential, frame), testing.evaluate(potential, moved)
        assert e2 == pytest.approx(e1, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(f2, f1, rtol=1e-10, atol=1e-12)

    def test_float32_training_step_reaches_every_weight(self, case):
        """A force loss (double backward through every layer) plus a little energy loss gives
        finite, non-zero gradients to every weight that acts on the output.

        A weight without a gradient must be dead: changing it leaves energies and forces exactly
        as they were (NequIP's last layer, like the original's, computes l > 0 features that the
        scalar output never reads)."""
        network, hyper = case
        potential = testing.small_potential(network, dtype="float32", **hyper)
        batch = collate([frame_to_graph(testing.random_molecule(s), R_MAX, torch.float32) for s in (7, 8)])
        out = potential(batch, training=True)
        assert out["forces"].dtype == torch.float32 and out["forces"].shape == (batch.num_nodes, 3)
        (out["forces"].pow(2).mean() + 1e-3 * out["energy"].sum()).backward()
        trainable = {name: p for name, p in potential.named_parameters() if p.requires_grad}
        assert [n for n, p in trainable.items() if p.grad is not None and not bool(torch.isfinite(p.grad).all())] == []
        unreached = [n for n, p in trainable.items() if p.grad is None or float(p.grad.abs().sum()) == 0.0]
        reference = potential(batch)
        acting = []
        for name in unreached:  # forces need autograd, so the weights change through .data
            weight = trainable[name].data
            saved = weight.clone()
            weight.add_(torch.randn_like(weight) + 1.0)
            changed = potential(batch)
            weight.copy_(saved)
            if not torch.equal(changed["energy"], reference["energy"]) or not torch.equal(
                changed["forces"], reference["forces"]
            ):
                acting.append(name)
        assert acting == [], "weights that act on the output but get no gradient"
        assert len(unreached) < len(trainable) / 4

    def test_checkpoint_round_trip_and_copy_give_the_same_predictions(self, potential):
        """A saved payload rebuilds the same potential; a deep copy (as EMA makes) predicts the same."""
        batch = collate([frame_to_graph(testing.random_crystal(9), R_MAX, torch.float64)])
        reference = potential(batch)
        for other in (potential_from_payload(potential.checkpoint_payload()), copy.deepcopy(potential)):
            out = other(batch)
            assert torch.equal(out["energy"], reference["energy"])
            assert torch.equal(out["forces"], reference["forces"])
