"""Neighbour lists against brute force: molecules, triclinic cells smaller than 2 r_max, mixed pbc."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, edge_vectors, frame_to_graph, graphs_for, neighbor_list


def brute_force_pairs(positions, cell, pbc, r_max) -> dict[tuple, np.ndarray]:
    """{(i, j, Sx, Sy, Sz): r_ij} for every image pair closer than r_max (r_ij = r_j - r_i + S @ cell)."""
    positions = np.asarray(positions, dtype=np.float64)
    ranges = []
    if np.any(pbc):
        volume = abs(np.linalg.det(cell))
        frac = positions @ np.linalg.inv(cell)
        for d in range(3):
            if not pbc[d]:
                ranges.append([0])
                continue
            e, f = [k for k in range(3) if k != d]
            spacing = volume / np.linalg.norm(np.cross(cell[e], cell[f]))
            extent = frac[:, d].max() - frac[:, d].min()
            n = math.ceil(r_max / spacing + extent) + 1
            ranges.append(range(-n, n + 1))
    else:
        ranges = [[0], [0], [0]]
    pairs = {}
    for shift in itertools.product(*ranges):
        offset = np.asarray(shift, dtype=np.float64) @ cell if np.any(pbc) else np.zeros(3)
        vectors = positions[None, :, :] - positions[:, None, :] + offset  # [i, j]
        dist = np.linalg.norm(vectors, axis=-1)
        for i, j in zip(*np.nonzero(dist < r_max)):
            if i == j and not any(shift):
                continue
            pairs[(int(i), int(j), *shift)] = vectors[i, j]
    return pairs


def random_cell(rng, low, high):
    cell = np.diag(rng.uniform(low, high, 3))
    cell[1, 0], cell[2, 0], cell[2, 1] = rng.uniform(-0.45, 0.45, 3) * cell[0, 0]  # triclinic
    return cell


def _as_set(i, j, shifts):
    return {(int(a), int(b), *map(int, s)) for a, b, s in zip(i, j, shifts)}


@pytest.mark.parametrize("seed", range(6))
def test_molecule_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    positions = rng.uniform(-3, 3, size=(int(rng.integers(2, 15)), 3))
    r_max = float(rng.uniform(1.5, 4.0))
    i, j, shifts = neighbor_list(positions, np.zeros((3, 3)), np.zeros(3, bool), r_max)
    expected = brute_force_pairs(positions, np.zeros((3, 3)), np.zeros(3, bool), r_max)
    assert _as_set(i, j, shifts) == set(expected)
    assert not np.any(shifts)


PBC_CASES = [(True, True, True), (True, False, True), (False, True, False), (True, True, False)]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("pbc", PBC_CASES, ids=lambda p: "".join("T" if x else "F" for x in p))
def test_periodic_cells_smaller_than_two_rmax(seed, pbc):
    rng = np.random.default_rng(100 + seed)
    r_max = 4.0
    cell = random_cell(rng, 1.8, 4.5)  # lattice lengths below 2 r_max: many images of each atom
    n_atoms = int(rng.integers(1, 6))
    positions = rng.uniform(0, 1, size=(n_atoms, 3)) @ cell
    pbc = np.asarray(pbc)
    i, j, shifts = neighbor_list(positions, cell, pbc, r_max)
    expected = brute_force_pairs(positions, cell, pbc, r_max)
    got = _as_set(i, j, shifts)
    assert got == set(expected), f"missing {len(set(expected) - got)}, extra {len(got - set(expected))}"
    for d in np.flatnonzero(~pbc):
        assert not np.any(shifts[:, d]), "a shift along a non-periodic direction"


def test_edge_vectors_on_a_batch_match_brute_force():
    rng = np.random.default_rng(7)
    r_max = 2.5
    frames = []
    for k, pbc in enumerate([(False, False, False), (True, True, True), (True, False, True)]):
        cell = random_cell(rng, 2.0, 4.0) if any(pbc) else np.zeros((3, 3))
        n = 3 + k
        pos = rng.uniform(0, 1, size=(n, 3)) @ cell if any(pbc) else rng.uniform(-2, 2, size=(n, 3))
        frames.append(
            Frame(
                positions=pos,
                numbers=np.full(n, 6),
                energy=-1.0,
                forces=np.zeros((n, 3)),
                cell=cell,
                pbc=np.asarray(pbc),
                index=k,
            )
        )
    graphs = [frame_to_graph(f, r_max, dtype=torch.float64) for f in frames]
    batch = collate(graphs)
    batch.pos.requires_grad_(True)
    vectors = edge_vectors(batch)
    starts = np.concatenate([[0], np.cumsum([f.n_atoms for f in frames])])
    seen = 0
    for g, frame in enumerate(frames):
        expected = brute_force_pairs(frame.positions, frame.cell, frame.pbc, r_max)
        centre = batch.edge_index[1].numpy()
        mask = (centre >= starts[g]) & (centre < starts[g + 1])
        got = {}
        for e in np.flatnonzero(mask):
            j, i = batch.edge_index[:, e].numpy() - starts[g]
            key = (int(i), int(j), *map(int, batch.cell_shift[e].detach().numpy().round()))
            got[key] = vectors[e].detach().numpy()
        assert set(got) == set(expected)
        for key, vec in expected.items():
            np.testing.assert_allclose(got[key], vec, atol=1e-10)
        assert np.all(np.linalg.norm(list(got.values()), axis=1) < r_max) if got else True
        seen += int(mask.sum())
    assert seen == batch.edge_index.shape[1]
    vectors.norm(dim=-1).sum().backward()  # differentiable with respect to positions
    assert batch.pos.grad is not None and torch.isfinite(batch.pos.grad).all()
    assert batch.energy.dtype == torch.float64


def test_fast_collate_gives_the_same_batch_as_torch_geometric():
    """The trainer's collation takes a fast path; it must hand the model the same tensors."""
    from torch_geometric.data import Batch

    from mlip_bench.data.frame import Frame
    from mlip_bench.data.graphs import collate, frame_to_graph

    rng = np.random.default_rng(3)
    frames = [
        Frame(
            positions=rng.uniform(0, 3, size=(n, 3)),
            numbers=rng.choice([1, 6, 8], size=n),
            energy=float(rng.normal()),
            forces=rng.normal(size=(n, 3)),
            index=10 + k,
        )
        for k, n in enumerate((4, 7, 5))
    ]
    graphs = [frame_to_graph(f, 2.5) for f in frames]
    fast, general = collate(graphs), Batch.from_data_list(graphs)
    assert sorted(fast.keys()) == sorted(general.keys())
    for key in general.keys():
        if key != "frame_index":
            assert torch.equal(fast[key], general[key]), key
    assert fast.num_graphs == 3
    assert fast.frame_index.tolist() == [10, 11, 12]


def test_graphs_for_builds_each_frame_with_the_models_cutoff_and_dtype():
    from mlip_bench.models.registry import load_model_config

    rng = np.random.default_rng(3)
    frames = [
        Frame(positions=rng.uniform(0, 3, size=(n, 3)), numbers=rng.choice([1, 6, 8], size=n), energy=0.0)
        for n in (4, 6)
    ]
    config = load_model_config("schnet", dtype="float64")
    graphs = graphs_for(config, frames)
    for frame, graph in zip(frames, graphs, strict=True):
        expected = frame_to_graph(frame, config.r_max, torch.float64)
        assert graph.pos.dtype == torch.float64 and torch.equal(graph.edge_index, expected.edge_index)
