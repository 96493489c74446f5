"""Compiled force evaluation (``mlip-bench md --compile``): the traced graph gives the eager
energies and forces for every model and structure, the calculator serves them, and a refused
graph falls back to eager evaluation with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mlip_bench.models.compiled_forces as compiled_forces
from mlip_bench import testing
from mlip_bench.calculator import MlipCalculator
from mlip_bench.data.graphs import collate, graphs_for
from mlip_bench.models.compiled_forces import CompiledForces


def _eager(potential, members):
    out = potential(collate(members), compute_forces=True)
    return out["energy"].detach(), out["forces"].detach()


@pytest.mark.parametrize(
    "model, kwargs",
    [("nequip", {"l_max": 1}), ("nequip", {"l_max": 2, "parity": False}), ("schnet", {}), ("dimenet++", {})],
)
def test_traced_graph_gives_the_eager_energy_and_forces_as_edges_change(model, kwargs):
    potential = testing.small_potential(model, **kwargs).eval()
    frames = [testing.random_molecule(seed=k, n=7) for k in range(4)] + testing.morse_frames(2)
    graphs = list(graphs_for(potential.config, frames))
    forces_fn = CompiledForces(potential, compile_graph=False)  # the traced graph itself
    # four molecules of 7 atoms with other edge counts (as in MD), then a batch of two Morse molecules
    for members in ([graphs[0]], [graphs[1]], [graphs[2]], [graphs[3]], graphs[4:6]):
        out = forces_fn(collate(members))
        assert out is not None, forces_fn.fallback
        energy, forces = out
        eager_energy, eager_forces = _eager(potential, members)
        assert energy.dtype == torch.float64 and energy.shape == eager_energy.shape
        assert torch.allclose(energy, eager_energy, rtol=1e-12, atol=1e-9)
        assert torch.allclose(forces, eager_forces, rtol=1e-9, atol=1e-12)
    assert len(forces_fn._graphs) == 2  # one trace per (structures, atoms, periodicity), not per edge count
    for p in potential.parameters():  # tracing leaves the model's own parameters in place
        assert type(p) is torch.nn.Parameter


def test_periodic_structures_trace_with_their_image_offsets():
    potential = testing.small_potential("nequip", l_max=1, statistics=testing.toy_statistics(species=[29])).eval()
    graphs = list(graphs_for(potential.config, testing.periodic_frames(2)))
    forces_fn = CompiledForces(potential, compile_graph=False)
    for graph in graphs:
        energy, forces = forces_fn(collate([graph]))
        eager_energy, eager_forces = _eager(potential, [graph])
        assert torch.allclose(energy, eager_energy, rtol=1e-12)
        assert torch.allclose(forces, eager_forces, rtol=1e-9, atol=1e-12)


def _calculators(potential, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # the traced graph, without Inductor's minutes
    return MlipCalculator(potential), MlipCalculator(potential, compile=True)


def test_calculator_with_compile_serves_the_eager_forces_along_a_trajectory(monkeypatch):
    from ase.md.verlet import VelocityVerlet
    from ase.units import fs

    potential = testing.small_potential("nequip", l_max=1).eval()
    eager, compiled = _calculators(potential, monkeypatch)
    atoms = testing.morse_frames(1)[0].to_atoms()
    atoms.set_velocities(np.random.default_rng(0).normal(scale=0.02, size=(len(atoms), 3)))
    atoms.calc = compiled
    dynamics = VelocityVerlet(atoms, timestep=0.5 * fs)
    for _ in range(5):
        dynamics.run(4)
        probe = atoms.copy()
        probe.calc = eager
        np.testing.assert_allclose(atoms.get_forces(), probe.get_forces(), rtol=1e-9, atol=1e-12)
        assert atoms.get_potential_energy() == pytest.approx(probe.get_potential_energy(), rel=1e-12)
    assert compiled.force_evaluation == "compiled" and eager.force_evaluation == "eager"


def test_a_graph_that_fails_its_check_falls_back_to_eager_forces_and_says_why(monkeypatch):
    potential = testing.small_potential("schnet").eval()
    eager, compiled = _calculators(potential, monkeypatch)
    monkeypatch.setattr(compiled_forces, "FORCE_CHECK_RTOL", -1.0)  # no graph can pass
    atoms = testing.morse_frames(1)[0].to_atoms()
    atoms.calc = compiled
    forces = atoms.get_forces()
    probe = atoms.copy()
    probe.calc = eager
    np.testing.assert_array_equal(forces, probe.get_forces())
    assert compiled.force_evaluation == "eager (compiled forces differ from the eager ones)"


def test_an_untraceable_model_evaluates_eagerly_and_says_why(monkeypatch):
    import torch.fx.experimental.proxy_tensor as proxy_tensor

    def refuse(*args, **kwargs):
        raise RuntimeError("data-dependent shape\nsecond line")

    monkeypatch.setattr(proxy_tensor, "make_fx", refuse)
    potential = testing.small_potential("nequip", l_max=1).eval()
    calc = MlipCalculator(potential, compile=True)
    atoms = testing.morse_frames(1)[0].to_atoms()
    atoms.calc = calc
    assert np.isfinite(atoms.get_forces()).all()
    assert calc.force_evaluation == "eager (compile failed (RuntimeError: data-dependent shape))"


@pytest.mark.slow
def test_inductor_compiled_forces_match_eager_in_float32():
    potential = testing.small_potential("nequip", l_max=1, dtype="float32").eval()
    graphs = list(graphs_for(potential.config, [testing.random_molecule(seed=k, n=7) for k in range(2)]))
    forces_fn = CompiledForces(potential)
    for graph in graphs:
        energy, forces = forces_fn(collate([graph]))
        eager_energy, eager_forces = _eager(potential, [graph])
        assert forces_fn.fallback == ""
        assert torch.allclose(forces, eager_forces, rtol=1e-4, atol=1e-5)
        assert torch.allclose(energy, eager_energy, rtol=1e-6)
