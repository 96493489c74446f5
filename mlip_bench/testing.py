"""Public physics checks that every mlip-bench model is held to.

Each ``assert_*`` function evaluates a model on a :class:`~mlip_bench.data.frame.Frame` and raises
``AssertionError`` with a one-line reason when the model breaks a symmetry or smoothness property a
potential energy surface must have. ``model`` is either a
:class:`~mlip_bench.models.potential.Potential` (anything with ``.config.r_max`` and the Potential
call signature) or a plain callable ``model(frame) -> (energy eV, forces (n, 3) eV/Å)``.

Use float64 models for the tight tolerances (1e-10 relative); float32 needs ~1e-5.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # floor 0: no runtime import of the data layer
    from mlip_bench.data.frame import Frame

Evaluation = tuple[float, np.ndarray]


def evaluate(model: Any, frame: Frame) -> Evaluation:
    """Energy (eV, float64) and forces ((n, 3) eV/Å, float64) of ``model`` on ``frame``."""
    if hasattr(model, "config") and hasattr(model, "network"):
        from mlip_bench.data.graphs import collate, frame_to_graph  # local: keeps floor 0 import-clean

        graph = collate([frame_to_graph(frame, model.config.r_max, model.dtype)])
        out = model(graph, compute_forces=True)
        return float(out["energy"].detach().sum()), out["forces"].detach().double().numpy()
    energy, forces = model(frame)
    return float(energy), np.asarray(forces, dtype=np.float64)


def _replace(
    frame: Frame, positions: np.ndarray | None = None, numbers: np.ndarray | None = None, cell: np.ndarray | None = None
) -> Frame:
    return type(frame)(
        positions=frame.positions if positions is None else positions,
        numbers=frame.numbers if numbers is None else numbers,
        cell=frame.cell if cell is None else cell,
        pbc=frame.pbc,
    )


def random_rotation(rng: np.random.Generator, reflection: bool = False) -> np.ndarray:
    """A uniformly random 3x3 rotation matrix (det +1), or an improper one (det -1)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return -q if reflection else q


def _close(
    name: str, got: np.ndarray | float, expected: np.ndarray | float, rtol: float, atol: float, what: str
) -> None:
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    error = float(np.max(np.abs(got - expected))) if got.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    if not np.isfinite(error) or error > rtol * scale + atol:
        raise AssertionError(f"{name}: {what} differ by {error:.3e} (allowed {rtol:g} x {scale:.3e} + {atol:g})")


def assert_equivariant(
    model: Any,
    frame: Frame,
    reflections: bool = True,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    n_trials: int = 2,
    seed: int = 0,
) -> None:
    """Energy invariant and forces equivariant under random rotations (and reflections) plus a
    random translation: E(R r + t) = E(r), F(R r + t) = F(r) R^T. Cells rotate with the atoms."""
    rng = np.random.default_rng(seed)
    energy, forces = evaluate(model, frame)
    kinds = [False, True] if reflections else [False]
    for trial in range(n_trials):
        for reflect in kinds:
            rot = random_rotation(rng, reflection=reflect)
            shift = rng.normal(size=3) * 2.0
            moved = _replace(frame, positions=frame.positions @ rot.T + shift, cell=frame.cell @ rot.T)
            e2, f2 = evaluate(model, moved)
            label = "reflection" if reflect else "rotation"
            _close(f"assert_equivariant ({label} {trial})", e2, energy, rtol, atol, "energies")
            _close(f"assert_equivariant ({label} {trial})", f2, forces @ rot.T, rtol, atol, "forces")


def assert_invariant_energy(
    model: Any,
    frame: Frame,
    reflections: bool = True,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    n_trials: int = 2,
    seed: int = 0,
) -> None:
    """Energy alone unchanged under random rotations (reflections) and translations."""
    rng = np.random.default_rng(seed)
    energy, _ = evaluate(model, frame)
    for trial in range(n_trials):
        for reflect in [False, True] if reflections else [False]:
            rot = random_rotation(rng, reflection=reflect)
            moved = _replace(frame, positions=frame.positions @ rot.T + rng.normal(size=3), cell=frame.cell @ rot.T)
            _close(
                f"assert_invariant_energy (trial {trial})", evaluate(model, moved)[0], energy, rtol, atol, "energies"
            )


def assert_translation_invariant(
    model: Any, frame: Frame, rtol: float = 1e-10, atol: float = 1e-12, seed: int = 0
) -> None:
    """E and F unchanged when every atom moves by the same random vector (Å)."""
    rng = np.random.default_rng(seed)
    energy, forces = evaluate(model, frame)
    e2, f2 = evaluate(model, _replace(frame, positions=frame.positions + rng.normal(size=3) * 3.0))
    _close("assert_translation_invariant", e2, energy, rtol, atol, "energies")
    _close("assert_translation_invariant", f2, forces, rtol, atol, "forces")


def assert_permutation_equivariant(
    model: Any, frame: Frame, rtol: float = 1e-10, atol: float = 1e-12, seed: int = 0
) -> None:
    """Relabelling atoms leaves E unchanged and permutes the force rows the same way."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(frame.n_atoms)
    if frame.n_atoms > 1 and np.all(perm == np.arange(frame.n_atoms)):
        perm = np.roll(perm, 1)
    energy, forces = evaluate(model, frame)
    e2, f2 = evaluate(model, _replace(frame, positions=frame.positions[perm], numbers=frame.numbers[perm]))
    _close("assert_permutation_equivariant", e2, energy, rtol, atol, "energies")
    _close("assert_permutation_equivariant", f2, forces[perm], rtol, atol, "forces")


def assert_forces_are_gradients(
    model: Any, frame: Frame, eps: float = 1e-4, tol: float = 1e-6, max_components: int | None = 30, seed: int = 0
) -> None:
    """F = -dE/dr checked by central finite differences with step ``eps`` (Å).

    ``tol`` is relative to max(1 eV/Å, largest force); at most ``max_components`` random
    coordinates are checked (None: all).
    """
    rng = np.random.default_rng(seed)
    _, forces = evaluate(model, frame)
    flat = np.arange(frame.n_atoms * 3)
    if max_components is not None and len(flat) > max_components:
        flat = rng.choice(flat, size=max_components, replace=False)
    numeric = []
    for k in flat:
        i, c = divmod(int(k), 3)
        plus, minus = frame.positions.copy(), frame.positions.copy()
        plus[i, c] += eps
        minus[i, c] -= eps
        e_plus = evaluate(model, _replace(frame, positions=plus))[0]
        e_minus = evaluate(model, _replace(frame, positions=minus))[0]
        numeric.append(-(e_plus - e_minus) / (2 * eps))
    analytic = forces.reshape(-1)[flat]
    scale = max(1.0, float(np.abs(forces).max()))
    _close(
        "assert_forces_are_gradients",
        analytic,
        np.array(numeric),
        0.0,
        tol * scale,
        "autograd and finite-difference forces",
    )


def assert_smooth_at_cutoff(
    model: Any,
    frame: Frame,
    r_max: float | None = None,
    delta: float = 1e-6,
    energy_tol: float = 1e-9,
    force_tol: float = 1e-5,
) -> None:
    """E and F continuous as a neighbour crosses r_max (Å).

    The last atom is placed on the ray from atom 0 through it at r_max - delta and r_max + delta.
    The energy change, corrected for the smooth part the mean force predicts (E_out - E_in +
    <F> . dx), must stay below ``energy_tol`` (eV) and the forces must agree within ``force_tol``
    (eV/Å), far below the jump a hard cutoff gives. No other pair may lie within 100 * delta of r_max.
    """
    if frame.n_atoms < 2:
        raise ValueError("assert_smooth_at_cutoff needs at least two atoms")
    if r_max is None:
        r_max = float(model.config.r_max)
    direction = frame.positions[-1] - frame.positions[0]
    direction = direction / np.linalg.norm(direction)
    results = []
    for r in (r_max - delta, r_max + delta):
        pos = frame.positions.copy()
        pos[-1] = pos[0] + r * direction
        others = np.linalg.norm(pos[:-1, None] - pos[None, :], axis=-1)
        others[0, -1] = 0.0  # the scanned pair itself
        if np.any(np.abs(others - r_max) < 100 * delta):
            raise ValueError("assert_smooth_at_cutoff: another pair sits at r_max; use a different frame")
        results.append(evaluate(model, _replace(frame, positions=pos)))
    (e_in, f_in), (e_out, f_out) = results
    smooth_change = -0.5 * float((f_in[-1] + f_out[-1]) @ (2 * delta * direction))
    _close(
        "assert_smooth_at_cutoff",
        e_out - e_in,
        smooth_change,
        0.0,
        energy_tol,
        "energy change across r_max and the change the forces predict",
    )
    _close("assert_smooth_at_cutoff", f_out, f_in, 0.0, force_tol, "forces just inside and outside r_max")


def supercell(frame: Frame, repeats: tuple[int, int, int]) -> Frame:
    """The periodic frame repeated ``repeats`` times along its cell vectors."""
    if not frame.is_periodic:
        raise ValueError("supercell needs a periodic frame")
    shifts = np.array([[a, b, c] for a in range(repeats[0]) for b in range(repeats[1]) for c in range(repeats[2])])
    offsets = shifts @ frame.cell
    positions = (frame.positions[None, :, :] + offsets[:, None, :]).reshape(-1, 3)
    numbers = np.tile(frame.numbers, len(shifts))
    cell = frame.cell * np.asarray(repeats, dtype=np.float64)[:, None]
    return type(frame)(positions=positions, numbers=numbers, cell=cell, pbc=frame.pbc)


def assert_supercell_consistent(
    model: Any, frame: Frame, repeats: tuple[int, int, int] = (2, 1, 1), rtol: float = 1e-10, atol: float = 1e-12
) -> None:
    """A periodic supercell has the same energy per atom (eV/atom) and the same (tiled) forces."""
    energy, forces = evaluate(model, frame)
    big = supercell(frame, repeats)
    e2, f2 = evaluate(model, big)
    copies = int(np.prod(repeats))
    _close("assert_supercell_consistent", e2 / big.n_atoms, energy / frame.n_atoms, rtol, atol, "energies per atom")
    _close("assert_supercell_consistent", f2, np.tile(forces, (copies, 1)), rtol, atol, "forces")


__all__ = [
    "Evaluation",
    "assert_equivariant",
    "assert_forces_are_gradients",
    "assert_invariant_energy",
    "assert_permutation_equivariant",
    "assert_smooth_at_cutoff",
    "assert_supercell_consistent",
    "assert_translation_invariant",
    "evaluate",
    "random_rotation",
    "supercell",
]
