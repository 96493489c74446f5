"""Official files (as laid out on the dataset card) -> canonical HDF5 store, in eV, Å, eV/Å.

Units are converted by the importers with the card's raw units (MD17, sGDML and rMD17 are
kcal/mol and kcal/mol/Å). Members with a ``subset`` label (the sGDML ``-train``/``-test`` files)
label their frames; rMD17's official index files become the store attribute
``official_splits`` ({"official_0k": {"train": [...], "test": [...]}}, store frame indices).
The store is written to a temporary file and renamed, so an interrupted conversion leaves none.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from mlip_bench.data.cards import DatasetCard
from mlip_bench.data.duplicates import duplicate_report, frame_fingerprint
from mlip_bench.data.frame import Frame
from mlip_bench.data.importers import read_frames
from mlip_bench.data.store import write_store
from mlip_bench.errors import DatasetError


def read_index_file(path: str | os.PathLike[str]) -> list[int]:
    """0-based frame indices from an rMD17 split file (one integer per line; blank lines and a
    non-numeric header are skipped)."""
    indices: list[int] = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), start=1):
        text = line.strip().strip(",")
        if not text:
            continue
        try:
            value = int(float(text))
        except ValueError:
            if not indices and lineno == 1:  # header
                continue
            raise DatasetError(f"{path}, line {lineno}: {text!r} is not a frame index") from None
        if value < 0:
            raise DatasetError(f"{path}, line {lineno}: negative frame index {value}")
        indices.append(value)
    if not indices:
        raise DatasetError(f"{path}: split file holds no frame indices")
    return indices


def expected_frame_count(card: DatasetCard, variant: str) -> int | None:
    """The frame count the card gives for ``variant`` (None when it does not know it)."""
    return card.variant_source(variant).n_frames


def convert_variant(
    card: DatasetCard,
    variant: str,
    member_files: dict[str, Path],
    dest: str | os.PathLike[str],
    source_sha256: dict[str, str],
    source_url: str = "",
) -> Path:
    """Write the store of ``variant`` at ``dest`` from its extracted member files.

    ``member_files`` maps the card's member paths (data files and split index files) to local
    files; ``source_sha256`` is {official file name: sha256} for provenance. Returns ``dest``.
    Raises ``DatasetError`` naming the file and frame for malformed data, and when the card knows
    the variant's frame count and the files hold another number (a copy cut at a frame boundary).
    """
    source = card.variant_source(variant)
    units = card.units
    member_paths = [m.path for m in source.members]

    def frames() -> Iterator[tuple[int, int, Frame]]:
        for k, member in enumerate(source.members):
            path = member_files.get(member.path)
            if path is None:
                raise DatasetError(f"{variant}: member {member.path!r} was not extracted")
            fmt = "extxyz" if member.format in ("extxyz", "xyz") else member.format
            reader = read_frames(path, fmt=fmt, energy_unit=units.energy, length_unit=units.length)
            for i, frame in enumerate(reader):
                yield k, i, frame

    # official split index files are read first so a malformed one fails before any writing
    split_indices: dict[str, dict[str, list[int]]] = {}
    for split_name, parts in source.official_splits.items():
        split_indices[split_name] = {}
        for part, member_path in parts.items():
            path = member_files.get(member_path)
            if path is None:
                raise DatasetError(f"{variant}: split file {member_path!r} was not extracted")
            split_indices[split_name][part] = read_index_file(path)

    # pass 1: labels, provenance indices and fingerprints (small), without keeping the frames
    subsets: list[str] = []
    fingerprints: list[str] = []
    source_index: list[int] = []
    source_file: list[int] = []
    for k, i, frame in frames():
        subsets.append(source.members[k].subset or "")
        fingerprints.append(frame_fingerprint(frame.positions, frame.numbers))
        source_index.append(i)
        source_file.append(k)
    n = len(fingerprints)
    if n == 0:
        raise DatasetError(f"{variant}: the downloaded files hold no frames")
    expected = expected_frame_count(card, variant)
    if expected is not None and n != expected:
        raise DatasetError(
            f"{variant}: the downloaded files hold {n} frames, the card expects {expected} "
            "(a truncated or different copy)"
        )
    for split_name, parts in split_indices.items():
        for part, idx in parts.items():
            if max(idx) >= n:
                raise DatasetError(
                    f"{variant}: official split {split_name} ({part}) refers to frame {max(idx)} "
                    f"but the data has {n} frames"
                )
    has_subsets = any(subsets)
    attrs = {
        "name": variant,
        "dataset": card.name,
        "kind": card.kind,
        "provenance": "download",
        "source_sha256": dict(source_sha256),
        "source_url": source_url,
        "source_files": member_paths,
        "card_version": card.card_version,
        "level_of_theory": card.level_of_theory_for(variant),
        "raw_units": {"energy": units.energy, "length": units.length, "forces": units.forces},
        "conversion_to_ev": {"energy": units.energy_to_ev, "forces": units.forces_to_ev_per_angstrom},
        "duplicates": duplicate_report(fingerprints, subsets if has_subsets else None),
    }
    if split_indices:
        attrs["official_splits"] = split_indices
    # pass 2: stream the frames into the store (temporary file, then rename)
    return write_store(
        dest,
        (frame for _, _, frame in frames()),
        attrs,
        subsets=subsets if has_subsets else None,
        source_index=source_index,
        source_file=source_file,
    )
