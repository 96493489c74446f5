"""Polynomial cutoff envelope (DimeNet form, p = 6 in the NequIP paper, FACTS §3.3)."""

from __future__ import annotations

import torch


class PolynomialCutoff(torch.nn.Module):
    """u(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2), x = r / r_max; 0 for x >= 1.

    u, u' and u'' vanish at r_max, so energies and forces are continuous as a neighbour
    leaves the cutoff.
    Input: edge lengths r (E,) in Å; output: (E,) dimensionless.
    """

    def __init__(self, r_max: float, p: float = 6.0):
        super().__init__()
        if p < 2:
            raise ValueError("polynomial cutoff needs p >= 2")
        self.r_max = float(r_max)
        self.p = float(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        p = self.p
        x = r / self.r_max
        xp = torch.pow(x, p)
        u = 1.0 - 0.5 * (p + 1.0) * (p + 2.0) * xp + p * (p + 2.0) * xp * x - 0.5 * p * (p + 1.0) * xp * x * x
        return u * (x < 1.0).to(u.dtype)
