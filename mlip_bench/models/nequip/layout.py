"""Channel layout of equivariant node features, and the linear maps that respect it.

Features are held as ``{l: tensor (N, 2l+1, C_l)}``: for each angular momentum l, all channels of
that l (of either parity) are stacked on the last axis, so one batched matmul serves every irrep of
that l. ``FeatureLayout`` records which channels are even (+1) and odd (-1). This is the same
vector space as e3nn's ``Irreps`` layout (irrep-major, ``mul x (2l+1)``), only reordered; the
linear maps below equal e3nn's ``o3.Linear`` / ``FullyConnectedTensorProduct`` with one-hot
species (same "element" normalisation, weights ~ N(0, 1)), implemented with parity masks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from e3nn import o3

Features = dict[int, torch.Tensor]


@dataclass(frozen=True)
class FeatureLayout:
    """For each l, the channel segments ``(parity, multiplicity)`` in order."""

    segments: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]

    @classmethod
    def from_segments(cls, segments: dict[int, list[tuple[int, int]]]) -> "FeatureLayout":
        items = tuple(
            (int(l), tuple((int(p), int(m)) for p, m in segs if m > 0)) for l, segs in sorted(segments.items())
        )
        return cls(tuple((l, segs) for l, segs in items if segs))

    @classmethod
    def from_irreps(cls, irreps: str | o3.Irreps) -> "FeatureLayout":
        segments: dict[int, list[tuple[int, int]]] = {}
        for mul, ir in o3.Irreps(irreps):
            segments.setdefault(ir.l, []).append((ir.p, mul))
        return cls.from_segments(segments)

    @property
    def ls(self) -> list[int]:
        return [l for l, _ in self.segments]

    def segments_of(self, l: int) -> tuple[tuple[int, int], ...]:
        for key, segs in self.segments:
            if key == l:
                return segs
        return ()

    def channels(self, l: int) -> int:
        return sum(m for _, m in self.segments_of(l))

    def parities(self, l: int) -> list[int]:
        return [p for p, m in self.segments_of(l) for _ in range(m)]

    def irreps(self) -> o3.Irreps:
        """The equivalent e3nn irreps (for display)."""
        return o3.Irreps([(m, (l, p)) for l, segs in self.segments for p, m in segs])

    def __str__(self) -> str:
        return str(self.irreps())


def masked_normalised(mask: torch.Tensor) -> torch.Tensor:
    """mask (K, C) of 0/1 -> mask / sqrt(fan-in of each output column) (0 where fan-in is 0)."""
    fan_in = mask.sum(0, keepdim=True)
    return mask / fan_in.clamp_min(1.0).sqrt()


class EquivariantLinear(torch.nn.Module):
    """e3nn-style self-interaction: mixes channels of equal (l, parity), no bias.

    y_v = sum_u W_uv x_u / sqrt(fan_in(v)) over input channels u of the same irrep as v.
    """

    def __init__(self, layout_in: FeatureLayout, layout_out: FeatureLayout):
        super().__init__()
        self.layout_in, self.layout_out = layout_in, layout_out
        self.ls = [l for l in layout_out.ls if l in layout_in.ls]
        self.weights = torch.nn.ParameterDict()
        for l in self.ls:
            p_in = torch.tensor(layout_in.parities(l))
            p_out = torch.tensor(layout_out.parities(l))
            mask = (p_in[:, None] == p_out[None, :]).to(torch.get_default_dtype())
            self.register_buffer(f"scale_{l}", masked_normalised(mask))
            self.weights[str(l)] = torch.nn.Parameter(torch.randn(len(p_in), len(p_out)))

    def parameter_masks(self) -> dict[str, torch.Tensor]:
        """{parameter name: 0/1 mask of the entries that act} (parity-forbidden entries are 0)."""
        return {f"weights.{l}": (getattr(self, f"scale_{l}") != 0) for l in self.ls}

    def forward(self, x: Features) -> Features:
        out: Features = {}
        for l in self.ls:
            w = self.weights[str(l)] * getattr(self, f"scale_{l}")
            out[l] = torch.matmul(x[l], w)
        any_x = next(iter(x.values()))
        for l in self.layout_out.ls:
            if l not in out:  # no input of this l: e3nn gives zeros
                out[l] = any_x.new_zeros((any_x.shape[0], 2 * l + 1, self.layout_out.channels(l)))
        return out


class SpeciesLinear(torch.nn.Module):
    """Species-dependent self-connection (e3nn FullyConnectedTensorProduct with one-hot species).

    y_v = sum_u W[s]_uv x_u / sqrt(fan_in(v) * num_species), channels of equal (l, parity).
    """

    def __init__(self, layout_in: FeatureLayout, layout_out: FeatureLayout, num_species: int):
        super().__init__()
        self.num_species = int(num_species)
        self.layout_out = layout_out
        self.ls = [l for l in layout_out.ls if l in layout_in.ls]
        self.weights = torch.nn.ParameterDict()
        for l in self.ls:
            p_in = torch.tensor(layout_in.parities(l))
            p_out = torch.tensor(layout_out.parities(l))
            mask = (p_in[:, None] == p_out[None, :]).to(torch.get_default_dtype())
            scale = masked_normalised(mask) / math.sqrt(self.num_species)
            # rows ordered (species, input channel), as the one-hot outer product below
            self.register_buffer(f"scale_{l}", scale.repeat(self.num_species, 1))
            self.weights[str(l)] = torch.nn.Parameter(torch.randn(self.num_species * len(p_in), len(p_out)))

    def parameter_masks(self) -> dict[str, torch.Tensor]:
        """{parameter name: 0/1 mask of the entries that act} (parity-forbidden entries are 0)."""
        return {f"weights.{l}": (getattr(self, f"scale_{l}") != 0) for l in self.ls}

    def forward(self, x: Features, species: torch.Tensor) -> Features:
        out: Features = {}
        n = species.shape[0]
        onehot = None
        if self.num_species > 1:
            classes = torch.arange(self.num_species, device=species.device)
            onehot = (species.unsqueeze(-1) == classes).to(next(iter(x.values())).dtype)  # traceable one-hot
        for l in self.ls:
            w = self.weights[str(l)] * getattr(self, f"scale_{l}")
            if onehot is None:
                out[l] = torch.matmul(x[l], w)
            else:  # x (x) one-hot(species): (N, d, S * C_in), then one matmul
                xs = (onehot.view(n, 1, self.num_species, 1) * x[l].unsqueeze(2)).reshape(n, 2 * l + 1, -1)
                out[l] = torch.matmul(xs, w)
        return out
