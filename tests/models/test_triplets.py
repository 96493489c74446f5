"""Triplets k->j->i from the neighbour graph agree with a brute-force enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, edge_vectors, frame_to_graph
from mlip_bench.models.triplets import build_triplets, triplet_angles


def _random_molecule(rng: np.random.Generator, n: int) -> Frame:
    positions = rng.uniform(0.0, 4.0, size=(n, 3))
    return Frame(positions=positions, numbers=rng.choice([1, 6, 8], size=n))


def _small_periodic_cell(rng: np.random.Generator) -> Frame:
    # 3 atoms in a 3 Å triclinic cell with a 3.5 Å cutoff: every atom sees several images of
    # every atom, itself included
    cell = np.array([[3.0, 0.0, 0.0], [0.4, 3.1, 0.0], [0.2, -0.3, 2.9]])
    frac = rng.uniform(size=(3, 3))
    return Frame(positions=frac @ cell, numbers=np.array([14, 14, 8]), cell=cell, pbc=np.ones(3, bool))


def _brute_force(edge_index: np.ndarray, shifts: np.ndarray) -> set[tuple[int, int]]:
    """Every pair (edge k->j, edge j->i) except the reverse of j->i in the same image."""
    src, dst = edge_index
    found = set()
    for ji in range(src.size):
        for kj in range(src.size):
            if dst[kj] != src[ji]:
                continue
            if src[kj] == dst[ji] and np.array_equal(shifts[kj], -shifts[ji]):
                continue
            found.add((kj, ji))
    return found


def _as_set(triplets) -> set[tuple[int, int]]:
    pairs = list(zip(triplets.idx_kj.tolist(), triplets.idx_ji.tolist()))
    assert len(pairs) == len(set(pairs)), "duplicate triplets"
    return set(pairs)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_molecule_batches_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    graphs = [frame_to_graph(_random_molecule(rng, n), r_max=2.5) for n in (5, 9, 7)]
    batch = collate(graphs)
    triplets = build_triplets(batch.edge_index, batch.num_nodes, batch.cell_shift)
    expected = _brute_force(batch.edge_index.numpy(), batch.cell_shift.numpy().round().astype(int))
    assert len(expected) > 20
    assert _as_set(triplets) == expected
    # a molecule has no images: the excluded edges are exactly those with k == i
    src, dst = batch.edge_index
    assert bool((src[triplets.idx_kj] != dst[triplets.idx_ji]).all())
    # triplets never cross molecules
    assert bool((batch.batch[src[triplets.idx_kj]] == batch.batch[dst[triplets.idx_ji]]).all())


def test_periodic_cell_keeps_other_images_of_the_centre_atom():
    rng = np.random.default_rng(3)
    data = frame_to_graph(_small_periodic_cell(rng), r_max=3.5, dtype=torch.float64)
    shifts = data.cell_shift.numpy().round().astype(int)
    triplets = build_triplets(data.edge_index, data.num_nodes, data.cell_shift)
    expected = _brute_force(data.edge_index.numpy(), shifts)
    assert _as_set(triplets) == expected
    src, dst = data.edge_index
    k_is_i = src[triplets.idx_kj] == dst[triplets.idx_ji]
    # k == i in another image is a genuine third point and must be kept...
    assert bool(k_is_i.any())
    # ...but never the reverse edge: r_kj == -r_ji would be a zero-length second arm
    vec = edge_vectors(data)
    back = (vec[triplets.idx_kj] + vec[triplets.idx_ji]).norm(dim=-1)
    assert float(back.min()) > 1e-6
    # without shifts the periodic graph would lose those triplets: the shift check matters
    assert len(build_triplets(data.edge_index, data.num_nodes).idx_kj) < len(expected)


def test_angles_match_positions_including_images():
    rng = np.random.default_rng(4)
    frame = _small_periodic_cell(rng)
    data = frame_to_graph(frame, r_max=3.5, dtype=torch.float64)
    triplets = build_triplets(data.edge_index, data.num_nodes, data.cell_shift)
    angles = triplet_angles(edge_vectors(data), triplets).numpy()
    src, dst = data.edge_index.numpy()
    shifts = data.cell_shift.numpy()
    for t in rng.choice(len(angles), size=50, replace=False):
        kj, ji = int(triplets.idx_kj[t]), int(triplets.idx_ji[t])
        i = dst[ji]
        j_image = frame.positions[src[ji]] + shifts[ji] @ frame.cell  # j as seen from i
        k_image = j_image + (frame.positions[src[kj]] + shifts[kj] @ frame.cell - frame.positions[dst[kj]])
        a, b = j_image - frame.positions[i], k_image - j_image
        expected = math.acos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))
        assert angles[t] == pytest.approx(expected, abs=1e-9)
    assert angles.min() >= 0.0 and angles.max() <= math.pi


def test_empty_graph_and_isolated_atoms():
    empty = torch.zeros((2, 0), dtype=torch.long)
    triplets = build_triplets(empty, 4)
    assert triplets.idx_kj.numel() == 0 and triplets.idx_ji.numel() == 0
    # one bond i<->j: each edge's only candidate is its own reverse
    pair = torch.tensor([[0, 1], [1, 0]])
    assert build_triplets(pair, 3).idx_kj.numel() == 0


def test_batched_periodic_cells_and_molecules_match_brute_force():
    rng = np.random.default_rng(5)
    frames = [_small_periodic_cell(rng), _random_molecule(rng, 6), _small_periodic_cell(rng)]
    batch = collate([frame_to_graph(f, r_max=3.2, dtype=torch.float64) for f in frames])
    triplets = build_triplets(batch.edge_index, batch.num_nodes, batch.cell_shift)
    expected = _brute_force(batch.edge_index.numpy(), batch.cell_shift.numpy().round().astype(int))
    assert _as_set(triplets) == expected
    src, dst = batch.edge_index
    assert bool((batch.batch[src[triplets.idx_kj]] == batch.batch[dst[triplets.idx_ji]]).all())
