"""PyG SchNet and DimeNet++ on the project's graph: same numbers as PyG's own forward, configs,
errors, collinear triplets.

The physics checks, periodic cells, the float32 training step and checkpoints of these networks
are in tests/models/test_every_model.py (every registered network, one class).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, edge_vectors, frame_to_graph
from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models.registry import build_potential, load_model_config
from mlip_bench.testing import SMALL_R_MAX as R_MAX
from mlip_bench.testing import random_molecule, small_potential, toy_statistics


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _pyg_reference_graph(data):
    """Project graph in the form PyG's internal graph functions return."""
    vec = edge_vectors(data)
    return data.edge_index, vec.norm(dim=-1)


def test_schnet_matches_pyg_forward_on_the_same_graph():
    """Same weights, same graph: our per-atom energies sum to PyG SchNet's own output."""
    network = small_potential("schnet").network
    batch = collate([frame_to_graph(random_molecule(s, n=9), R_MAX, torch.float64) for s in (5, 6)])
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

    network = small_potential("dimenet++").network
    batch = collate([frame_to_graph(random_molecule(s, n=9), R_MAX, torch.float64) for s in (7, 8)])
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
    schnet_network = build_potential(schnet, toy_statistics()).network
    # SchNet 128 x 6 with 50 Gaussians: ~0.45 M parameters
    assert 4.4e5 < sum(p.numel() for p in schnet_network.parameters()) < 4.7e5


@pytest.mark.slow  # sympy derives the 7 x 6 spherical Bessel basis once (~30-60 s on one core)
def test_published_dimenet_builds_with_its_published_size():
    stats = toy_statistics()
    sizes = {}
    for name in ("dimenet++", "dimenet++-cpu"):
        potential = build_potential(load_model_config(name), stats)
        sizes[name] = sum(p.numel() for p in potential.network.parameters())
        batch = collate([frame_to_graph(random_molecule(11, n=9), 5.0, torch.float32)])
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
        small_potential(model, **hyper)


def test_unsupported_element_is_a_model_error():
    potential = small_potential("dimenet++")
    frame = random_molecule(12, n=9)
    graph = frame_to_graph(frame, R_MAX, torch.float64)
    graph.z[:] = 95  # the statistics do not know it either: first the Potential complains
    with pytest.raises(ModelError):
        potential(collate([graph]))
    with pytest.raises(ModelError, match="atomic numbers 1..94"):
        potential.network(collate([graph]), torch.ones(graph.edge_index.shape[1], 3, dtype=torch.float64))


def test_dimenet_trains_on_a_perfect_lattice_with_collinear_triplets():
    """Simple cubic silicon: every triplet is at 0, 90 or 180 degrees. Forces vanish by symmetry
    and a force-loss step still gives finite gradients (atan2 of a zero cross product)."""
    frame = Frame(positions=np.zeros((1, 3)), numbers=np.array([14]), cell=np.eye(3) * 2.5, pbc=np.ones(3, bool))
    potential = small_potential("dimenet++", r_max=5.2)
    batch = collate([frame_to_graph(frame, 5.2, torch.float64)])
    out = potential(batch, training=True)
    assert torch.allclose(out["forces"], torch.zeros(1, 3, dtype=torch.float64), atol=1e-12)
    (out["forces"].pow(2).sum() + out["energy"].sum()).backward()
    grads = [p.grad for p in potential.network.parameters() if p.grad is not None]
    assert grads and all(bool(torch.isfinite(g).all()) for g in grads)
