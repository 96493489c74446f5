"""Compiled training steps: the traced loss-and-gradient graph is the eager step's function, for
every batch shape, and training with it gives the eager run's numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlip_bench import testing
from mlip_bench.data.graphs import collate, graphs_for
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import build_potential, load_model_config
from mlip_bench.train.compiled_step import CompiledLossGradient
from mlip_bench.train.harness import seed_everything
from mlip_bench.train.loss import EnergyForceLoss
from mlip_bench.train.protocols import load_protocol
from mlip_bench.train.trainer import Trainer


def _graphs(potential, frames):
    return list(graphs_for(potential.config, frames))


def _labelled(frames, seed=0):
    """The frames with random energies (eV) and forces (eV/Å): a loss needs labels, not physics."""
    rng = np.random.default_rng(seed)
    for frame in frames:
        frame.energy = float(rng.normal(-50.0, 1.0))
        frame.forces = rng.normal(size=(len(frame.numbers), 3))
    return frames


def _eager(potential, loss_fn, batch):
    total = loss_fn(potential(batch, compute_forces=True, training=True), batch).total
    params = [p for p in potential.parameters() if p.requires_grad]
    grads = torch.autograd.grad(total, params, allow_unused=True)
    return total, [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


@pytest.mark.parametrize(
    "model, kwargs",
    [("nequip", {"l_max": 1}), ("nequip", {"l_max": 2, "parity": False}), ("schnet", {}), ("dimenet++", {})],
)
def test_traced_step_gives_the_eager_loss_and_gradients_for_every_batch_shape(model, kwargs):
    frames = testing.morse_frames(8) + _labelled([testing.random_molecule(seed=k, n=7) for k in range(6)])
    potential = testing.small_potential(model, **kwargs)
    loss_fn = EnergyForceLoss(1.0, 10.0, float(potential.statistics.force_rms_ev_per_a))
    step = CompiledLossGradient(potential, loss_fn, compile_graph=False)  # the traced graph itself
    graphs = _graphs(potential, frames)
    # batches of one shape (3 structures of 4 atoms; of 7 atoms) with other edge counts, and other
    # numbers of structures and atoms; a weight size equal to one batch's edge count must not
    # pin the graph to that count
    # (one 7-atom molecule with 24 edges, a weight size of the tiny l = 2 model, then one with 26)
    batches = [graphs[0:3], graphs[3:6], graphs[6:8], graphs[8:11], graphs[11:14], graphs[8:9], graphs[9:10]]
    assert collate(graphs[8:11]).edge_index.shape != collate(graphs[11:14]).edge_index.shape
    assert [collate(graphs[k : k + 1]).edge_index.shape[1] for k in (8, 9)] == [24, 26]
    for members in batches:
        batch = collate(members)
        out = step(batch)
        assert out is not None, step.fallback
        total, energy_mse, force_mse, grads = out
        eager_total, eager_grads = _eager(potential, loss_fn, collate(members))
        assert torch.allclose(total, eager_total, rtol=1e-10, atol=0.0)
        assert float(energy_mse) >= 0 and float(force_mse) > 0
        for g, ref in zip(grads, eager_grads):
            assert torch.allclose(g, ref, rtol=1e-9, atol=1e-12)
    # one trace per (structures, atoms, periodicity): 3 structures of 4 atoms, 2 of 4, 3 of 7, 1 of 7
    assert len(step._graphs) == 4
    # tracing leaves the model's own parameters in place (SchNet shares its filter networks)
    for p in potential.parameters():
        assert type(p) is torch.nn.Parameter


def test_periodic_batches_trace_with_their_cell_offsets():
    frames = testing.periodic_frames(4)
    potential = testing.small_potential("nequip", l_max=1, statistics=testing.toy_statistics(species=[29]))
    loss_fn = EnergyForceLoss(1.0, 10.0, 1.0)
    step = CompiledLossGradient(potential, loss_fn, compile_graph=False)
    graphs = _graphs(potential, frames)
    for members in (graphs[:2], graphs[2:]):
        out = step(collate(members))
        assert out is not None, step.fallback
        eager_total, eager_grads = _eager(potential, loss_fn, collate(members))
        assert torch.allclose(out[0], eager_total, rtol=1e-10)
        for g, ref in zip(out[3], eager_grads):
            assert torch.allclose(g, ref, rtol=1e-9, atol=1e-12)


def test_an_untraceable_model_trains_eagerly_and_says_why(tmp_path, baselines, monkeypatch):
    trainer = _toy_trainer(tmp_path, compile_step=True)

    def refuse(*args, **kwargs):
        raise RuntimeError("data-dependent size\nmore detail")

    monkeypatch.setattr(trainer.compiled_step, "_function", lambda index_names: refuse)
    result = trainer.fit()
    assert result.steps == 20
    assert result.train_step == "eager (compile failed (RuntimeError: data-dependent size))"


def test_trainer_with_compiled_steps_trains_like_the_eager_trainer(tmp_path, baselines, monkeypatch):
    """The trainer's wiring (gradients handed to Adam, the record's mode); Inductor is replaced by
    the traced graph itself here, a slow test below compiles for real."""
    monkeypatch.setattr(torch, "compile", lambda graph, **kwargs: graph)
    eager = _toy_trainer(tmp_path / "eager", compile_step=False).fit()
    compiled = _toy_trainer(tmp_path / "compiled", compile_step=True).fit()
    assert compiled.train_step == "compiled" and eager.train_step == "eager"
    assert compiled.steps == eager.steps
    for a, b in zip(eager.history, compiled.history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-9)


def _toy_trainer(tmp_path, compile_step: bool, max_steps: int = 20) -> Trainer:
    frames = testing.morse_frames(30, seed=1)
    config = load_model_config("pairmlp")
    stats = DatasetStatistics.from_frames(frames[:20], config.r_max)
    seed_everything(0)
    potential = build_potential(config, stats)
    proto = load_protocol("smoke", "molecule", max_steps=max_steps)
    return Trainer(
        potential,
        proto,
        graphs_for(config, frames[:20]),
        graphs_for(config, frames[20:]),
        tmp_path / "ckpt",
        compile_step=compile_step,
    )


@pytest.mark.slow
def test_inductor_compiled_nequip_step_matches_eager_in_float32():
    """The real thing: Inductor-compiled graph of a float32 NequIP step against the eager step."""
    frames = testing.morse_frames(6)
    potential = testing.small_potential("nequip", dtype="float32", l_max=1)
    loss_fn = EnergyForceLoss(1.0, 10.0, float(potential.statistics.force_rms_ev_per_a))
    step = CompiledLossGradient(potential, loss_fn)
    graphs = _graphs(potential, frames)
    for members in (graphs[:3], graphs[3:]):
        out = step(collate(members))
        assert out is not None, step.fallback
        eager_total, eager_grads = _eager(potential, loss_fn, collate(members))
        assert torch.allclose(out[0], eager_total, rtol=1e-5)
        for g, ref in zip(out[3], eager_grads):
            assert torch.allclose(g, ref, rtol=1e-3, atol=1e-5 * float(ref.abs().max()) + 1e-8)


def test_a_run_resumed_with_compiled_steps_says_it_began_eagerly(tmp_path, baselines, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda graph, **kwargs: graph)
    first = _toy_trainer(tmp_path, compile_step=False, max_steps=10).fit()
    assert first.train_step == "eager"
    resumed = _toy_trainer(tmp_path, compile_step=True, max_steps=20).fit()
    assert resumed.resumed and resumed.steps == 20
    assert resumed.train_step == "eager, then compiled"


def test_the_check_of_a_new_trace_tolerates_summation_noise_but_not_a_wrong_gradient():
    potential = testing.small_potential("nequip", l_max=1)
    loss_fn = EnergyForceLoss(1.0, 10.0, float(potential.statistics.force_rms_ev_per_a))
    step = CompiledLossGradient(potential, loss_fn, compile_graph=False)
    batch = collate(_graphs(potential, testing.morse_frames(3)))
    total, grads = _eager(potential, loss_fn, batch)
    largest = max(float(g.abs().max()) for g in grads)
    # float32-sized noise on every gradient, even one much smaller than the largest: accepted
    noisy = [g + 1e-6 * largest * torch.sign(torch.randn_like(g)) for g in grads]
    assert step._check(total, noisy, batch) == ""
    # one gradient 10 % off: refused, and the message names it
    index = step.names.index("species_scale")
    wrong = [g * 1.1 if k == index else g for k, g in enumerate(grads)]
    assert step._check(total, wrong, batch) == "compiled gradient of species_scale differs from the eager one"
    assert "differs from the eager" in step._check(total * 1.01, grads, batch)
