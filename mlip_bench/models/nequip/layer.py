"""NequIP ConvNetLayer (FACTS §3.6): interaction block, e3nn-style gate, optional ResNet update."""

from __future__ import annotations

import torch
from e3nn.math import normalize2mom

from mlip_bench.models.nequip.interaction import AngularCoupling, InteractionBlock
from mlip_bench.models.nequip.layout import FeatureLayout, Features

_ACTIVATIONS = {"silu": torch.nn.functional.silu, "tanh": torch.tanh, "abs": torch.abs}


def path_exists(layout_in: FeatureLayout, sh_parity: dict[int, int], l_out: int, p_out: int) -> bool:
    """True when some (l1, p1) x (l2, p2) coupling of input and edge harmonics gives (l_out, p_out)."""
    for l1 in layout_in.ls:
        for p1 in set(layout_in.parities(l1)):
            for l2, p2 in sh_parity.items():
                if abs(l1 - l2) <= l_out <= l1 + l2 and p1 * p2 == p_out:
                    return True
    return False


class NormalizedActivation(torch.nn.Module):
    """An elementwise activation scaled to unit second moment under N(0, 1) input (e3nn convention)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = _ACTIVATIONS[name]
        self.scale = float(normalize2mom(self.fn).cst)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) * self.scale


class ConvNetLayer(torch.nn.Module):
    """One message-passing layer. Output irreps are the hidden irreps reachable from the input.

    Scalars (l = 0) pass through SiLU (even) / tanh (odd); each l > 0 channel is multiplied by its
    own gate scalar (0e if reachable, else 0o) passed through SiLU / tanh. With ``resnet=True`` the
    input is added when input and output irreps coincide.
    """

    def __init__(
        self,
        layout_in: FeatureLayout,
        layout_hidden: FeatureLayout,
        coupling: AngularCoupling,
        sh_parity: dict[int, int],
        num_species: int,
        avg_num_neighbors: float,
        resnet: bool = False,
        use_sc: bool = True,
        scalar_activations: tuple[str, str] = ("silu", "tanh"),
        gate_activations: tuple[str, str] = ("silu", "tanh"),
    ):
        super().__init__()
        reachable = lambda l, p: path_exists(layout_in, sh_parity, l, p)  # noqa: E731
        scalars = [(p, m) for p, m in layout_hidden.segments_of(0) if reachable(0, p)]
        gated: dict[int, list[tuple[int, int]]] = {}
        for l in layout_hidden.ls:
            if l > 0:
                segs = [(p, m) for p, m in layout_hidden.segments_of(l) if reachable(l, p)]
                if segs:
                    gated[l] = segs
        n_gates = sum(m for segs in gated.values() for _, m in segs)
        gate_parity = 1 if reachable(0, 1) else -1
        conv_segments: dict[int, list[tuple[int, int]]] = {0: scalars + ([(gate_parity, n_gates)] if n_gates else [])}
        conv_segments.update(gated)
        self.layout_conv = FeatureLayout.from_segments(conv_segments)
        self.layout_out = FeatureLayout.from_segments({0: scalars, **gated})
        self.num_scalars = sum(m for _, m in scalars)
        acts = {1: scalar_activations[0], -1: scalar_activations[1]}
        self.scalar_acts = torch.nn.ModuleList([NormalizedActivation(acts[p]) for p, _ in scalars])
        self.scalar_sizes = [m for _, m in scalars]
        self.gate_act = NormalizedActivation(gate_activations[0] if gate_parity == 1 else gate_activations[1])
        self.gated_ls = sorted(gated)
        self.gated_sizes = [self.layout_out.channels(l) for l in self.gated_ls]
        self.interaction = InteractionBlock(
            layout_in, self.layout_conv, coupling, sh_parity, num_species, avg_num_neighbors, use_sc=use_sc
        )
        self.resnet = bool(resnet) and self.layout_out == layout_in

    @property
    def num_weights(self) -> int:
        return self.interaction.num_weights

    def forward(
        self,
        x: Features,
        species: torch.Tensor,
        edge_src: torch.Tensor,
        edge_dst: torch.Tensor,
        angular: dict[int, torch.Tensor],
        edge_weights: torch.Tensor,
    ) -> Features:
        h = self.interaction(x, species, edge_src, edge_dst, angular, edge_weights)
        s = h[0]
        out: Features = {}
        if self.scalar_acts:
            parts = torch.split(s[..., : self.num_scalars], self.scalar_sizes, dim=-1)
            acted = [act(part) for act, part in zip(self.scalar_acts, parts)]
            out[0] = acted[0] if len(acted) == 1 else torch.cat(acted, dim=-1)
        if self.gated_ls:
            gates = self.gate_act(s[..., self.num_scalars :])
            for l, g in zip(self.gated_ls, torch.split(gates, self.gated_sizes, dim=-1)):
                out[l] = h[l] * g
        if self.resnet:
            out = {l: x[l] + v for l, v in out.items()}
        return out
