"""Import local files as one dataset variant: read, label, de-duplicate, record provenance, write the store.

Several files make one variant (e.g. a subset's train/val/test files). A file whose name holds
the word train, val or test gives its frames that subset label; the store's provenance is then
``imported-subset`` (also when the user says so, or when a card says the full variant is larger).
Every source file's sha256 is recorded; duplicate frames are detected and reported (and dropped
with ``dedupe=True``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlip_bench.data.duplicates import duplicate_report, frame_fingerprint
from mlip_bench.data.frame import Frame
from mlip_bench.data.importers import detect_format, read_imported_frames
from mlip_bench.data.store import Store, is_subset_label, write_store
from mlip_bench.errors import ConfigError, DatasetError

_LABEL_WORDS = {
    "train": "train",
    "training": "train",
    "trainset": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
    "testset": "test",
}


def check_subset_label(label: str) -> str:
    """``label`` if it is a valid subset label (train, val, test, test_NAME), else ``ConfigError``."""
    if not is_subset_label(label):
        raise ConfigError(
            f"subset label {label!r} is not train, val, test or test_NAME (1-11 letters/digits, e.g. test_600K)"
        )
    return label


def subset_label_from_name(path: str | Path) -> str | None:
    """ "train", "val" or "test" when a word of the file name says so (``mdbench_x_val_y.npz`` -> val)."""
    words = re.split(r"[^a-z0-9]+", Path(path).stem.lower() if Path(path).suffix else Path(path).name.lower())
    for word in words:
        if word in _LABEL_WORDS:
            return _LABEL_WORDS[word]
    return None


def source_sha256(path: str | Path) -> str:
    """sha256 of a file; for a folder (DeePMD system), sha256 of its files' sha256s in sorted path order."""
    path = Path(path)
    if path.is_dir():
        digests = [
            _file_sha256(p)
            for p in sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())
        ]
        return hashlib.sha256("".join(digests).encode()).hexdigest()
    return _file_sha256(path)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def import_variant_name(name: str, root: str | Path | None = None) -> str:
    """The variant an import writes: a card's variant when the name's dataset has a card (its
    molecule checked, aliases resolved), otherwise the name itself (``NAME`` or ``NAME/MOLECULE``)."""
    from mlip_bench.data.cards import list_cards
    from mlip_bench.data.catalog import resolve_variant, store_path

    name = name.strip().lower()
    if name.split("/")[0] in list_cards():
        return resolve_variant(name, root=root)
    store_path(name, root)  # checks the NAME[/MOLECULE] syntax
    return name


def check_card_species(
    frames: list[Frame], variant: str, species: list[str], atoms_per_frame: int | None = None
) -> None:
    """``DatasetError`` (one line) when the frames' elements are not the card's ``species`` for
    ``variant`` (or, for a molecule, a frame has another number of atoms than ``atoms_per_frame``),
    so that importing unrelated data under a card's name never stamps the card's level of theory
    on it. An empty ``species`` (card without the list) checks nothing."""
    from ase.data import chemical_symbols

    if not species:
        return
    found = sorted({int(z) for f in frames for z in np.unique(f.numbers)})
    symbols = [chemical_symbols[z] if 0 < z < len(chemical_symbols) else f"Z={z}" for z in found]
    if set(symbols) != set(species):
        raise DatasetError(
            f"the files hold {', '.join(symbols)}, but {variant} is {', '.join(sorted(species))} by its card; "
            "import them under a name of your own (e.g. --as mydata) so the card's level of theory is not stamped on them"
        )
    if atoms_per_frame is not None:
        for i, f in enumerate(frames):
            if len(f.numbers) != atoms_per_frame:
                raise DatasetError(
                    f"frame {i} of the files has {len(f.numbers)} atoms, but {variant} has {atoms_per_frame} by its "
                    "card; import them under a name of your own (e.g. --as mydata)"
                )


@dataclass
class SourceSummary:
    """What one imported file contributed."""

    file: str
    sha256: str
    format: str
    n_frames: int
    subset: str | None
    units: dict[str, str]
    n_read: int = 0  # frames in the file (n_frames counts those kept after de-duplication)


@dataclass
class ImportResult:
    """Outcome of :func:`import_variant`."""

    variant: str
    path: Path
    store: Store
    provenance: str
    sources: list[SourceSummary] = field(default_factory=list)
    n_dropped_duplicates: int = 0
    duplicates: dict = field(default_factory=dict)


def _unique_keys(paths: list[Path]) -> list[str]:
    """Short names for the sources: the file name, with parent folders added where names clash."""
    keys = [p.name for p in paths]
    depth = 1
    while len(set(keys)) < len(keys) and depth < 6:
        depth += 1
        keys = ["/".join(p.resolve().parts[-depth:]) for p in paths]
    return keys


def import_variant(
    paths: list[str | Path],
    variant: str,
    root: str | Path | None = None,
    fmt: str | None = None,
    energy_unit: str = "eV",
    length_unit: str = "Angstrom",
    force_unit: str | None = None,
    file_energy_units: dict[str, str] | None = None,
    file_labels: dict[str, str] | None = None,
    labels: bool = True,
    subset: bool | None = None,
    dedupe: bool = False,
    level_of_theory: str | None = None,
    force: bool = False,
) -> ImportResult:
    """Import ``paths`` into the store of ``variant`` under the data root; return a summary.

    Energies/lengths are converted from the given units to eV/Å (``file_energy_units`` maps a
    file name or path to its own energy unit, e.g. a kcal/mol file among eV ones). ``labels``
    takes subset labels from file names; ``file_labels`` maps a file name or path to its label
    (train, val, test or test_NAME, an extra named test set such as 3BPA's test_600K);
    ``subset`` forces (True) or forbids (False) the ``imported-subset`` provenance; ``dedupe`` drops repeated frames (same fingerprint), keeping
    the first. An existing store is replaced only with ``force``.
    """
    from mlip_bench.data.catalog import card_for, store_path

    if not paths:
        raise DatasetError("no files to import; give one or more PATHs")
    variant = import_variant_name(variant, root)
    target = store_path(variant, root)
    if target.exists() and not force:
        raise DatasetError(f"{target} already exists for {variant}; pass --force to replace it")
    file_energy_units = dict(file_energy_units or {})
    file_labels = {key: check_subset_label(value) for key, value in (file_labels or {}).items()}
    resolved = [Path(p) for p in paths]
    keys = _unique_keys(resolved)
    frames: list[Frame] = []
    subsets: list[str] = []
    source_index: list[int] = []
    source_file: list[int] = []
    fingerprints: list[str] = []
    seen: set[str] = set()
    dropped = 0
    sources: list[SourceSummary] = []
    for number, (path, key) in enumerate(zip(resolved, keys)):
        if not path.exists():
            raise DatasetError(f"{path}: file not found")
        unit = file_energy_units.pop(str(path), None) or file_energy_units.pop(path.name, None) or energy_unit
        label = file_labels.pop(str(path), None) or file_labels.pop(path.name, None)
        if label is None:
            label = subset_label_from_name(path) if labels else None
        name = detect_format(path, fmt)
        count = n_read = 0
        for item in read_imported_frames(path, name, unit, length_unit, force_unit):
            n_read += 1
            fingerprint = frame_fingerprint(item.frame.positions, item.frame.numbers)
            if dedupe and fingerprint in seen:
                dropped += 1
                continue
            seen.add(fingerprint)
            frames.append(item.frame)
            fingerprints.append(fingerprint)
            subsets.append(label or "")
            source_index.append(item.source_index)
            source_file.append(number)
            count += 1
        forces = force_unit or f"{unit}/{length_unit}"
        sources.append(
            SourceSummary(
                key,
                source_sha256(path),
                name,
                count,
                label,
                {"energy": unit, "length": length_unit, "forces": forces},
                n_read,
            )
        )
    if file_labels:
        raise DatasetError(f"--label names files that were not imported: {', '.join(file_labels)}")
    if file_energy_units:
        raise DatasetError(f"--file-unit names files that were not imported: {', '.join(file_energy_units)}")
    if not frames:
        raise DatasetError(f"no frames read from {', '.join(map(str, resolved))}")

    has_labels = any(subsets)
    card = card_for(variant)
    smaller_than_card = False
    card_version = None
    if card is not None:
        card_version = card.card_version
        source = card.variant_source(variant)
        check_card_species(frames, variant, source.species, source.atoms_per_frame if card.kind == "molecule" else None)
        level_of_theory = level_of_theory or source.level_of_theory or card.level_of_theory
        smaller_than_card = source.n_frames is not None and len(frames) < source.n_frames
    if subset is None:
        subset = has_labels or smaller_than_card
    provenance = "imported-subset" if subset else "imported"
    report = duplicate_report(fingerprints, subsets if has_labels else None)
    attrs = {
        "name": variant,
        "provenance": provenance,
        "source_sha256": {s.file: s.sha256 for s in sources},
        "source_files": [s.file for s in sources],
        "sources": [s.__dict__ for s in sources],
        "card_version": card_version,
        "level_of_theory": level_of_theory,
        "duplicates": report,
        "dedupe": {"enabled": dedupe, "dropped": dropped},
    }
    write_store(
        target,
        frames,
        attrs,
        subsets=subsets if has_labels else None,
        source_index=np.asarray(source_index, dtype=np.int64),
        source_file=np.asarray(source_file, dtype=np.int32),
    )
    return ImportResult(variant, target, Store(target), provenance, sources, dropped, report)
