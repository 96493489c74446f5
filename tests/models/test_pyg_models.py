"""PyG SchNet and DimeNet++ on the project's graph: physics checks, same numbers as PyG's own
forward, periodic cells, configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, edge_vectors, frame_to_graph
from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import ModelConfig, build_potential, load_model_config
from mlip_bench.testing import (
    assert_equivariant,
    assert_forces_are_gradients,
    assert_permutation_equivariant,
    assert_smooth_at_cutoff,
    assert_supercell_consistent,
)

R_MAX = 3.0

TINY = {
    "schnet": {"hidden_channels": 16, "num_filters": 16, "num_interactions": 2, "num_gaussians": 12},
    "dimenet++": {
        "hidden_channels": 16,
        "out_emb_channels": 16,
        "int_emb_size": 8,
        "basis_emb_size": 4,
        "num_blocks": 2,
        "num_spherical": 3,
        "num_radial": 4,
        # the published zero init makes a fresh model output exactly 0, which would make the
        # physics checks vacuous
        "output_initializer": "glorot_orthogonal",
    },
}


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


def _potential(model: str, dtype: str = "float64", r_max: float = R_MAX, **hyper):
    torch.manual_seed(0)
    config = ModelConfig(
        name=f"{model}-tiny",
        model=model,
        r_max=r_max,
        dtype=dtype,
        hyperparameters={**TINY[model], **hyper},
    )
    return build_potential(config, _statistics())


def _molecule(seed: int = 0, n: int = 9) -> Frame:
    """A random molecule with no pair closer than 0.9 Å and no pair within 0.05 Å of R_MAX."""
    rng = np.random.default_rng(seed)
    while True:
        pos = rng.uniform(0.0, 3.6, size=(n, 3))
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[np.triu_indices(n, 1)]
        if d.min() > 0.9 and np.abs(d - R_MAX).min() > 0.05 and (d > R_MAX).any():
            return Frame(positions=pos, numbers=rng.choice([1, 6, 8], size=n))


def _crystal(seed: int = 0) -> Frame:
    """Three atoms in a small triclinic cell: every atom sees several images of every atom."""
    rng = np.random.default_rng(seed)
    cell = np.array([[2.9, 0.0, 0.0], [0.3, 3.0, 0.0], [0.2, -0.2, 3.1]])
    while True:
        frac = rng.uniform(size=(3, 3))
        pos = frac @ cell
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)[np.triu_indices(3, 1)]
        if d.min() > 1.2:
            return Frame(positions=pos, numbers=np.array([14, 8, 8]), cell=cell, pbc=np.ones(3, bool))


@pytest.mark.parametrize("model", ["schnet", "dimenet++"])
def test_energy_invariant_and_forces_equivariant(model):
    potential = _potential(model)
    frame = _molecule(1)
    assert_equivariant(potential, frame, n_trials=1)
    assert_permutation_equivariant(potential, frame)


@pytest.mark.parametrize("model", ["schnet", "dimenet++"])
def test_forces_are_minus_energy_gradient(model):
    assert_forces_are_gradients(_potential(model), _molecule(2), eps=1e-5, tol=1e-7, max_components=12)


@pytest.mark.parametrize("model", ["schnet", "dimenet++"])
def test_smooth_when_a_neighbour_crosses_the_cutoff(model):
    assert_smooth_at_cutoff(_potential(model), _molecule(3))


@pytest.mark.parametrize("model", ["schnet", "dimenet++"])
def test_periodic_cell_images_and_supercell(model):
    """Interactions with periodic images (angles included) are consistent: a 2x1x1 supercell,
    where images become distinct atoms, has the same energy per atom and the same forces."""
    potential = _potential(model)
    frame = _crystal(4)
    assert_supercell_consistent(potential, frame, repeats=(2, 1, 1))
    assert_forces_are_gradients(potential, frame, eps=1e-5, tol=1e-7, max_components=5)
    # moving an atom by a lattice vector changes nothing
    moved = Frame(
        positions=frame.positions + np.array([[0, 0, 0], [1, 0, 0], [0, -1, 1]]) @ frame.cell,
        numbers=frame.numbers,
        cell=frame.cell,
        pbc=frame.pbc,
    )
    e1 = potential(collate([frame_to_graph(frame, R_MAX, torch.float64)]))["energy"]
    e2 = potential(collate([frame_to_graph(moved, R_MAX, torch.float64)]))["energy"]
    assert float(e1.detach()) == pytest.approx(float(e2.detach()), rel=1e-12)


def _pyg_reference_graph(data):
    """Project graph in the form PyG's internal graph functions return."""
    vec = edge_vectors(data)
    return data.edge_index, vec.norm(dim=-1)


def test_schnet_matches_pyg_forward_on_the_same_graph():
    """Same weights, same graph: our per-atom energies sum to PyG SchNet's own output."""
    network = _potential("schnet").network
    batch = collate([frame_to_graph(_molecule(s), R_MAX, torch.float64) for s in (5, 6)])
    ours = network(batch, edge_vectors(batch))
    per_graph = torch.zeros(2, dtype=torch.float64).index_add(0, batch.batch, ours)
    pyg = network.model
    original = pyg.interaction_graph
    pyg.interaction_graph = lambda pos, b: _pyg_reference_graph(batch)
    try:
        reference = pyg(batch.z, batch.pos, batch.batch).reshape(-1)
    finally:
        pyg.interaction_graph = original
    assert torch.allclose(per_graph, reference, rtol=1e-12, atol=1e-12)
    assert float(reference.abs().min()) > 1e-3


def test_dimenet_matches_pyg_forward_on_the_same_graph(monkeypatch):
    """PyG's DimeNet++ forward, given our graph and triplets instead of radius_graph/torch-sparse,
    gives exactly our output: the wrapper keeps the library's message passing and angle convention."""
    from torch_geometric.nn.models import dimenet as pyg_dimenet

    from mlip_bench.models.triplets import build_triplets

    network = _potential("dimenet++").network
    batch = collate([frame_to_graph(_molecule(s), R_MAX, torch.float64) for s in (7, 8)])
    ours = network(batch, edge_vectors(batch))
    per_graph = torch.zeros(2, dtype=torch.float64).index_add(0, batch.batch, ours)

    def triplets(edge_index, num_nodes):
        t = build_triplets(edge_index, num_nodes)
        src, dst = edge_index
        idx_i, idx_j, idx_k = dst[t.idx_ji], src[t.idx_ji], src[t.idx_kj]
        return dst, src, idx_i, idx_j, idx_k, t.idx_kj, t.idx_ji

    monkeypatch.setattr(pyg_dimenet, "radius_graph", lambda pos, r, batch, max_num_neighbors: batch_edges)
    monkeypatch.setattr(pyg_dimenet, "triplets", triplets)
    batch_edges = batch.edge_index
    reference = network.model(batch.z, batch.pos, batch.batch).reshape(-1)
    assert torch.allclose(per_graph, reference, rtol=1e-10, atol=1e-12)
    assert float(reference.abs().min()) > 1e-3


@pytest.mark.parametrize("model", ["schnet", "dimenet++"])
def test_float32_training_step_reaches_every_weight(model):
    """A force loss (double backward through the PyG layers) gives gradients to the weights."""
    potential = _potential(model, dtype="float32")
    batch = collate([frame_to_graph(_molecule(s), R_MAX, torch.float32) for s in (9, 10)])
    out = potential(batch, training=True)
    assert out["forces"].dtype == torch.float32 and out["forces"].shape == (batch.num_nodes, 3)
    loss = out["forces"].pow(2).mean() + out["energy"].pow(2).mean() * 0
    loss.backward()
    no_grad = [
        name for name, p in potential.network.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()
    ]
    assert no_grad == []
    assert all(
        float(p.grad.abs().sum()) > 0
        for n, p in potential.network.named_parameters()
        if "interactions.0" in n or "interaction_blocks.0" in n
    )


def test_baseline_configs_hold_the_published_sizes():
    schnet = load_model_config("schnet")
    assert schnet.model == "schnet" and schnet.r_max == 5.0
    assert schnet.hyperparameters == {
        "hidden_channels": 128,
        "num_filters": 128,
        "num_interactions": 6,
        "num_gaussians": 50,
    }
    dimenet = load_model_config("dimenet++")
    assert dimenet.r_max == 5.0
    hp = dimenet.hyperparameters
    assert (hp["hidden_channels"], hp["out_emb_channels"], hp["int_emb_size"], hp["basis_emb_size"]) == (
        128,
        256,
        64,
        8,
    )
    assert (hp["num_blocks"], hp["num_spherical"], hp["num_radial"], hp["envelope_exponent"]) == (4, 7, 6, 5)
    assert (hp["num_before_skip"], hp["num_after_skip"], hp["num_output_layers"]) == (1, 2, 3)
    schnet_network = build_potential(schnet, _statistics()).network
    # SchNet 128 x 6 with 50 Gaussians: ~0.45 M parameters
    assert 4.4e5 < sum(p.numel() for p in schnet_network.parameters()) < 4.7e5


@pytest.mark.slow  # sympy derives the 7 x 6 spherical Bessel basis once (~30-60 s on one core)
def test_published_dimenet_builds_with_its_published_size():
    stats = _statistics()
    sizes = {}
    for name in ("dimenet++", "dimenet++-cpu"):
        potential = build_potential(load_model_config(name), stats)
        sizes[name] = sum(p.numel() for p in potential.network.parameters())
        batch = collate([frame_to_graph(_molecule(11), 5.0, torch.float32)])
        assert potential(batch)["forces"].shape == (batch.num_nodes, 3)
    # DimeNet++ paper: 1.8 M parameters
    assert 1.8e6 < sizes["dimenet++"] < 1.9e6
    assert sizes["dimenet++-cpu"] < sizes["dimenet++"] / 4


@pytest.mark.parametrize(
    "model, hyper",
    [
        ("schnet", {"num_interactions": 0}),
        ("schnet", {"hidden_channels": "wide"}),
        ("schnet", {"cutoff": 10.0}),  # the cutoff is r_max, not a hyperparameter
        ("dimenet++", {"num_spherical": 1}),
        ("dimenet++", {"act": "no-such-activation"}),
        ("dimenet++", {"output_initializer": "ones"}),
        ("dimenet++", {"num_blocks": 2.5}),
    ],
)
def test_bad_hyperparameters_are_config_errors(model, hyper):
    with pytest.raises(ConfigError, match=model if "cutoff" not in hyper else "bad hyperparameters"):
        _potential(model, **hyper)


def test_unsupported_element_is_a_model_error():
    potential = _potential("dimenet++")
    frame = _molecule(12)
    graph = frame_to_graph(frame, R_MAX, torch.float64)
    graph.z[:] = 95  # the statistics do not know it either: first the Potential complains
    with pytest.raises(ModelError):
        potential(collate([graph]))
    with pytest.raises(ModelError, match="atomic numbers 1..94"):
        potential.network(collate([graph]), torch.ones(graph.edge_index.shape[1], 3, dtype=torch.float64))


@pytest.mark.parametrize("model", ["schnet", "dimenet++"])
def test_checkpoint_round_trip_and_copy_give_the_same_predictions(model):
    """A saved payload rebuilds the same potential; a deep copy (as EMA makes) predicts the same."""
    import copy

    from mlip_bench.models.loading import potential_from_payload

    potential = _potential(model)
    batch = collate([frame_to_graph(_crystal(13), R_MAX, torch.float64)])
    reference = potential(batch)
    for other in (potential_from_payload(potential.checkpoint_payload()), copy.deepcopy(potential)):
        out = other(batch)
        assert torch.equal(out["energy"], reference["energy"])
        assert torch.equal(out["forces"], reference["forces"])


def test_dimenet_trains_on_a_perfect_lattice_with_collinear_triplets():
    """Simple cubic silicon: every triplet is at 0, 90 or 180 degrees. Forces vanish by symmetry
    and a force-loss step still gives finite gradients (atan2 of a zero cross product)."""
    frame = Frame(positions=np.zeros((1, 3)), numbers=np.array([14]), cell=np.eye(3) * 2.5, pbc=np.ones(3, bool))
    potential = _potential("dimenet++", r_max=5.2)
    batch = collate([frame_to_graph(frame, 5.2, torch.float64)])
    out = potential(batch, training=True)
    assert torch.allclose(out["forces"], torch.zeros(1, 3, dtype=torch.float64), atol=1e-12)
    (out["forces"].pow(2).sum() + out["energy"].sum()).backward()
    grads = [p.grad for p in potential.network.parameters() if p.grad is not None]
    assert grads and all(bool(torch.isfinite(g).all()) for g in grads)
