"""Public physics checks that every mlip-bench model is held to, and the small builders to run them.

Each ``assert_*`` function evaluates a model on a :class:`~mlip_bench.data.frame.Frame` and raises
``AssertionError`` with a one-line reason when the model breaks a symmetry or smoothness property a
potential energy surface must have. ``model`` is either a
:class:`~mlip_bench.models.potential.Potential` (anything with ``.config.r_max`` and the Potential
call signature) or a plain callable ``model(frame) -> (energy eV, forces (n, 3) eV/Å)``.

Use float64 models for the tight tolerances (1e-10 relative); float32 needs ~1e-5.

Builders for fast tests: :func:`random_molecule` and :func:`random_crystal` (frames),
:func:`toy_statistics` (training-set statistics) and :func:`small_potential` (any registered
network at a tiny size, through the same config -> ``build_potential`` path as real runs)::

    potential = small_potential("nequip", l_max=2)
    assert_equivariant(potential, random_molecule(seed=1))

A toy network and toy data for tests of training, sweeps and MD: :class:`PairMLP`, registered as
``"pairmlp"`` only when :func:`register_toy_network` is called (importing this module registers
nothing), its config :data:`TOY_MODEL_YAML` (written by :func:`install_toy_model`), Morse-labelled
molecules and copper boxes (:func:`morse_frames`, :func:`periodic_frames`; eV, Å, eV/Å) and stores
of them (:func:`write_toy_store`, :func:`write_periodic_store`)::

    register_toy_network()
    install_toy_model(baselines)  # with registry.BASELINES_DIR pointed at ``baselines``
    write_toy_store(root)         # dataset "toy" under ``root``
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlip_bench.data.catalog import store_path
from mlip_bench.data.frame import Frame
from mlip_bench.data.graphs import collate, frame_to_graph
from mlip_bench.data.store import write_store
from mlip_bench.errors import ModelError
from mlip_bench.models.potential import DatasetStatistics, Potential
from mlip_bench.models.registry import (
    ModelConfig,
    Network,
    build_potential,
    network_class,
    register_network,
    registered_networks,
)

Evaluation = tuple[float, np.ndarray]


def evaluate(model: Any, frame: Frame) -> Evaluation:
    """Energy (eV, float64) and forces ((n, 3) eV/Å, float64) of ``model`` on ``frame``."""
    if hasattr(model, "config") and hasattr(model, "network"):
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

    The last atom is placed on the ray from atom 0 through it at r_max - 3 delta, r_max - delta and
    r_max + delta. The energy change across r_max, corrected for the smooth part the mean force
    predicts (E_out - E_in + <F> . dx), must stay below ``energy_tol`` (eV). The force change
    across r_max must equal the change over the same step just inside (a second difference, so
    the ordinary slope of the force near a close neighbour cancels) within ``force_tol`` (eV/Å),
    far below the jump a hard cutoff gives. No other pair may lie within 100 * delta of r_max.
    """
    if frame.n_atoms < 2:
        raise ValueError("assert_smooth_at_cutoff needs at least two atoms")
    if r_max is None:
        r_max = float(model.config.r_max)
    direction = frame.positions[-1] - frame.positions[0]
    direction = direction / np.linalg.norm(direction)
    results = []
    for r in (r_max - 3 * delta, r_max - delta, r_max + delta):
        pos = frame.positions.copy()
        pos[-1] = pos[0] + r * direction
        others = np.linalg.norm(pos[:-1, None] - pos[None, :], axis=-1)
        others[0, -1] = 0.0  # the scanned pair itself
        if np.any(np.abs(others - r_max) < 100 * delta):
            raise ValueError("assert_smooth_at_cutoff: another pair sits at r_max; use a different frame")
        results.append(evaluate(model, _replace(frame, positions=pos)))
    (_, f_before), (e_in, f_in), (e_out, f_out) = results
    smooth_change = -0.5 * float((f_in[-1] + f_out[-1]) @ (2 * delta * direction))
    _close(
        "assert_smooth_at_cutoff",
        e_out - e_in,
        smooth_change,
        0.0,
        energy_tol,
        "energy change across r_max and the change the forces predict",
    )
    _close(
        "assert_smooth_at_cutoff",
        f_out - f_in,
        f_in - f_before,
        0.0,
        force_tol,
        "force change across r_max and over the same step just inside",
    )


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


# -- builders for fast tests ------------------------------------------------------------------

#: cutoff (Å) of :func:`small_potential`, and the one :func:`random_molecule` keeps pairs away from
SMALL_R_MAX = 3.0

#: the triclinic cell (Å, rows are lattice vectors) of :func:`random_crystal`
SMALL_CELL = np.array([[2.9, 0.0, 0.0], [0.3, 3.0, 0.0], [0.2, -0.2, 3.1]])

#: hyperparameters that make each registered network tiny (a few thousand weights, a forward pass
#: in milliseconds); :func:`small_potential` starts from these. A network missing here is built
#: with its own defaults.
TINY_HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "nequip": {
        "l_max": 1,
        "parity": True,
        "num_layers": 2,
        "num_features": 4,
        "invariant_layers": 2,
        "invariant_neurons": 8,
    },
    "schnet": {"hidden_channels": 16, "num_filters": 16, "num_interactions": 2, "num_gaussians": 12},
    "dimenet++": {
        "hidden_channels": 16,
        "out_emb_channels": 16,
        "int_emb_size": 8,
        "basis_emb_size": 4,
        "num_blocks": 2,
        "num_spherical": 3,
        "num_radial": 4,
        # the published zero init makes a fresh model output exactly 0, which would make the
        # physics checks vacuous
        "output_initializer": "glorot_orthogonal",
    },
    "schnetpack-schnet": {"n_atom_basis": 16, "n_interactions": 2, "n_rbf": 8},
    "schnetpack-painn": {"n_atom_basis": 16, "n_interactions": 2, "n_rbf": 8},
}

#: rough isolated-atom reference energies (eV) :func:`toy_statistics` uses for E0
_TOY_E0_EV = {1: -13.6, 6: -1029.0, 7: -1485.0, 8: -2041.0, 14: -7800.0}


def _pair_distances(positions: np.ndarray, cell: np.ndarray | None = None) -> np.ndarray:
    """Distances (Å) of all pairs i < j; with ``cell``, of every pair and every neighbouring image."""
    n = len(positions)
    if cell is None:
        return np.linalg.norm(positions[:, None] - positions[None], axis=-1)[np.triu_indices(n, 1)]
    shifts = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]) @ cell
    d = np.linalg.norm(positions[None, :, None] + shifts[:, None, None] - positions[None, None, :], axis=-1)
    d[13][np.diag_indices(n)] = np.inf  # shift 13 is (0, 0, 0): an atom is not its own neighbour
    return d.reshape(-1)


def random_molecule(
    seed: int = 0,
    n: int = 8,
    species: Sequence[int] = (1, 6, 8),
    r_max: float | None = SMALL_R_MAX,
    min_distance: float = 0.9,
    box: float | None = None,
) -> Frame:
    """A random non-periodic molecule of ``n`` atoms drawn from ``species`` (atomic numbers).

    Atoms are uniform in a cube of side ``box`` Å (default 3.6 Å for up to 9 atoms, growing with
    the cube root of ``n``), no pair closer than ``min_distance`` Å. With ``r_max`` (Å), no pair
    lies within 0.05 Å of it and at least one pair is farther apart, so the cutoff is exercised
    and :func:`assert_smooth_at_cutoff` can scan a neighbour across it. Same ``seed``, same frame.
    """
    if n < 2:
        raise ValueError("random_molecule needs n >= 2 atoms")
    if box is None:
        box = 3.6 * max(1.0, (n / 9) ** (1 / 3))
    rng = np.random.default_rng(seed)
    for _ in range(100_000):
        positions = rng.uniform(0.0, box, size=(n, 3))
        d = _pair_distances(positions)
        if d.min() <= min_distance:
            continue
        if r_max is not None and (np.abs(d - r_max).min() <= 0.05 or not (d > r_max).any()):
            continue
        numbers = rng.choice(np.asarray(species, dtype=np.int64), size=n)
        return Frame(positions=positions, numbers=numbers)
    raise ValueError(f"random_molecule: no {n}-atom arrangement in a {box:g} Å box met the distance rules")


def random_crystal(seed: int = 0, numbers: Sequence[int] = (14, 8, 8), min_distance: float = 1.2) -> Frame:
    """A small periodic crystal: ``numbers`` atoms at random in the triclinic :data:`SMALL_CELL`
    (about 3 Å a side, so with a 3 Å cutoff every atom sees several images of every atom).

    No two atoms, periodic images included, are closer than ``min_distance`` Å. Periodic in all
    three directions. Same ``seed``, same frame.
    """
    rng = np.random.default_rng(seed)
    numbers = np.asarray(numbers, dtype=np.int64)
    for _ in range(100_000):
        positions = rng.uniform(size=(len(numbers), 3)) @ SMALL_CELL
        if _pair_distances(positions, SMALL_CELL).min() > min_distance:
            return Frame(positions=positions, numbers=numbers, cell=SMALL_CELL.copy(), pbc=np.ones(3, dtype=bool))
    raise ValueError(f"random_crystal: {len(numbers)} atoms do not fit the cell {min_distance:g} Å apart")


def toy_statistics(
    species: Sequence[int] = (1, 6, 8, 14),
    e0_ev: float | Sequence[float] | None = None,
    force_rms_ev_per_a: float = 1.3,
    avg_num_neighbors: float = 6.0,
) -> DatasetStatistics:
    """Training-set statistics for a model of ``species`` (atomic numbers, sorted here).

    ``e0_ev``: per-species reference energies (eV), one per species in sorted order, or one
    number for all; default rough isolated-atom energies (H -13.6 eV ... Si -7800 eV; -100 eV x Z
    for others), large like real ones so float64 bookkeeping of E0 is exercised. Pass 0.0 to
    hold the physics checks' relative tolerance to the interaction energy alone.
    ``force_rms_ev_per_a``: the global energy scale (eV/Å); ``avg_num_neighbors``: the
    neighbour normalisation.
    """
    species = sorted(int(z) for z in species)
    if e0_ev is None:
        e0 = [_TOY_E0_EV.get(z, -100.0 * z) for z in species]
    elif isinstance(e0_ev, int | float):
        e0 = [float(e0_ev)] * len(species)
    else:
        e0 = [float(x) for x in e0_ev]
        if len(e0) != len(species):
            raise ValueError(f"toy_statistics: {len(e0)} reference energies for {len(species)} species")
    return DatasetStatistics(
        species=species, e0_ev=e0, force_rms_ev_per_a=force_rms_ev_per_a, avg_num_neighbors=avg_num_neighbors
    )


def small_potential(
    model: str,
    dtype: str = "float64",
    r_max: float = SMALL_R_MAX,
    statistics: DatasetStatistics | None = None,
    seed: int = 0,
    **hyperparameters: Any,
) -> Potential:
    """The registered network ``model`` (``"nequip"``, ``"schnet"``, ``"dimenet++"``,
    ``"schnetpack-painn"``, ...) at a tiny size, wrapped in a :class:`Potential`, for fast tests.

    Built like a real run (a ``ModelConfig`` through ``build_potential``) from
    :data:`TINY_HYPERPARAMETERS`, updated with ``hyperparameters`` (e.g. ``l_max=3,
    parity=False``). ``r_max``: cutoff (Å); ``statistics``: default :func:`toy_statistics`.
    Weights come from ``seed`` (the global torch RNG is left as it was), and the per-species
    scale and shift are drawn away from 1 and 0 so the checks exercise them too. Bad
    hyperparameters raise ``ConfigError``, a network whose optional backend is missing
    ``ModelError``.
    """
    config = ModelConfig(
        name=f"{model}-tiny",
        model=model,
        r_max=r_max,
        dtype=dtype,
        hyperparameters={**TINY_HYPERPARAMETERS.get(model, {}), **hyperparameters},
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        potential = build_potential(config, statistics if statistics is not None else toy_statistics())
        with torch.no_grad():
            potential.species_scale.uniform_(0.5, 1.5)
            potential.species_shift.uniform_(-0.5, 0.5)
    return potential


# -- a toy network and toy data for harness tests ---------------------------------------------

#: the registry name of :class:`PairMLP` (registered only by :func:`register_toy_network`)
TOY_NETWORK = "pairmlp"

#: the model config of the toy network, written by :func:`install_toy_model`: cutoff 4 Å, float64
TOY_MODEL_YAML = """name: pairmlp
model: pairmlp
r_max: 4.0
dtype: float64
hyperparameters: {hidden: 16, num_basis: 8}
"""


class PairMLP(Network):
    """A tiny smooth pairwise network, small enough to train in a second on one CPU thread.

    The energy of atom i (in the network's normalised units, see :class:`Network`) is
    ``sum_j fc(r_ij) * MLP([sin(k r_ij) / r_ij, onehot(s_i), onehot(s_j)]) / avg_num_neighbors``
    with ``num_basis`` Bessel frequencies k = n pi / r_max and the cosine cutoff
    fc(r) = (cos(pi r / r_max) + 1) / 2, whose value and slope vanish at r_max (Å). Not a
    benchmark model: it exists so tests of training, sweeps and MD run on a real network. Register
    it with :func:`register_toy_network` before building it by name.
    """

    def __init__(self, r_max: float, num_species: int, avg_num_neighbors: float, hidden: int = 16, num_basis: int = 8):
        super().__init__()
        self.r_max = r_max
        self.num_species = num_species
        self.register_buffer("freq", torch.arange(1, num_basis + 1) * torch.pi / r_max)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(num_basis + 2 * num_species, hidden),
            torch.nn.SiLU(),
            torch.nn.Linear(hidden, 1),
        )
        self.norm = 1.0 / max(avg_num_neighbors, 1.0)

    def forward(self, data: Any, edge_vec: torch.Tensor) -> torch.Tensor:
        r = torch.linalg.norm(edge_vec, dim=-1)
        basis = torch.sin(self.freq * r[:, None]) / r[:, None]
        cutoff = 0.5 * (torch.cos(torch.pi * r / self.r_max) + 1.0)
        src, dst = data.edge_index
        onehot = torch.nn.functional.one_hot(data.species, self.num_species).to(r.dtype)
        feats = torch.cat([basis, onehot[dst], onehot[src]], dim=-1)
        pair = self.mlp(feats).squeeze(-1) * cutoff * self.norm
        return torch.zeros(len(data.z), dtype=r.dtype).index_add(0, dst, pair)


def register_toy_network() -> type[PairMLP]:
    """Make :class:`PairMLP` available to the registry as ``"pairmlp"``; returns the class.

    Importing this module registers nothing, so users who never call this never see the toy in the
    registry. Idempotent: a second call (in the same process) does nothing. A process that builds
    the toy by name must call it itself (a subprocess or a spawned worker too). Raises
    ``ModelError`` if a different network is already registered as ``"pairmlp"``.
    """
    if TOY_NETWORK in registered_networks():
        existing = network_class(TOY_NETWORK)
        if existing is not PairMLP:
            raise ModelError(
                f"network name {TOY_NETWORK!r} is taken by {existing.__module__}.{existing.__qualname__}; "
                "the toy network was not registered"
            )
        return PairMLP
    register_network(TOY_NETWORK)(PairMLP)
    return PairMLP


def install_toy_model(directory: Path) -> Path:
    """Write :data:`TOY_MODEL_YAML` as ``<directory>/pairmlp.yaml`` and return its path.

    Point ``mlip_bench.models.registry.BASELINES_DIR`` at ``directory`` (e.g. with pytest's
    ``monkeypatch.setattr``) so ``"pairmlp"`` loads as a model variant; the network itself must
    also be registered (:func:`register_toy_network`).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{TOY_NETWORK}.yaml"
    path.write_text(TOY_MODEL_YAML)
    return path


def morse_frames(n: int, seed: int = 0) -> list[Frame]:
    """``n`` distorted 4-atom molecules (C, H, H, O) labelled by an analytic Morse potential.

    Positions (Å) are a fixed geometry plus 0.08 Å Gaussian noise; the energy (eV) is
    ``sum_{i<j} 0.8 (1 - exp(-1.5 (r_ij - 1.2)))^2 - 40`` and the forces (eV/Å) are its exact
    negative gradient. Frames carry ``index`` 0..n-1. Same ``seed``, same frames.
    """
    rng = np.random.default_rng(seed)
    numbers = np.array([6, 1, 1, 8])
    base = np.array([[0.0, 0.0, 0.0], [1.1, 0.0, 0.0], [-0.4, 1.0, 0.0], [0.0, -0.6, 1.1]])
    frames = []
    for k in range(n):
        pos = torch.tensor(base + 0.08 * rng.standard_normal(base.shape), requires_grad=True)
        d = pos[:, None, :] - pos[None, :, :]
        r = torch.sqrt((d**2).sum(-1) + torch.eye(4))
        iu = torch.triu_indices(4, 4, 1)
        rij = r[iu[0], iu[1]]
        energy = torch.sum(0.8 * (1 - torch.exp(-1.5 * (rij - 1.2))) ** 2) - 10.0 * 4
        (grad,) = torch.autograd.grad(energy, pos)
        frames.append(
            Frame(
                positions=pos.detach().numpy().copy(),
                numbers=numbers.copy(),
                energy=float(energy.detach()),
                forces=(-grad).numpy().copy(),
                index=k,
            )
        )
    return frames


def periodic_frames(n: int, seed: int = 0) -> list[Frame]:
    """``n`` periodic 8-atom copper boxes (fcc, a = 3.6 Å, cubic cell doubled along z), every atom
    moved by 0.05 Å Gaussian noise, with ase's Morse energies (eV) and forces (eV/Å).
    Frames carry ``index`` 0..n-1. Same ``seed``, same frames."""
    from ase.build import bulk
    from ase.calculators.morse import MorsePotential

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((1, 1, 2))
        atoms.positions += 0.05 * rng.standard_normal(atoms.positions.shape)
        atoms.calc = MorsePotential(epsilon=0.4, r0=2.55, rho0=6.0, rcut1=3.0, rcut2=3.8)
        frame = Frame.from_atoms(atoms)
        frame.index = k
        frames.append(frame)
    return frames


def _write_imported_store(root: Path, name: str, frames: list[Frame]) -> Path:
    path = store_path(name, Path(root))
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_store(path, frames, {"name": name, "provenance": "imported"})


def write_toy_store(root: Path, name: str = "toy", n: int = 120, seed: int = 0) -> Path:
    """A store of ``n`` :func:`morse_frames` at ``<root>/stores/<name>.h5``, as if imported (a
    dataset without a card: ``--dataset <name> --root <root>`` finds it). Returns its path."""
    return _write_imported_store(root, name, morse_frames(n, seed))


def write_periodic_store(root: Path, name: str = "toybox", n: int = 60) -> Path:
    """A store of ``n`` :func:`periodic_frames` at ``<root>/stores/<name>.h5``, as if imported.
    Returns its path."""
    return _write_imported_store(root, name, periodic_frames(n))


__all__ = [
    "SMALL_CELL",
    "SMALL_R_MAX",
    "TINY_HYPERPARAMETERS",
    "TOY_MODEL_YAML",
    "TOY_NETWORK",
    "Evaluation",
    "PairMLP",
    "assert_equivariant",
    "assert_forces_are_gradients",
    "assert_invariant_energy",
    "assert_permutation_equivariant",
    "assert_smooth_at_cutoff",
    "assert_supercell_consistent",
    "assert_translation_invariant",
    "evaluate",
    "install_toy_model",
    "morse_frames",
    "periodic_frames",
    "random_crystal",
    "random_molecule",
    "random_rotation",
    "register_toy_network",
    "small_potential",
    "supercell",
    "toy_statistics",
    "write_periodic_store",
    "write_toy_store",
]
