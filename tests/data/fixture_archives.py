"""Small stand-ins for the official dataset files, laid out exactly like the real downloads.

Each builder returns ``{file name: bytes}`` (what a mirror or server holds) and the raw frames
written, so tests can check the unit conversion: MD17/sGDML/rMD17 values are kcal/mol and
kcal/mol/Å, the extxyz files eV and eV/Å. Frames are synthetic but plausible: a fixed geometry
per system with seeded thermal noise, total energies of the right magnitude, random forces.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from dataclasses import dataclass, field

import numpy as np

SYMBOL_Z = {"H": 1, "C": 6, "N": 7, "O": 8, "P": 15, "S": 16, "Li": 3, "Cu": 29}

#: molecule formulas used by the fixtures (real atom counts)
MOLECULES = {
    "aspirin": {"C": 9, "H": 8, "O": 4},
    "ethanol": {"C": 2, "H": 6, "O": 1},
    "benzene": {"C": 6, "H": 6},
    "toluene": {"C": 7, "H": 8},
    "uracil": {"C": 4, "H": 4, "N": 2, "O": 2},
    "malonaldehyde": {"C": 3, "H": 4, "O": 2},
    "naphthalene": {"C": 10, "H": 8},
    "salicylic": {"C": 7, "H": 6, "O": 3},
    "azobenzene": {"C": 12, "H": 10, "N": 2},
    "paracetamol": {"C": 8, "H": 9, "N": 1, "O": 2},
}

#: approximate free-atom energies (kcal/mol) giving totals of the right magnitude
_ATOM_KCAL = {"H": -313.0, "C": -23_800.0, "N": -34_300.0, "O": -47_150.0}
#: pseudopotential-like per-atom energies (eV) for the periodic sets
_ATOM_EV = {"H": -3.4, "O": -432.0, "Cu": -1_300.0, "C": -150.0, "Li": -190.0, "P": -180.0, "S": -275.0}


@dataclass
class RawFrames:
    """Frames as written to a fixture file, in the file's own units."""

    numbers: list[np.ndarray] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    energies: list[float] = field(default_factory=list)
    forces: list[np.ndarray] = field(default_factory=list)
    cells: list[np.ndarray] = field(default_factory=list)


def _numbers(formula: dict[str, int]) -> np.ndarray:
    return np.array([SYMBOL_Z[s] for s, n in formula.items() for _ in range(n)], dtype=np.int64)


def _base_geometry(n_atoms: int, rng: np.random.Generator, box: float | None) -> np.ndarray:
    """Points at least 0.95 Å apart: a compact cluster for molecules, a filled box for cells."""
    size = box if box is not None else 1.3 * n_atoms ** (1 / 3) + 1.0
    points: list[np.ndarray] = []
    while len(points) < n_atoms:
        trial = rng.uniform(0.0, size, 3)
        if all(np.linalg.norm(trial - p) > 0.95 for p in points):
            points.append(trial)
    return np.array(points)


def molecule_frames(name: str, n_frames: int, seed: int = 0) -> RawFrames:
    """``n_frames`` distinct frames of molecule ``name`` in kcal/mol and kcal/mol/Å."""
    formula = MOLECULES[name]
    rng = np.random.default_rng(seed)
    z = _numbers(formula)
    base = _base_geometry(len(z), rng, None)
    e0 = sum(_ATOM_KCAL[s] * n for s, n in formula.items())
    raw = RawFrames()
    for _ in range(n_frames):
        raw.numbers.append(z)
        raw.positions.append(base + rng.normal(0.0, 0.05, base.shape))
        raw.energies.append(float(e0 + rng.normal(0.0, 3.0)))
        raw.forces.append(rng.normal(0.0, 25.0, base.shape))
        raw.cells.append(np.zeros((3, 3)))
    return raw


def periodic_frames(formula: dict[str, int], box: float, n_frames: int, seed: int = 0) -> RawFrames:
    """Frames of a periodic cubic cell in eV and eV/Å."""
    rng = np.random.default_rng(seed)
    z = _numbers(formula)
    cell = np.eye(3) * box
    base = _base_geometry(len(z), rng, box - 1.0)
    e0 = sum(_ATOM_EV[s] * n for s, n in formula.items())
    raw = RawFrames()
    for _ in range(n_frames):
        raw.numbers.append(z)
        # rounded to what extended XYZ keeps (8 decimals), so the round trip is exact
        raw.positions.append(np.round(base + rng.normal(0.0, 0.03, base.shape), 6))
        raw.energies.append(round(float(e0 + rng.normal(0.0, 0.5)), 6))
        raw.forces.append(np.round(rng.normal(0.0, 1.0, base.shape), 6))
        raw.cells.append(cell)
    return raw


# -- file writers ------------------------------------------------------------------------------


def md17_npz(raw: RawFrames) -> bytes:
    """sGDML/MD17 npz: R (n, N, 3) Å, z (N,), E (n, 1) kcal/mol, F (n, N, 3) kcal/mol/Å."""
    buffer = io.BytesIO()
    np.savez(
        buffer,
        R=np.array(raw.positions),
        z=raw.numbers[0],
        E=np.array(raw.energies)[:, None],
        F=np.array(raw.forces),
        theory=np.array("DFT: PBE+TS"),
        name=np.array("fixture"),
    )
    return buffer.getvalue()


def rmd17_npz(raw: RawFrames) -> bytes:
    """rMD17 npz: nuclear_charges, coords, energies, forces (+ old_* keys)."""
    buffer = io.BytesIO()
    n = len(raw.energies)
    np.savez(
        buffer,
        nuclear_charges=raw.numbers[0],
        coords=np.array(raw.positions),
        energies=np.array(raw.energies),
        forces=np.array(raw.forces),
        old_indices=np.arange(n) * 7,
        old_energies=np.array(raw.energies) + 0.1,
        old_forces=np.array(raw.forces),
    )
    return buffer.getvalue()


def extxyz_text(raw: RawFrames) -> bytes:
    """Extended XYZ with energy (eV) in the comment line and forces (eV/Å) per atom."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    images = []
    for z, pos, e, f, cell in zip(raw.numbers, raw.positions, raw.energies, raw.forces, raw.cells):
        atoms = Atoms(numbers=z, positions=pos, cell=cell, pbc=True)
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f)
        images.append(atoms)
    buffer = io.StringIO()
    write(buffer, images, format="extxyz")
    return buffer.getvalue().encode()


def tar_bytes(members: dict[str, bytes], mode: str = "w:bz2") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


# -- one builder per dataset (file names and member paths as on the cards) ------------------


@dataclass
class Fixture:
    """Files of one variant's download and what they should convert to."""

    variant: str
    files: dict[str, bytes]
    raw: RawFrames
    energy_factor: float  # raw unit -> eV
    subsets: list[str] | None = None
    official_splits: dict[str, dict[str, list[int]]] | None = None


KCAL = 0.0433641


def md17_fixture(n_frames: int = 8) -> Fixture:
    raw = molecule_frames("aspirin", n_frames, seed=1)
    return Fixture("md17/aspirin", {"aspirin_dft.npz": md17_npz(raw)}, raw, KCAL)


def sgdml_fixture(n_train: int = 6, n_test: int = 4) -> Fixture:
    raw = molecule_frames("aspirin", n_train + n_test, seed=2)
    train = RawFrames(*(getattr(raw, f)[:n_train] for f in ("numbers", "positions", "energies", "forces", "cells")))
    test = RawFrames(*(getattr(raw, f)[n_train:] for f in ("numbers", "positions", "energies", "forces", "cells")))
    archive = zip_bytes({"aspirin_ccsd-train.npz": md17_npz(train), "aspirin_ccsd-test.npz": md17_npz(test)})
    return Fixture(
        "md17/aspirin_ccsd", {"aspirin_ccsd.zip": archive}, raw, KCAL, subsets=["train"] * n_train + ["test"] * n_test
    )


def rmd17_fixture(n_frames: int = 12, molecules: tuple[str, ...] = ("ethanol", "aspirin")) -> Fixture:
    members: dict[str, bytes] = {}
    raws = {}
    for k, mol in enumerate(molecules):
        raws[mol] = molecule_frames(mol, n_frames, seed=10 + k)
        members[f"rmd17/npz_data/rmd17_{mol}.npz"] = rmd17_npz(raws[mol])
    rng = np.random.default_rng(5)
    splits: dict[str, dict[str, list[int]]] = {}
    for k in range(1, 6):
        perm = rng.permutation(n_frames)
        train, test = sorted(perm[:4].tolist()), sorted(perm[4:8].tolist())
        splits[f"official_0{k}"] = {"train": train, "test": test}
        members[f"rmd17/splits/index_train_0{k}.csv"] = ("\n".join(map(str, train)) + "\n").encode()
        members[f"rmd17/splits/index_test_0{k}.csv"] = ("\n".join(map(str, test)) + "\n").encode()
    members["rmd17/readme.txt"] = b"revised MD17 fixture\n"
    archive = tar_bytes(members, "w:bz2")
    return Fixture(
        f"rmd17/{molecules[0]}", {"rmd17.tar.bz2": archive}, raws[molecules[0]], KCAL, official_splits=splits
    )


#: md17 card molecule -> (official file name, fixture formula key) for the eight DFT sets
MD17_DFT_FILES = {
    "aspirin": ("aspirin_dft.npz", "aspirin"),
    "benzene": ("benzene2017_dft.npz", "benzene"),
    "ethanol": ("ethanol_dft.npz", "ethanol"),
    "malonaldehyde": ("malonaldehyde_dft.npz", "malonaldehyde"),
    "naphthalene": ("naphthalene_dft.npz", "naphthalene"),
    "salicylic_acid": ("salicylic_dft.npz", "salicylic"),
    "toluene": ("toluene_dft.npz", "toluene"),
    "uracil": ("uracil_dft.npz", "uracil"),
}

#: the five sGDML coupled-cluster archives of the md17 card: molecule -> fixture formula key
MD17_CCSD = {
    "aspirin_ccsd": "aspirin",
    "benzene_ccsd_t": "benzene",
    "ethanol_ccsd_t": "ethanol",
    "malonaldehyde_ccsd_t": "malonaldehyde",
    "toluene_ccsd_t": "toluene",
}


def md17_dataset_files(n_frames: int = 4, ccsd: bool = False) -> dict[str, bytes]:
    """Every official file of the md17 card: the eight DFT npz files (``n_frames`` frames each,
    ``n_frames + k`` for the k-th, so counts tell them apart) and, with ``ccsd``, the five sGDML
    zip archives (3 train + 2 test frames each)."""
    files = {}
    for k, (file_name, formula) in enumerate(MD17_DFT_FILES.values()):
        files[file_name] = md17_npz(molecule_frames(formula, n_frames + k, seed=20 + k))
    if ccsd:
        for k, (name, formula) in enumerate(MD17_CCSD.items()):
            raw = molecule_frames(formula, 5, seed=40 + k)
            train = RawFrames(*(getattr(raw, f)[:3] for f in ("numbers", "positions", "energies", "forces", "cells")))
            test = RawFrames(*(getattr(raw, f)[3:] for f in ("numbers", "positions", "energies", "forces", "cells")))
            files[f"{name}.zip"] = zip_bytes({f"{name}-train.npz": md17_npz(train), f"{name}-test.npz": md17_npz(test)})
    return files


def water_fixture(n_frames: int = 5) -> Fixture:
    raw = periodic_frames({"O": 64, "H": 128}, 12.42, n_frames, seed=3)
    return Fixture("water", {"dataset_1593_eVAng.xyz": extxyz_text(raw)}, raw, 1.0)


def cu_formate_fixture(n_frames: int = 5) -> Fixture:
    raw = periodic_frames({"Cu": 48, "C": 1, "H": 1, "O": 2}, 10.6, n_frames, seed=4)
    return Fixture("cu-formate", {"fcu.xyz": extxyz_text(raw)}, raw, 1.0)


def lips_fixture(n_frames: int = 5) -> Fixture:
    raw = periodic_frames({"Li": 27, "P": 12, "S": 44}, 12.0, n_frames, seed=6)
    return Fixture("lips", {"lips.xyz": extxyz_text(raw)}, raw, 1.0)


def li3po4_fixture(n_frames: int = 4) -> Fixture:
    raw = periodic_frames({"Li": 78, "P": 26, "O": 104}, 14.5, n_frames, seed=7)
    return Fixture("li3po4", {"lipo.xyz": extxyz_text(raw)}, raw, 1.0)


ALL_FIXTURES = {
    "md17/aspirin": md17_fixture,
    "md17/aspirin_ccsd": sgdml_fixture,
    "rmd17/ethanol": rmd17_fixture,
    "water": water_fixture,
    "cu-formate": cu_formate_fixture,
    "lips": lips_fixture,
    "li3po4": li3po4_fixture,
}


# -- cards for miniature fixtures --------------------------------------------------------------


def use_miniature_cards(monkeypatch, directory) -> None:
    """Point the card loader at copies of the real cards without their hash pins and frame counts.

    The fixtures above are small stand-ins: a card that pins the official file's sha256 (or a
    prefix of it) or knows its frame count refuses them, rightly. Tests of those checks use the
    real cards (or set the fields on a copy) instead.
    """
    from pathlib import Path

    import yaml

    import mlip_bench.data.cards as cards

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(cards.CARDS_DIR).glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        for file in raw["files"]:
            if file.get("sha256"):
                file["sha256"] = None
                file["note"] = (file.get("note") or "") + " (pin removed for the miniature test fixtures)"
        sources = [raw["source"]] if raw.get("source") else list((raw.get("molecules") or {}).values())
        for source in sources:
            source["n_frames"] = None
        (directory / path.name).write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setattr(cards, "CARDS_DIR", directory)
