"""Structural and dynamical observables of MD samples against the reference (dataset) frames.

Definitions (docs/md.md, "Observables"):

* ``h(r)`` (molecules): the distribution of all interatomic distances, normalised per atom
  pair and bin width so that it integrates to 1 over r (distances beyond the histogram range are
  counted as missing mass). Its error is ``MAE = ∫ |h_MD(r) - h_ref(r)| dr`` (Fu et al. 2022),
  between 0 (identical) and 2 (disjoint).
* ``g_ab(r)`` (periodic): the radial distribution function of species pair ``a-b`` (minimum
  image, up to half the shortest cell height). Its error is the mean over bins of
  ``|g_MD(r) - g_ref(r)|`` (dimensionless).
* MSD and diffusivity (periodic, one species, e.g. Li in LiPS): the mean-square displacement of
  unwrapped positions averaged over time origins; ``D = slope / 6`` of a straight-line fit to
  MSD(t) over lags from 20 % to 100 % of the longest lag (half the trajectory), in cm²/s.
"""

from __future__ import annotations

import itertools

import numpy as np

HR_BIN_A = 0.05
HR_R_MAX_A = 10.0
RDF_BIN_A = 0.05
RDF_R_MAX_A = 6.0
A2_PER_PS_TO_CM2_PER_S = 1e-4


def bin_centers(r_max: float, bin_width: float) -> np.ndarray:
    edges = np.arange(0.0, r_max + 0.5 * bin_width, bin_width)
    return 0.5 * (edges[1:] + edges[:-1])


def distance_histogram(frames: np.ndarray, r_max: float = HR_R_MAX_A, bin_width: float = HR_BIN_A) -> np.ndarray:
    """h(r) of frames (F, N, 3): all pair distances, a density per pair (∫ h dr = 1 inside range)."""
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 3 or len(frames) == 0:
        raise ValueError("distance_histogram needs frames of shape (F, N, 3) with F > 0")
    n = frames.shape[1]
    iu = np.triu_indices(n, k=1)
    edges = np.arange(0.0, r_max + 0.5 * bin_width, bin_width)
    counts = np.zeros(len(edges) - 1)
    for chunk in range(0, len(frames), 256):
        block = frames[chunk : chunk + 256]
        d = np.linalg.norm(block[:, iu[0], :] - block[:, iu[1], :], axis=-1).ravel()
        counts += np.histogram(d[np.isfinite(d)], bins=edges)[0]
    return counts / (len(frames) * len(iu[0]) * bin_width)


def hr_mae(h_md: np.ndarray, h_ref: np.ndarray, bin_width: float = HR_BIN_A) -> float:
    """``∫ |h_md - h_ref| dr`` (0 identical, 2 disjoint)."""
    return float(np.sum(np.abs(np.asarray(h_md) - np.asarray(h_ref))) * bin_width)


def rdf_r_max(cell: np.ndarray, limit: float = RDF_R_MAX_A) -> float:
    """Half the shortest perpendicular height of ``cell`` (the minimum-image limit), at most ``limit``."""
    cell = np.asarray(cell, dtype=np.float64)
    volume = abs(np.linalg.det(cell))
    heights = [volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)]
    return float(min(limit, 0.5 * min(heights)))


def species_pairs(numbers: np.ndarray) -> list[tuple[int, int]]:
    """Unordered species pairs ``(a, b)``, ``a <= b``, of the atomic numbers present that have at least
    one pair of distinct atoms: a species with a single atom (the C and the H of the formate on
    Cu-formate) has no ``a-a`` RDF, which would otherwise be zero everywhere and dilute the mean."""
    species, counts = np.unique(np.asarray(numbers, dtype=int), return_counts=True)
    count = dict(zip(species.tolist(), counts.tolist()))
    return [(a, b) for a, b in itertools.combinations_with_replacement(count, 2) if a != b or count[a] > 1]


def pair_label(pair: tuple[int, int]) -> str:
    from ase.data import chemical_symbols

    return f"{chemical_symbols[pair[0]]}-{chemical_symbols[pair[1]]}"


def rdfs(
    frames: np.ndarray,
    numbers: np.ndarray,
    cells: np.ndarray,
    pbc: np.ndarray,
    r_max: float,
    bin_width: float = RDF_BIN_A,
) -> dict[str, np.ndarray]:
    """``g_ab(r)`` per species pair (label ``"Li-S"``) of frames (F, N, 3); ``cells`` is one
    (3, 3) cell or one per frame (F, 3, 3)."""
    from mlip_bench.data.graphs import neighbor_list

    numbers = np.asarray(numbers, dtype=int)
    frames = np.asarray(frames, dtype=np.float64)
    cells = np.asarray(cells, dtype=np.float64)
    if cells.ndim == 2:
        cells = np.broadcast_to(cells, (len(frames), 3, 3))
    edges = np.arange(0.0, r_max + 0.5 * bin_width, bin_width)
    shell = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    pairs = species_pairs(numbers)
    counts = {p: np.zeros(len(edges) - 1) for p in pairs}
    density_sum = 0.0  # sum over frames of 1 / volume
    for positions, cell in zip(frames, cells):
        i, j, shifts = neighbor_list(positions, cell, pbc, r_max)
        d = np.linalg.norm(positions[j] - positions[i] + shifts @ cell, axis=-1)
        zi, zj = numbers[i], numbers[j]
        for a, b in pairs:
            mask = (zi == a) & (zj == b)
            counts[(a, b)] += np.histogram(d[mask], bins=edges)[0]
        density_sum += 1.0 / abs(np.linalg.det(cell))
    out = {}
    for a, b in pairs:
        n_a = int(np.sum(numbers == a))
        n_b = int(np.sum(numbers == b)) - (1 if a == b else 0)
        ideal = n_a * n_b * density_sum * shell
        with np.errstate(divide="ignore", invalid="ignore"):
            out[pair_label((a, b))] = np.where(ideal > 0, counts[(a, b)] / np.where(ideal > 0, ideal, 1.0), 0.0)
    return out


def rdf_mae(g_md: np.ndarray, g_ref: np.ndarray) -> float:
    """Mean over bins of ``|g_md - g_ref|``."""
    return float(np.mean(np.abs(np.asarray(g_md) - np.asarray(g_ref))))


def mean_square_displacement(positions: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """MSD (Å²) at lags 0..max_lag (in samples) of unwrapped positions (T, N, 3), averaged over
    atoms and time origins; ``max_lag`` defaults to half the trajectory."""
    positions = np.asarray(positions, dtype=np.float64)
    n_t = len(positions)
    max_lag = max(n_t // 2, 1) if max_lag is None else max_lag
    max_lag = min(max_lag, n_t - 1)
    msd = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):
        disp = positions[lag:] - positions[:-lag]
        msd[lag] = float(np.mean(np.sum(disp**2, axis=-1)))
    return msd


def diffusivity(msd: np.ndarray, sample_interval_ps: float) -> float | None:
    """``D`` (cm²/s) from a straight-line fit of MSD over lags 20-100 % of the longest lag
    (``None`` with fewer than three lags in that range)."""
    lags = np.arange(len(msd))
    lo = max(1, int(np.ceil(0.2 * lags[-1]))) if len(lags) > 1 else 1
    use = lags[lo:]
    if len(use) < 3:
        return None
    slope = np.polyfit(use * sample_interval_ps, msd[lo:], 1)[0]  # Å²/ps
    return float(slope / 6.0 * A2_PER_PS_TO_CM2_PER_S)


def is_continuous(frames: np.ndarray, cell: np.ndarray | None, pbc: np.ndarray | None, max_step_a: float = 0.5) -> bool:
    """Whether consecutive frames (F, N, 3) are one trajectory: no atom moves more than
    ``max_step_a`` (minimum image for periodic cells) between neighbours in the list."""
    frames = np.asarray(frames, dtype=np.float64)
    if len(frames) < 3:
        return False
    disp = np.diff(frames, axis=0)
    if pbc is not None and np.any(pbc) and cell is not None:
        cell = np.asarray(cell, dtype=np.float64)
        frac = disp @ np.linalg.inv(cell)
        frac -= np.round(frac) * np.asarray(pbc, dtype=float)
        disp = frac @ cell
    return bool(np.max(np.linalg.norm(disp, axis=-1)) < max_step_a)


def unwrap(frames: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Positions (F, N, 3) made continuous across periodic boundaries (minimum-image steps)."""
    frames = np.asarray(frames, dtype=np.float64)
    cell = np.asarray(cell, dtype=np.float64)
    frac = np.diff(frames, axis=0) @ np.linalg.inv(cell)
    frac -= np.round(frac) * np.asarray(pbc, dtype=float)
    steps = frac @ cell
    return np.concatenate([frames[:1], frames[:1] + np.cumsum(steps, axis=0)], axis=0)
