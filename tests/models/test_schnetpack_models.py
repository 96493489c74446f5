"""schnetpack adapter and compatibility shim.

The shim and the "not installed" path run in every environment; the adapter tests need the
optional extra (``pip install 'mlip-bench[schnetpack]'``) and skip without it. The physics
checks, periodic supercell and float32 training step of the schnetpack networks are in
tests/models/test_every_model.py (every registered network, one class).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import typing

import pytest
import torch

from mlip_bench.data.graphs import collate, edge_vectors, frame_to_graph
from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models.registry import build_potential, load_model_config, network_class
from mlip_bench.models.schnetpack_compat import apply_schnetpack_compat, import_schnetpack
from mlip_bench.testing import SMALL_R_MAX as R_MAX
from mlip_bench.testing import random_crystal, random_molecule, small_potential, toy_statistics

# -- the shim (no schnetpack needed) ----------------------------------------------------------


def test_shim_restores_T_co_idempotently(monkeypatch):
    import torch.utils.data.dataloader as dataloader

    monkeypatch.delattr(dataloader, "T_co", raising=False)  # as in torch 2.13
    assert apply_schnetpack_compat() == ["torch.utils.data.dataloader.T_co"]
    assert apply_schnetpack_compat() == []  # second call: nothing left to patch
    from torch.utils.data.dataloader import T_co  # the import schnetpack 2.0.4 does

    assert isinstance(T_co, typing.TypeVar) and T_co.__covariant__
    # the rest of torch's dataloader module is untouched
    assert dataloader.DataLoader is torch.utils.data.DataLoader


def test_shim_leaves_an_existing_name_alone(monkeypatch):
    import torch.utils.data.dataloader as dataloader

    marker = typing.TypeVar("T_co", covariant=True)
    monkeypatch.setattr(dataloader, "T_co", marker, raising=False)
    assert apply_schnetpack_compat() == []
    assert dataloader.T_co is marker


def test_networks_are_registered_and_say_how_to_install_when_schnetpack_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "schnetpack", None)  # import schnetpack -> ModuleNotFoundError
    for name in ("schnetpack-schnet", "schnetpack-painn"):
        assert network_class(name).name == name
        config = load_model_config(name)
        with pytest.raises(ModelError, match=r"pip install 'mlip-bench\[schnetpack\]'"):
            build_potential(config, toy_statistics())
    with pytest.raises(ModelError, match="schnetpack is not installed"):
        import_schnetpack()


# -- the adapter (needs the extra) ------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("schnetpack") is None, reason="optional extra not installed")
def test_schnetpack_imports_only_with_the_shim():
    """Fresh interpreters: plain ``import schnetpack`` fails under torch 2.13, through the shim it works."""
    plain = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, torch.utils.data.dataloader as d\nif hasattr(d, 'T_co'): sys.exit(3)\nimport schnetpack",
        ],
        capture_output=True,
        text=True,
    )
    if plain.returncode == 3:
        pytest.skip("this torch still defines T_co; the shim is a no-op here")
    assert plain.returncode != 0 and "T_co" in plain.stderr
    shimmed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from mlip_bench.models.schnetpack_compat import import_schnetpack; "
            "print(import_schnetpack().representation.PaiNN.__name__)",
        ],
        capture_output=True,
        text=True,
    )
    assert shimmed.returncode == 0, shimmed.stderr[-500:]
    assert shimmed.stdout.strip() == "PaiNN"


@pytest.fixture(scope="module")
def spk():
    apply_schnetpack_compat()
    return pytest.importorskip("schnetpack", reason="optional extra mlip-bench[schnetpack] not installed")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


MODELS = ["schnetpack-schnet", "schnetpack-painn"]


@pytest.mark.parametrize("model", MODELS)
def test_adapter_matches_schnetpacks_own_input_pipeline(spk, model):
    """Same weights: energies and forces from schnetpack's ASE converter, its own neighbour list
    and PairwiseDistances equal the adapter's on mlip-bench's graph (periodic cell included,
    so the idx_i/idx_j/Rij/offsets conventions agree)."""
    import ase

    network = small_potential(model).network
    for frame in (random_molecule(5), random_crystal(6)):
        atoms = ase.Atoms(numbers=frame.numbers, positions=frame.positions, cell=frame.cell, pbc=frame.pbc)
        converter = spk.interfaces.AtomsConverter(
            neighbor_list=spk.transform.ASENeighborList(cutoff=R_MAX), dtype=torch.float64
        )
        inputs = converter(atoms)
        inputs[spk.properties.R].requires_grad_(True)
        inputs = spk.atomistic.PairwiseDistances()(inputs)
        inputs = network.output(network.representation(inputs))
        theirs = inputs["atomic_energy"].sum()
        (their_grad,) = torch.autograd.grad(theirs, inputs[spk.properties.R])

        data = collate([frame_to_graph(frame, R_MAX, torch.float64)])
        data.pos.requires_grad_(True)
        ours = network(data, edge_vectors(data)).sum()
        (our_grad,) = torch.autograd.grad(ours, data.pos)
        assert float(ours.detach()) == pytest.approx(float(theirs.detach()), rel=1e-12, abs=1e-12)
        assert torch.allclose(our_grad, their_grad, rtol=1e-10, atol=1e-12)
        assert abs(float(ours.detach())) > 1e-4


def test_baseline_configs_build_schnetpacks_default_sizes(spk):
    for name, interactions, layers in (("schnetpack-schnet", 6, 6), ("schnetpack-painn", 3, 3)):
        config = load_model_config(name)
        assert config.r_max == 5.0 and config.hyperparameters["n_atom_basis"] == 128
        network = build_potential(config, toy_statistics()).network
        assert len(network.representation.interactions) == layers == interactions
        assert network.representation.radial_basis.n_rbf == 20


def test_bad_hyperparameters_are_config_errors(spk):
    with pytest.raises(ConfigError, match="n_interactions"):
        small_potential("schnetpack-schnet", n_interactions=0)
    with pytest.raises(ConfigError, match="bad hyperparameter"):
        small_potential("schnetpack-painn", n_filters=32)  # a SchNet-only option
