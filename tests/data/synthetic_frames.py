"""Synthetic frames and the shared-data location for data-layer tests (small, fast, deterministic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlip_bench.data.frame import Frame

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def random_frames(
    n_frames: int, seed: int = 0, n_atoms: int | tuple[int, int] = 5, periodic: bool = False
) -> list[Frame]:
    """Random labelled frames in eV/Å; ``n_atoms`` fixed or a (low, high) range for ragged frames."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        n = n_atoms if isinstance(n_atoms, int) else int(rng.integers(n_atoms[0], n_atoms[1] + 1))
        cell = np.diag(rng.uniform(4.0, 6.0, 3)) if periodic else np.zeros((3, 3))
        frames.append(
            Frame(
                positions=rng.normal(size=(n, 3)) * 2.0,
                numbers=rng.choice([1, 6, 8], size=n).astype(np.int64),
                energy=float(rng.normal(-4000.0, 5.0)),
                forces=rng.normal(size=(n, 3)),
                cell=cell,
                pbc=np.full(3, periodic),
            )
        )
    return frames
