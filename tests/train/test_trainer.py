"""The training loop: learns, stops cleanly on divergence, is deterministic."""

from __future__ import annotations

import pytest
import torch

from mlip_bench import testing
from mlip_bench.data.graphs import graphs_for
from mlip_bench.errors import TrainingError
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import build_potential, load_model_config
from mlip_bench.train.checkpoint import load_checkpoint
from mlip_bench.train.evaluate import evaluate_potential
from mlip_bench.train.harness import seed_everything
from mlip_bench.train.protocols import load_protocol
from mlip_bench.train.trainer import Trainer


def make_trainer(tmp_path, baselines, seed=0, max_steps=60, **protocol_overrides):
    frames = testing.morse_frames(40, seed=1)
    train, val = frames[:25], frames[25:]
    config = load_model_config("pairmlp")
    stats = DatasetStatistics.from_frames(train, config.r_max)
    seed_everything(seed)
    potential = build_potential(config, stats)
    proto = load_protocol("smoke", "molecule", max_steps=max_steps, **protocol_overrides)
    trainer = Trainer(
        potential, proto, graphs_for(config, train), graphs_for(config, val), tmp_path / "ckpt", seed=seed
    )
    return trainer, graphs_for(config, val)


def test_loss_decreases_and_test_error_drops(tmp_path, baselines):
    trainer, val = make_trainer(tmp_path, baselines, max_steps=150, learning_rate=0.01)
    before, _ = evaluate_potential(trainer.potential, val)
    result = trainer.fit()
    assert result.steps == 150
    first, last = result.history[0], result.history[-1]
    assert last["val_loss"] < 0.5 * first["val_loss"]
    trainer.load_best_weights()
    after, _ = evaluate_potential(trainer.potential, val)
    assert after.force_mae_mev_per_a < 0.6 * before.force_mae_mev_per_a
    # the best EMA model is saved as a loadable potential
    assert (tmp_path / "ckpt" / "best_model.pt").is_file()
    assert (tmp_path / "ckpt" / "last.pt").is_file()


def test_same_seed_same_weights_other_seed_differs(tmp_path, baselines):
    a, _ = make_trainer(tmp_path / "a", baselines, seed=3, max_steps=25)
    b, _ = make_trainer(tmp_path / "b", baselines, seed=3, max_steps=25)
    c, _ = make_trainer(tmp_path / "c", baselines, seed=4, max_steps=25)
    ra, rb, rc = a.fit(), b.fit(), c.fit()
    for (ka, va), (_kb, vb) in zip(a.potential.state_dict().items(), b.potential.state_dict().items()):
        assert torch.equal(va, vb), ka
    assert [h["val_loss"] for h in ra.history] == [h["val_loss"] for h in rb.history]
    assert [h["val_loss"] for h in ra.history] != [h["val_loss"] for h in rc.history]


def test_nan_loss_raises_and_keeps_last_good_checkpoint(tmp_path, baselines):
    trainer, _ = make_trainer(tmp_path, baselines, max_steps=40)
    calls = {"n": 0}
    original = trainer.potential.forward

    def poisoned(batch, *args, **kwargs):
        out = original(batch, *args, **kwargs)
        calls["n"] += 1
        if kwargs.get("training") and trainer.epoch >= 2:
            out["energy"] = out["energy"] * float("nan")
        return out

    trainer.potential.forward = poisoned
    with pytest.raises(TrainingError, match="diverged at epoch 3.*loss is nan.*last good checkpoint is kept"):
        trainer.fit()
    state = load_checkpoint(tmp_path / "ckpt" / "last.pt")
    assert state["epoch"] == 2 and not state["finished"]
    assert all(torch.isfinite(v).all() for v in state["model"]["state_dict"].values() if v.is_floating_point())


def test_exploding_loss_is_caught(tmp_path, baselines):
    trainer, _ = make_trainer(tmp_path, baselines, max_steps=40)
    original = trainer.potential.forward

    def exploding(batch, *args, **kwargs):
        out = original(batch, *args, **kwargs)
        if kwargs.get("training") and trainer.epoch >= 1:
            out["forces"] = out["forces"] + 1e5
        return out

    trainer.potential.forward = exploding
    with pytest.raises(TrainingError, match="exploded"):
        trainer.fit()


def test_finished_checkpoint_is_not_retrained(tmp_path, baselines):
    trainer, _ = make_trainer(tmp_path, baselines, max_steps=10)
    first = trainer.fit()
    again, _ = make_trainer(tmp_path, baselines, max_steps=10)
    second = again.fit()
    assert second.resumed and second.steps == first.steps == 10
    assert second.stop_reason == first.stop_reason
    for (k, v), (_, w) in zip(trainer.potential.state_dict().items(), again.potential.state_dict().items()):
        assert torch.equal(v, w), k


def test_plateau_cuts_lr_and_lr_floor_stops_training(tmp_path, baselines):
    trainer, _ = make_trainer(
        tmp_path,
        baselines,
        max_steps=1000,
        learning_rate=1e-3,
        min_learning_rate=5e-4,
        scheduler_patience=0,
        scheduler_factor=0.1,
    )
    trainer.validate = lambda: {"val_loss": 1.0, "val_energy_mae_mev": 1.0, "val_force_mae_mev_per_a": 1.0}
    result = trainer.fit()
    # epoch 1 sets the best loss, epoch 2 brings no gain -> LR x0.1 -> below the floor -> stop
    assert "learning rate below" in result.stop_reason
    assert result.epochs == 2 and result.steps == 10
    assert result.history[-1]["lr"] == pytest.approx(1e-4)


def test_early_stopping_after_patience_without_gain(tmp_path, baselines):
    trainer, _ = make_trainer(tmp_path, baselines, max_steps=1000, early_stopping_patience=3)
    trainer.validate = lambda: {"val_loss": 1.0, "val_energy_mae_mev": 1.0, "val_force_mae_mev_per_a": 1.0}
    result = trainer.fit()
    assert "no validation gain for 3 epochs" in result.stop_reason
    assert result.epochs == 4 and result.best_epoch == 1


def test_last_checkpoint_and_best_model_load_the_same_best_ema_weights(tmp_path, baselines):
    from mlip_bench.train.checkpoint import load_trained_potential

    trainer, val = make_trainer(tmp_path, baselines, max_steps=30)
    trainer.fit()
    from_best, _ = load_trained_potential(tmp_path / "ckpt" / "best_model.pt")
    from_last, _ = load_trained_potential(tmp_path / "ckpt" / "last.pt")
    trainer.load_best_weights()
    for name, value in trainer.potential.state_dict().items():
        assert torch.equal(from_best.state_dict()[name], value), name
        assert torch.equal(from_last.state_dict()[name], value), name


def _flat_validation(trainer):
    trainer.validate = lambda: {"val_loss": 1.0, "val_energy_mae_mev": 1.0, "val_force_mae_mev_per_a": 1.0}


def test_validation_cadence_in_steps_and_patience_in_validations(tmp_path, baselines):
    """validate_every_steps: validation only once enough steps passed (25 frames, batch 5 = 5
    steps per epoch, so every 3rd epoch for 12 steps); patience counts validations."""
    trainer, _ = make_trainer(tmp_path, baselines, max_steps=1000, validate_every_steps=12, early_stopping_patience=2)
    _flat_validation(trainer)
    result = trainer.fit()
    assert [h["step"] for h in result.history] == [15, 30, 45]
    assert result.stop_rule == "no-validation-gain" and "2 validations" in result.stop_reason
    assert result.best_epoch == 3


def test_budget_end_is_validated_and_not_certified(tmp_path, baselines):
    """A step budget that ends between validations still validates the last steps; the run is
    ended by its budget, so it is not a converged run."""
    trainer, _ = make_trainer(tmp_path, baselines, max_steps=22, validate_every_steps=100)
    result = trainer.fit()
    assert result.history[-1]["step"] == 22
    assert result.stop_rule == "budget"


def test_lr_floor_relative_to_start_certifies_convergence(tmp_path, baselines):
    trainer, _ = make_trainer(
        tmp_path,
        baselines,
        max_steps=1000,
        learning_rate=1e-2,
        min_learning_rate_factor=0.3,
        scheduler_patience=0,
        scheduler_factor=0.5,
    )
    _flat_validation(trainer)
    result = trainer.fit()
    # 1e-2 -> 5e-3 -> 2.5e-3 < 0.3 x 1e-2: two plateaus, then the floor ends the run
    assert result.stop_rule == "lr-floor"
    assert result.history[-1]["lr"] == pytest.approx(2.5e-3)


def test_cosine_schedule_warms_up_decays_to_zero_and_is_not_certified(tmp_path, baselines):
    trainer, _ = make_trainer(
        tmp_path,
        baselines,
        max_steps=50,
        learning_rate=1e-2,
        lr_schedule="cosine",
        warmup_steps=10,
        min_learning_rate=1e-3,
    )
    lrs = [h["lr"] for h in trainer.fit().history]
    # after 5 steps: warm-up factor (5 + 1) / 10; after 10 steps: warm-up done, cosine at its top
    assert lrs[0] == pytest.approx(0.6e-2) and lrs[1] == pytest.approx(1e-2)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert trainer._result("", "budget").stop_rule == "budget"
    assert trainer.step == 50  # the LR floor does not stop a cosine run early


def test_cosine_needs_a_budget():
    from mlip_bench.errors import ConfigError

    with pytest.raises(ConfigError, match="step budget"):
        load_protocol("paper", "molecule", lr_schedule="cosine")
