"""Frame fingerprints and duplicate detection.

Two frames are duplicates when they have the same species in the same order and the same
positions after rounding to ``POSITION_RESOLUTION`` (1e-6 Å). Labels (energy, forces) are not
part of the fingerprint: the same configuration labelled twice (e.g. with different unit
conversion factors) is still the same configuration and must not sit in both a training and a
test set.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

#: positions are rounded to this many Å before hashing
POSITION_RESOLUTION: float = 1e-6

#: length of a fingerprint in hex characters (128-bit BLAKE2b digest)
FINGERPRINT_LENGTH: int = 32


def frame_fingerprint(positions: np.ndarray, numbers: np.ndarray) -> str:
    """Hex fingerprint of a configuration: species plus positions (Å) rounded to 1e-6 Å."""
    numbers = np.ascontiguousarray(numbers, dtype="<i8")
    grid = np.rint(np.asarray(positions, dtype=np.float64) / POSITION_RESOLUTION)
    grid = np.ascontiguousarray(grid, dtype="<i8")
    digest = hashlib.blake2b(digest_size=FINGERPRINT_LENGTH // 2)
    digest.update(len(numbers).to_bytes(8, "little"))
    digest.update(numbers.tobytes())
    digest.update(grid.tobytes())
    return digest.hexdigest()


def duplicate_groups(fingerprints: Sequence[str]) -> list[list[int]]:
    """Groups (of two or more frame indices, ascending) that share a fingerprint."""
    by_print: dict[str, list[int]] = defaultdict(list)
    for index, fingerprint in enumerate(fingerprints):
        by_print[fingerprint].append(index)
    return sorted((group for group in by_print.values() if len(group) > 1), key=lambda g: g[0])


def duplicate_report(fingerprints: Sequence[str], subsets: Sequence[str] | None = None, max_groups: int = 200) -> dict:
    """Summary of duplicate frames, JSON-ready.

    Keys: ``n_groups``, ``n_redundant_frames`` (frames beyond the first of each group),
    ``groups`` (the first ``max_groups`` groups of frame indices), and with per-frame ``subsets``
    labels also ``between_subsets``: ``{"test/train": count, ...}``, the number of groups that
    have copies in both subsets.
    """
    groups = duplicate_groups(fingerprints)
    report: dict = {
        "n_groups": len(groups),
        "n_redundant_frames": int(sum(len(g) - 1 for g in groups)),
        "groups": groups[:max_groups],
    }
    if subsets is not None:
        pairs: dict[str, int] = defaultdict(int)
        for group in groups:
            labels = sorted({str(subsets[i]) for i in group if str(subsets[i])})
            for a_pos, a in enumerate(labels):
                for b in labels[a_pos + 1 :]:
                    pairs[f"{a}/{b}"] += 1
        report["between_subsets"] = dict(sorted(pairs.items()))
    return report


def first_occurrences(fingerprints: Iterable[str]) -> list[int]:
    """Indices of the first frame of each distinct fingerprint, in order (for de-duplication)."""
    seen: set[str] = set()
    keep: list[int] = []
    for index, fingerprint in enumerate(fingerprints):
        if fingerprint not in seen:
            seen.add(fingerprint)
            keep.append(index)
    return keep
