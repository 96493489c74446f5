"""Angle triplets k -> j -> i built from the project's neighbour graph (no torch-sparse).

DimeNet-style models pass messages along pairs of edges that share an atom: edge ``kj`` (k -> j)
feeds edge ``ji`` (j -> i). With the project's convention (``edge_index[0]`` = source/neighbour,
``edge_index[1]`` = target/centre, see :mod:`mlip_bench.data.graphs`) the triplets of an edge
``ji`` are all edges whose *target* is the *source* j of ``ji``, except the reverse edge
``ij`` itself (the same pair of atoms in the same periodic image).

Periodic images: an atom can neighbour several images of the same atom, so "k == i" alone is
not the right exclusion. The edge ``kj`` is the reverse of ``ji`` exactly when k == i and its
integer cell shift is the negative of that of ``ji`` (then r_kj = -r_ji); any other image of i
is a genuine third point and is kept. Angles are computed from the edge vectors (which already
contain the lattice translations), never from raw positions.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Triplets(NamedTuple):
    """Index pairs of a triplet k -> j -> i: ``idx_kj`` and ``idx_ji`` are edge indices (T,)."""

    idx_kj: torch.Tensor
    idx_ji: torch.Tensor


def build_triplets(edge_index: torch.Tensor, num_nodes: int, cell_shift: torch.Tensor | None = None) -> Triplets:
    """All triplets (edge k->j, edge j->i) with edge k->j not the reverse of edge j->i.

    ``edge_index`` (2, E): row 0 source, row 1 target. ``cell_shift`` (E, 3) integer lattice
    shifts (any dtype holding integers) or None for non-periodic graphs. Vectorised: O(T) memory
    where T is the number of triplets (about E * mean neighbours).
    """
    src, dst = edge_index[0], edge_index[1]
    device = edge_index.device
    num_edges = src.numel()
    if num_edges == 0:
        empty = torch.zeros(0, dtype=torch.long, device=device)
        return Triplets(empty, empty)
    # incoming edges of every atom, grouped by target atom
    order = torch.argsort(dst, stable=True)
    incoming = torch.bincount(dst, minlength=num_nodes)
    start = torch.cumsum(incoming, 0) - incoming
    # each edge ji has incoming[j] candidate edges kj
    per_edge = incoming[src]
    idx_ji = torch.repeat_interleave(torch.arange(num_edges, device=device), per_edge)
    group_start = torch.cumsum(per_edge, 0) - per_edge
    within = torch.arange(idx_ji.numel(), device=device) - group_start[idx_ji]
    idx_kj = order[start[src][idx_ji] + within]
    # drop the reverse edge: k == i in the same image (shift_kj == -shift_ji)
    reverse = src[idx_kj] == dst[idx_ji]
    if cell_shift is not None and cell_shift.numel():
        shifts = cell_shift.round().to(torch.long) if cell_shift.is_floating_point() else cell_shift
        reverse = reverse & (shifts[idx_kj] == -shifts[idx_ji]).all(dim=1)
    keep = ~reverse
    return Triplets(idx_kj[keep], idx_ji[keep])


def triplet_angles(edge_vec: torch.Tensor, triplets: Triplets) -> torch.Tensor:
    """Angle (rad, in [0, pi]) between r_ji = r_j - r_i and r_kj = r_k - r_j for each triplet.

    ``edge_vec`` (E, 3) in Å is the project's per-edge vector source - target. This is the
    angle convention of DimeNet++ (atan2 of |cross| and dot, which is stable near 0 and pi and
    differentiable away from collinear triplets).
    """
    v_ji = edge_vec[triplets.idx_ji]
    v_kj = edge_vec[triplets.idx_kj]
    dot = (v_ji * v_kj).sum(dim=-1)
    cross = torch.linalg.cross(v_ji, v_kj, dim=-1).norm(dim=-1)
    return torch.atan2(cross, dot)
