"""Protocol presets carry the paper's recipe and the documented CPU reductions."""

from __future__ import annotations

import pytest

from mlip_bench.errors import ConfigError
from mlip_bench.train.protocols import CPU_STEPS_BY_N_TRAIN, available_protocols, load_protocol


def test_paper_recipe_for_molecules_and_periodic_systems():
    mol = load_protocol("paper", "molecule")
    assert (mol.energy_weight, mol.force_weight, mol.learning_rate, mol.batch_size) == (1.0, 1000.0, 0.01, 5)
    assert mol.amsgrad and mol.scheduler_factor == 0.8 and mol.scheduler_patience == 50
    assert mol.ema_decay == 0.99 and mol.ema_use_num_updates
    assert mol.early_stopping_patience == 1000 and mol.min_learning_rate == 1e-6
    assert mol.step_budget(950) is None and mol.max_test_frames is None
    per = load_protocol("paper", "periodic")
    assert (per.learning_rate, per.batch_size) == (0.005, 1)
    assert per.resolved_force_weight(64) == 64**2
    assert mol.resolved_force_weight(21) == 1000.0


def test_cpu_budget_is_the_same_ladder_for_every_model_and_interpolates():
    cpu = load_protocol("cpu", "molecule")
    for n, steps in CPU_STEPS_BY_N_TRAIN.items():
        assert cpu.step_budget(n) == steps
    assert cpu.step_budget(150) == 3000 + round(1000 * 50 / 150)  # between 100 and 250
    assert cpu.step_budget(10) == 2000 and cpu.step_budget(5000) == 6000
    # scheduler patience scales with the budget: 10% of the epochs the budget allows
    assert cpu.epochs_per_budget(50) == 200 and cpu.patience_for(50) == 20
    assert cpu.patience_for(1000) == 3
    # the recipe itself is unchanged
    assert (cpu.learning_rate, cpu.batch_size, cpu.force_weight, cpu.ema_decay) == (0.01, 5, 1000.0, 0.99)


def test_smoke_is_tens_of_steps():
    smoke = load_protocol("smoke", "molecule")
    assert 10 <= smoke.step_budget(1000) <= 100


def test_overrides_and_bad_names():
    assert load_protocol("cpu", max_steps=7, steps_by_n_train=None).step_budget(50) == 7
    assert set(available_protocols()) >= {"paper", "cpu", "smoke"}
    with pytest.raises(ConfigError, match="unknown protocol 'gpu'; choose one of"):
        load_protocol("gpu")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_protocol("paper", learning_rate=-1)


def test_baselines_keep_their_own_learning_rate_and_nothing_else_changes():
    for name in ("paper", "cpu", "demo", "smoke"):
        proto = load_protocol(name, "molecule")
        assert proto.learning_rate_for("nequip") == proto.learning_rate
        assert proto.learning_rate_for("schnet") == proto.learning_rate_for("dimenet++") == 1e-3
    assert load_protocol("paper", "periodic").learning_rate_for("nequip") == 0.005


def test_only_a_budget_change_continues_a_run():
    """A plateau run its cap ended goes on under a higher cap; not under a lower one, not when
    anything else changed, and never for the cosine schedule (whose every step depends on the budget)."""
    from mlip_bench.train.protocols import load_protocol

    capped = load_protocol("plateau", max_steps=40_000).model_dump()
    assert load_protocol("plateau", max_steps=80_000).continues(capped, 950, 40_000, 210, 2000.0)
    assert not load_protocol("plateau", max_steps=40_000).continues(capped, 950, 40_000, 210, 2000.0)
    assert not load_protocol("plateau", max_steps=80_000, learning_rate=0.02).continues(capped, 950, 40_000, 210, 1.0)
    cosine = load_protocol("plateau", lr_schedule="cosine", max_steps=1000).model_dump()
    assert not load_protocol("plateau", lr_schedule="cosine", max_steps=2000).continues(cosine, 50, 1000, 100, 1.0)
    # a record written before a field existed (here: lr_schedule) reads with the field's default
    old = {k: v for k, v in capped.items() if k not in ("lr_schedule", "warmup_steps")}
    assert load_protocol("plateau", max_steps=80_000).differs_only_in_budget(old)
