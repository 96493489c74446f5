"""Bessel radial basis with trainable frequencies (NequIP paper, FACTS §3.2)."""

from __future__ import annotations

import math

import torch


class BesselBasis(torch.nn.Module):
    """B_n(r) = (2 / r_max) * sin(w_n r / r_max) / r, with w_n initialised to n*pi.

    Input: edge lengths r (E,) in Å. Output: (E, num_basis), units 1/Å.
    ``trainable=True`` (the paper's setting) makes the frequencies w_n learnable.
    """

    def __init__(self, r_max: float, num_basis: int = 8, trainable: bool = True):
        super().__init__()
        self.r_max = float(r_max)
        self.num_basis = int(num_basis)
        self.prefactor = 2.0 / self.r_max
        frequencies = torch.arange(1, self.num_basis + 1, dtype=torch.get_default_dtype()) * math.pi
        if trainable:
            self.frequencies = torch.nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        r = r.unsqueeze(-1)
        return self.prefactor * torch.sin(self.frequencies * (r / self.r_max)) / r
