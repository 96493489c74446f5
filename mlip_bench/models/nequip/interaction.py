"""NequIP interaction block (FACTS §3.5), written for speed on top of e3nn's Clebsch-Gordan tables.

Per layer: ``linear_1`` (self-interaction) -> convolution -> scatter-sum / sqrt(avg neighbours)
-> ``linear_2`` (+ species self-connection). The convolution is e3nn's "uvu" tensor product of
sender features with the edge spherical harmonics Y(r_ij), one path per (l1, l2 -> l3) that lands
in the output irreps, weighted per edge and channel by a radial MLP of the Bessel embedding:

    m_ij[l3, u] = w_ij[path, u] * sqrt(2 l3 + 1) * sum_{m1, m2} C(l1 m1, l2 m2 | l3 m3) x_j[l1, u, m1] Y_l2(r_ij)_m2

Speed-ups over a plain e3nn ``TensorProduct`` (same numbers, different schedule):
- the Clebsch-Gordan x Y contraction ``A_ij = sum_m2 C Y_m2`` is one matmul per l1 for the whole
  forward (:class:`AngularCoupling`), shared by every layer;
- channels of one l (both parities) are stacked, so each l1 is one batched matmul (E, R, d1) @ (E, d1, C);
- the radial MLPs of all layers run as one batched call (:class:`RadialNetworks`).
"""

from __future__ import annotations

import math

import torch
from e3nn import o3
from e3nn.math import normalize2mom

from mlip_bench.models.nequip.layout import (
    EquivariantLinear,
    FeatureLayout,
    Features,
    SpeciesLinear,
    masked_normalised,
)


class AngularCoupling(torch.nn.Module):
    """Per-edge coupling matrices A_l1 (E, R_l1, 2 l1 + 1) from spherical harmonics.

    Rows of A_l1 are the blocks ``(l3, l2)`` (sorted by l3, then l2), each 2 l3 + 1 rows, for every
    l2 in ``sh_ls`` and |l1 - l2| <= l3 <= min(l1 + l2, l_out_max). Coefficients are the e3nn
    Wigner 3j symbols times sqrt(2 l3 + 1) ("component" normalisation, one path per output slot),
    kept in float64 and cast to the input dtype.
    """

    def __init__(self, l_in_max: int, sh_ls: list[int], l_out_max: int):
        super().__init__()
        self.sh_ls = list(sh_ls)
        self.sh_offsets = {}
        offset = 0
        for l2 in self.sh_ls:
            self.sh_offsets[l2] = offset
            offset += 2 * l2 + 1
        self.sh_dim = offset
        self.l1s = list(range(l_in_max + 1))
        #: l1 -> list of (l3, l2) blocks in row order
        self.blocks: dict[int, list[tuple[int, int]]] = {}
        #: l1 -> number of rows
        self.rows: dict[int, int] = {}
        for l1 in self.l1s:
            blocks = [(l3, l2) for l3 in range(l_out_max + 1) for l2 in self.sh_ls if abs(l1 - l2) <= l3 <= l1 + l2]
            self.blocks[l1] = blocks
            rows = sum(2 * l3 + 1 for l3, _ in blocks)
            self.rows[l1] = rows
            table = torch.zeros(self.sh_dim, rows, 2 * l1 + 1, dtype=torch.float64)
            row = 0
            for l3, l2 in blocks:
                w3j = o3.wigner_3j(l1, l2, l3, dtype=torch.float64) * math.sqrt(2 * l3 + 1)  # (d1, d2, d3)
                y0 = self.sh_offsets[l2]
                table[y0 : y0 + 2 * l2 + 1, row : row + 2 * l3 + 1, :] = w3j.permute(1, 2, 0)
                row += 2 * l3 + 1
            self.register_buffer(f"table_{l1}", table.reshape(self.sh_dim, rows * (2 * l1 + 1)))

    def _apply(self, fn, recurse=True):
        # the tables stay float64 (exact to 1e-16); forward casts them to the input dtype
        super()._apply(fn, recurse)
        for l1 in self.l1s:
            name = f"table_{l1}"
            setattr(self, name, getattr(self, name).to(torch.float64))
        return self

    def forward(self, sh: torch.Tensor) -> dict[int, torch.Tensor]:
        out: dict[int, torch.Tensor] = {}
        for l1 in self.l1s:
            table = getattr(self, f"table_{l1}").to(sh.dtype)
            out[l1] = torch.matmul(sh, table).view(sh.shape[0], self.rows[l1], 2 * l1 + 1)
        return out


class RadialNetworks(torch.nn.Module):
    """The radial MLPs of all layers, evaluated together.

    Each is e3nn's ``FullyConnectedNet([num_basis] + hidden + [n_out_k], silu)``: no biases,
    weights ~ N(0, 1) divided by sqrt(fan-in), SiLU normalised to unit second moment on hidden
    layers, linear output. Input (E, num_basis); output one (E, n_out_k) tensor per layer.
    """

    def __init__(self, num_basis: int, hidden: list[int], out_sizes: list[int]):
        super().__init__()
        if len(set(hidden)) > 1:
            raise ValueError("radial MLP hidden layers must share one width")
        self.num_nets = len(out_sizes)
        self.width = hidden[0] if hidden else 0
        self.depth = len(hidden)
        self.num_basis = num_basis
        self.out_sizes = list(out_sizes)
        self.act_scale = float(normalize2mom(torch.nn.functional.silu).cst)
        if self.depth:
            self.w_in = torch.nn.Parameter(torch.randn(num_basis, self.num_nets * self.width))
            self.w_hidden = torch.nn.Parameter(
                torch.randn(max(self.depth - 1, 0), self.num_nets, self.width, self.width)
            )
        self.w_out = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.randn(self.width if self.depth else num_basis, n)) for n in out_sizes]
        )

    def forward(self, embedding: torch.Tensor) -> list[torch.Tensor]:
        e = embedding.shape[0]
        if not self.depth:
            fan = self.num_basis
            return [torch.matmul(embedding, w) / math.sqrt(fan) for w in self.w_out]
        h = torch.matmul(embedding, self.w_in / math.sqrt(self.num_basis))
        h = torch.nn.functional.silu(h) * self.act_scale  # (E, L * width)
        h = h.view(e, self.num_nets, self.width).transpose(0, 1)  # (L, E, width)
        for k in range(self.depth - 1):
            h = torch.bmm(h, self.w_hidden[k] / math.sqrt(self.width))
            h = torch.nn.functional.silu(h) * self.act_scale
        return [torch.matmul(h[k], w / math.sqrt(self.width)) for k, w in enumerate(self.w_out)]


class InteractionBlock(torch.nn.Module):
    """linear_1 -> edge tensor product with radial weights -> sum over neighbours / sqrt(avg)
    -> linear_2, plus the species self-connection of the (un-linearised) input.

    ``layout_out`` lists the irreps the block produces (scalars, gates and gated features for the
    following gate). Paths (l1, p1) x (l2, p2) -> (l3, p1 p2) are kept when that irrep is in
    ``layout_out``, as in NequIP. ``num_weights`` is the number of per-edge weights the radial MLP
    must provide (one per kept path and channel).
    """

    def __init__(
        self,
        layout_in: FeatureLayout,
        layout_out: FeatureLayout,
        coupling: AngularCoupling,
        sh_parity: dict[int, int],
        num_species: int,
        avg_num_neighbors: float,
        use_sc: bool = True,
    ):
        super().__init__()
        self.layout_in, self.layout_out = layout_in, layout_out
        self.l1s = [l for l in layout_in.ls if l in coupling.blocks]
        self.blocks = {l1: coupling.blocks[l1] for l1 in self.l1s}
        self.rows = {l1: coupling.rows[l1] for l1 in self.l1s}
        self.inv_sqrt_neighbors = 1.0 / math.sqrt(avg_num_neighbors)
        # with only l = 0 harmonics the coupling is Y_0 * 1 = 1 ("component"): skip the product
        self.trivial_angular = list(coupling.sh_ls) == [0]
        self.linear_1 = EquivariantLinear(layout_in, layout_in)
        self.sc = SpeciesLinear(layout_in, layout_out, num_species) if use_sc else None

        out_parities = {l: set(layout_out.parities(l)) for l in layout_out.ls}
        weight_count = 0
        #: per l1: (first weight, count) of its slice of the radial output when every path is kept
        self.weight_slices: dict[int, tuple[int, int]] = {}
        self.l3_groups: dict[int, list[tuple[int, int, int, int]]] = {}  # l1 -> (l3, row0, n_l2, block0)
        mid_parities: dict[int, list[list[int]]] = {l: [] for l in layout_out.ls}
        for l1 in self.l1s:
            p_in = layout_in.parities(l1)
            index = []
            groups = []
            row = 0
            for b, (l3, l2) in enumerate(self.blocks[l1]):
                if not groups or groups[-1][0] != l3:
                    groups.append([l3, row, 0, b])
                groups[-1][2] += 1
                row += 2 * l3 + 1
                parity = [p * sh_parity[l2] for p in p_in]
                kept = [l3 in out_parities and q in out_parities[l3] for q in parity]
                for k in kept:
                    index.append(weight_count if k else -1)
                    weight_count += int(k)
                if l3 in mid_parities:
                    mid_parities[l3].append([q if k else 0 for q, k in zip(parity, kept)])
            self.l3_groups[l1] = [tuple(g) for g in groups if g[0] in out_parities]
            self.weight_slices[l1] = (index[0] if index else 0, len(index))
            self.register_buffer(f"weight_index_{l1}", torch.tensor(index, dtype=torch.long), persistent=False)
        self.num_weights = weight_count
        self.all_kept = all(bool((getattr(self, f"weight_index_{l1}") >= 0).all()) for l1 in self.l1s)
        for l1 in self.l1s:  # dropped paths read a zero column appended after the last weight
            index_t = getattr(self, f"weight_index_{l1}")
            setattr(self, f"weight_index_{l1}", torch.where(index_t < 0, weight_count, index_t))

        # linear_2: for each output l3, input channels = concat over l1 of (l2 block, channel)
        self.linear_2 = torch.nn.ParameterDict()
        self.out_ls = [l for l in layout_out.ls if mid_parities.get(l)]
        for l3 in self.out_ls:
            p_mid = torch.tensor([q for block in mid_parities[l3] for q in block])
            p_out = torch.tensor(layout_out.parities(l3))
            mask = ((p_mid[:, None] == p_out[None, :]) & (p_mid[:, None] != 0)).to(torch.get_default_dtype())
            self.register_buffer(f"linear_2_scale_{l3}", masked_normalised(mask))
            self.linear_2[str(l3)] = torch.nn.Parameter(torch.randn(len(p_mid), len(p_out)))

    def parameter_masks(self) -> dict[str, torch.Tensor]:
        """{parameter name: 0/1 mask of the entries that act} (parity-forbidden entries are 0)."""
        return {f"linear_2.{l3}": (getattr(self, f"linear_2_scale_{l3}") != 0) for l3 in self.out_ls}

    def forward(
        self,
        x: Features,
        species: torch.Tensor,
        edge_src: torch.Tensor,
        edge_dst: torch.Tensor,
        angular: dict[int, torch.Tensor],
        edge_weights: torch.Tensor,
    ) -> Features:
        n = species.shape[0]
        sc = self.sc(x, species) if self.sc is not None else None
        x = self.linear_1(x)
        if not self.all_kept:
            edge_weights = torch.cat([edge_weights, edge_weights.new_zeros((edge_weights.shape[0], 1))], dim=1)
        num_edges = edge_weights.shape[0]
        pieces: dict[int, list[torch.Tensor]] = {l3: [] for l3 in self.out_ls}
        for l1 in self.l1s:
            c = self.layout_in.channels(l1)
            n_blocks = len(self.blocks[l1])
            if self.all_kept:
                start, count = self.weight_slices[l1]
                w = edge_weights[:, start : start + count]
            else:
                w = edge_weights.index_select(1, getattr(self, f"weight_index_{l1}"))
            w = w.view(num_edges, n_blocks, 1, c)
            sender = x[l1].index_select(0, edge_src)  # (E, d1, C)
            if self.trivial_angular:
                coupled = sender  # (E, 1, C)
            elif l1 == 0:  # outer product: cheaper as a broadcast than as a batched matmul
                coupled = angular[0] * sender  # (E, R, 1) * (E, 1, C)
            else:
                coupled = torch.bmm(angular[l1], sender)  # (E, R, C)
            for l3, row0, n_l2, block0 in self.l3_groups[l1]:
                d3 = 2 * l3 + 1
                # rows of one l3 share d3, so the per-(path, channel) weights broadcast over m3
                group = coupled[:, row0 : row0 + n_l2 * d3].view(num_edges, n_l2, d3, c)
                message = group * w[:, block0 : block0 + n_l2]
                node = message.new_zeros((n, n_l2, d3, c)).index_add(0, edge_dst, message)
                pieces[l3].append(node.transpose(1, 2).reshape(n, d3, n_l2 * c))
        out: Features = {}
        for l3 in self.out_ls:
            mid = pieces[l3][0] if len(pieces[l3]) == 1 else torch.cat(pieces[l3], dim=2)
            w = self.linear_2[str(l3)] * getattr(self, f"linear_2_scale_{l3}")
            out[l3] = torch.matmul(mid, w * self.inv_sqrt_neighbors)
        if sc is not None:
            for l, value in sc.items():
                out[l] = out[l] + value if l in out else value
        return out
