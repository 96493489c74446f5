"""The paper's loss: λ_E · MSE(energy) + λ_F · MSE(force components), on normalised targets.

Energies (total, per structure) and forces are divided by the training force RMS (eV/Å, applied
to energies as eV) before squaring, so the weights are dimensionless and comparable across
datasets (FACTS.md 4.1). Energy MSE is averaged over structures, force MSE over atoms x 3.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossTerms:
    """Loss value (differentiable) and its two unweighted MSE parts (normalised units)."""

    total: torch.Tensor
    energy_mse: float
    force_mse: float


class EnergyForceLoss:
    """``λ_E · mean((ΔE / s)²) + λ_F · mean((ΔF / s)²)`` with ``s`` = training force RMS."""

    def __init__(self, energy_weight: float, force_weight: float, force_rms_ev_per_a: float):
        self.energy_weight = float(energy_weight)
        self.force_weight = float(force_weight)
        self.scale = float(force_rms_ev_per_a)

    def __call__(self, prediction: dict[str, torch.Tensor], batch) -> LossTerms:
        """``prediction`` from :class:`~mlip_bench.models.potential.Potential`; ``batch`` has
        ``energy`` (B,) eV and ``forces`` (N, 3) eV/Å."""
        total, energy_mse, force_mse = self.tensors(prediction, batch.energy, batch.forces)
        return LossTerms(total=total, energy_mse=float(energy_mse.detach()), force_mse=float(force_mse.detach()))

    def tensors(
        self, prediction: dict[str, torch.Tensor], energy: torch.Tensor, forces: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(total, energy MSE, force MSE) as tensors, no host sync (a compiled step traces this):
        ``energy`` (B,) eV and ``forces`` (N, 3) eV/Å are the reference labels."""
        energy_ref = energy.to(torch.float64).reshape(-1)
        # the energy difference is taken in float64 (absolute energies), then cast
        d_energy = (prediction["energy"] - energy_ref) / self.scale
        energy_mse = torch.mean(d_energy**2)
        total = self.energy_weight * energy_mse
        force_mse = torch.zeros((), dtype=torch.float64, device=energy_ref.device)
        if self.force_weight > 0:
            predicted = prediction["forces"]
            d_force = (predicted - forces.to(predicted.dtype)) / self.scale
            force_mse = torch.mean(d_force**2)
            total = total + self.force_weight * force_mse.to(total.dtype)
        return total, energy_mse, force_mse
