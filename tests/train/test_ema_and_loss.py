"""EMA warm-up/averaging and the paper's normalised energy+force loss, against hand computation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from mlip_bench.train.ema import ExponentialMovingAverage
from mlip_bench.train.loss import EnergyForceLoss


def test_ema_uses_num_updates_warmup_and_swaps_weights_back():
    module = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        module.weight.fill_(0.0)
    ema = ExponentialMovingAverage(module, decay=0.99, use_num_updates=True)
    expected = 0.0
    for n, value in enumerate([1.0, 2.0, 3.0], start=1):
        with torch.no_grad():
            module.weight.fill_(value)
        d = min(0.99, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * value
        ema.update()
    assert ema.shadow["weight"].item() == pytest.approx(expected)
    with ema.average_parameters():
        assert module.weight.item() == pytest.approx(expected)
    assert module.weight.item() == 3.0
    state = ema.state_dict()
    other = ExponentialMovingAverage(module, decay=0.5, use_num_updates=False)
    other.load_state_dict(state)
    assert other.num_updates == 3 and other.decay == 0.99
    assert other.shadow["weight"].item() == pytest.approx(expected)


def test_loss_is_weighted_mse_on_targets_scaled_by_force_rms():
    batch = SimpleNamespace(
        energy=torch.tensor([10.0, 20.0], dtype=torch.float64),
        forces=torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0]]),
    )
    prediction = {
        "energy": torch.tensor([11.0, 18.0], dtype=torch.float64),
        "forces": torch.tensor([[1.5, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -1.0]]),
    }
    scale = 2.0
    terms = EnergyForceLoss(1.0, 1000.0, scale)(prediction, batch)
    energy_mse = ((1.0 / scale) ** 2 + (2.0 / scale) ** 2) / 2
    force_mse = (0.5 / scale) ** 2 / 9
    assert terms.energy_mse == pytest.approx(energy_mse)
    assert terms.force_mse == pytest.approx(force_mse)
    assert float(terms.total) == pytest.approx(energy_mse + 1000.0 * force_mse)
