"""schnetpack adapter and compatibility shim.

The shim and the "not installed" path run in every environment; the adapter tests need the
optional extra (``pip install 'mlip-bench[schnetpack]'``) and skip without it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import typing

import numpy as np
import pytest
import torch

from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, edge_vectors, frame_to_graph
from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import ModelConfig, build_potential, load_model_config, network_class
from mlip_bench.models.schnetpack_compat import apply_schnetpack_compat, import_schnetpack
from mlip_bench.testing import (
    assert_equivariant,
    assert_forces_are_gradients,
    assert_permutation_equivariant,
    assert_smooth_at_cutoff,
    assert_supercell_consistent,
)

R_MAX = 3.0
TINY = {"n_atom_basis": 16, "n_interactions": 2, "n_rbf": 8}


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
            build_potential(config, _statistics())
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


def _statistics() -> DatasetStatistics:
    return DatasetStatistics(
        species=[1, 6, 8, 14],
        e0_ev=[-13.6, -1029.0, -2041.0, -7800.0],
        force_rms_ev_per_a=1.3,
        avg_num_neighbors=6.0,
    )


def _potential(model: str, dtype: str = "float64", **hyper):
    torch.manual_seed(0)
    config = ModelConfig(name=f"{model}-tiny", model=model, r_max=R_MAX, dtype=dtype, hyperparameters={**TINY, **hyper})
    return build_potential(config, _statistics())


def _molecule(seed: int = 0, n: int = 8) -> Frame:
    rng = np.random.default_rng(seed)
    while True:
        pos = rng.uniform(0.0, 3.6, size=(n, 3))
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[np.triu_indices(n, 1)]
        if d.min() > 0.9 and np.abs(d - R_MAX).min() > 0.05 and (d > R_MAX).any():
            return Frame(positions=pos, numbers=rng.choice([1, 6, 8], size=n))


def _crystal(seed: int = 0) -> Frame:
    rng = np.random.default_rng(seed)
    cell = np.array([[2.9, 0.0, 0.0], [0.3, 3.0, 0.0], [0.2, -0.2, 3.1]])
    while True:
        pos = rng.uniform(size=(3, 3)) @ cell
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[np.triu_indices(3, 1)]
        if d.min() > 1.2:
            return Frame(positions=pos, numbers=np.array([14, 8, 8]), cell=cell, pbc=np.ones(3, bool))


MODELS = ["schnetpack-schnet", "schnetpack-painn"]


@pytest.mark.parametrize("model", MODELS)
def test_physics_checks(spk, model):
    potential = _potential(model)
    frame = _molecule(1)
    assert_equivariant(potential, frame, n_trials=1)
    assert_permutation_equivariant(potential, frame)
    assert_forces_are_gradients(potential, frame, eps=1e-5, tol=1e-7, max_components=12)
    assert_smooth_at_cutoff(potential, _molecule(3))


@pytest.mark.parametrize("model", MODELS)
def test_periodic_supercell(spk, model):
    assert_supercell_consistent(_potential(model), _crystal(4), repeats=(2, 1, 1))


@pytest.mark.parametrize("model", MODELS)
def test_adapter_matches_schnetpacks_own_input_pipeline(spk, model):
    """Same weights: energies and forces from schnetpack's ASE converter, its own neighbour list
    and PairwiseDistances equal the adapter's on mlip-bench's graph (periodic cell included,
    so the idx_i/idx_j/Rij/offsets conventions agree)."""
    import ase

    network = _potential(model).network
    for frame in (_molecule(5), _crystal(6)):
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


@pytest.mark.parametrize("model", MODELS)
def test_float32_force_training_reaches_every_weight(spk, model):
    potential = _potential(model, dtype="float32")
    batch = collate([frame_to_graph(_molecule(s), R_MAX, torch.float32) for s in (7, 8)])
    out = potential(batch, training=True)
    assert out["forces"].dtype == torch.float32
    (out["forces"].pow(2).mean() + 1e-3 * out["energy"].sum()).backward()
    missing = [
        n
        for n, p in potential.network.named_parameters()
        if p.requires_grad and (p.grad is None or float(p.grad.abs().sum()) == 0.0)
    ]
    assert missing == []


def test_baseline_configs_build_schnetpacks_default_sizes(spk):
    for name, interactions, layers in (("schnetpack-schnet", 6, 6), ("schnetpack-painn", 3, 3)):
        config = load_model_config(name)
        assert config.r_max == 5.0 and config.hyperparameters["n_atom_basis"] == 128
        network = build_potential(config, _statistics()).network
        assert len(network.representation.interactions) == layers == interactions
        assert network.representation.radial_basis.n_rbf == 20


def test_bad_hyperparameters_are_config_errors(spk):
    with pytest.raises(ConfigError, match="n_interactions"):
        _potential("schnetpack-schnet", n_interactions=0)
    with pytest.raises(ConfigError, match="bad hyperparameter"):
        _potential("schnetpack-painn", n_filters=32)  # a SchNet-only option
