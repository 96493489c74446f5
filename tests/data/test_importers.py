"""Importers: every format round-trips to eV/Å with the right units; malformed input names file and frame."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from mlip_bench.data.importers import detect_format, read_frames, read_imported_frames
from mlip_bench.errors import ConfigError, DatasetError
from mlip_bench.units import BOHR_IN_ANGSTROM, HARTREE_IN_EV, KCAL_PER_MOL_IN_EV


def _arrays(n_frames=4, n_atoms=3, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n_frames, n_atoms, 3)),
        np.array([8, 1, 1][:n_atoms] + [6] * max(0, n_atoms - 3)),
        rng.normal(-1000.0, 1.0, size=n_frames),
        rng.normal(size=(n_frames, n_atoms, 3)),
    )


def _write_xyz(path, pos, z, e, f, cell=None, pbc=False, energy_key="energy", forces_key="forces", extra=None):
    images = []
    for k in range(len(e)):
        atoms = Atoms(numbers=z, positions=pos[k], cell=cell if cell is not None else np.zeros((3, 3)), pbc=pbc)
        atoms.info[energy_key] = e[k]
        atoms.arrays[forces_key] = f[k]
        if extra:
            atoms.info.update(extra[k])
        images.append(atoms)
    ase.io.write(path, images, format="extxyz")


def test_extxyz_info_and_arrays_in_kcal_per_mol(tmp_path):
    pos, z, e, f = _arrays()
    path = tmp_path / "mol.xyz"
    _write_xyz(path, pos, z, e, f)
    frames = list(read_frames(path, energy_unit="kcal/mol"))
    assert len(frames) == 4
    np.testing.assert_allclose([fr.energy for fr in frames], e * KCAL_PER_MOL_IN_EV, rtol=1e-12)
    np.testing.assert_allclose(frames[2].forces, f[2] * KCAL_PER_MOL_IN_EV, atol=1e-8)
    np.testing.assert_allclose(frames[2].positions, pos[2], atol=1e-7)
    assert frames[0].numbers.dtype == np.int64 and not frames[0].is_periodic


def test_extxyz_alternative_keys_calculator_and_frame_index(tmp_path):
    pos, z, e, f = _arrays(3)
    path = tmp_path / "ref.extxyz"
    _write_xyz(
        path,
        pos,
        z,
        e,
        f,
        cell=np.eye(3) * 9.0,
        pbc=True,
        energy_key="REF_energy",
        forces_key="REF_forces",
        extra=[{"frame": 100 + k} for k in range(3)],
    )
    items = list(read_imported_frames(path))
    assert [i.source_index for i in items] == [100, 101, 102]
    np.testing.assert_allclose(items[1].frame.energy, e[1])
    assert items[0].frame.pbc.all() and items[0].frame.cell[0, 0] == pytest.approx(9.0)
    # labels attached as a calculator (how many codes write extxyz)
    atoms = Atoms(numbers=z, positions=pos[0])
    atoms.calc = SinglePointCalculator(atoms, energy=e[0], forces=f[0])
    calc_path = tmp_path / "calc.xyz"
    ase.io.write(calc_path, atoms, format="extxyz")
    (frame,) = read_frames(calc_path)
    np.testing.assert_allclose(frame.forces, f[0], atol=1e-7)


def test_extxyz_units_hartree_bohr(tmp_path):
    pos, z, e, f = _arrays(1)
    path = tmp_path / "au.xyz"
    _write_xyz(path, pos, z, e, f)
    (frame,) = read_frames(path, energy_unit="Hartree", length_unit="Bohr")
    np.testing.assert_allclose(frame.energy, e[0] * HARTREE_IN_EV)
    np.testing.assert_allclose(frame.positions, pos[0] * BOHR_IN_ANGSTROM, atol=1e-7)
    np.testing.assert_allclose(frame.forces, f[0] * HARTREE_IN_EV / BOHR_IN_ANGSTROM, atol=1e-6)
    (frame,) = read_frames(path, force_unit="kcal/mol/Angstrom")
    np.testing.assert_allclose(frame.forces, f[0] * KCAL_PER_MOL_IN_EV, atol=1e-8)
    with pytest.raises(ConfigError, match="unknown energy unit"):
        list(read_frames(path, energy_unit="kJ/furlong"))


@pytest.mark.parametrize(
    "keys",
    [
        {"positions": "R", "numbers": "z", "energy": "E", "forces": "F"},
        {"positions": "coords", "numbers": "nuclear_charges", "energy": "energies", "forces": "forces"},
        {"positions": "pos", "numbers": "atomic_numbers", "energy": "energy", "forces": "forces"},
    ],
    ids=["sgdml", "rmd17", "nequip"],
)
def test_npz_key_conventions(tmp_path, keys):
    pos, z, e, f = _arrays(5)
    path = tmp_path / "data.npz"
    np.savez(path, **{keys["positions"]: pos, keys["numbers"]: z, keys["energy"]: e[:, None], keys["forces"]: f})
    frames = list(read_frames(path, energy_unit="kcal/mol"))
    assert len(frames) == 5
    np.testing.assert_allclose(frames[4].energy, e[4] * KCAL_PER_MOL_IN_EV, rtol=1e-12)
    np.testing.assert_array_equal(frames[4].positions, pos[4])


def test_npz_nequip_cell_pbc_and_per_frame_numbers(tmp_path):
    pos, z, e, f = _arrays(3)
    cells = np.stack([np.eye(3) * (5 + k) for k in range(3)])
    path = tmp_path / "periodic.npz"
    np.savez(
        path,
        pos=pos,
        atomic_numbers=np.tile(z, (3, 1)),
        energy=e,
        forces=f,
        cell=cells,
        pbc=np.array([True, True, False]),
    )
    frames = list(read_frames(path))
    assert frames[2].cell[0, 0] == 7.0 and list(frames[2].pbc) == [True, True, False]


def test_sgdml_declared_units_are_used(tmp_path):
    pos, z, e, f = _arrays(2)
    path = tmp_path / "ccsd.npz"
    np.savez(path, R=pos, z=z, E=e, F=f, e_unit=np.array("kcal/mol"), r_unit=np.array("Ang"))
    frames = list(read_frames(path))
    np.testing.assert_allclose(frames[0].energy, e[0] * KCAL_PER_MOL_IN_EV)
    with pytest.raises(ConfigError, match="declares energies in kcal/mol"):
        list(read_frames(path, energy_unit="Hartree"))


def test_deepmd_system_float32_widened(tmp_path):
    system = tmp_path / "water" / "sys0"
    (system / "set.000").mkdir(parents=True)
    (system / "set.001").mkdir()
    (system / "type.raw").write_text("0\n1\n1\n")
    (system / "type_map.raw").write_text("O\nH\n")
    rng = np.random.default_rng(1)
    energies = []
    for name in ("set.000", "set.001"):
        coord = rng.normal(size=(2, 9)).astype(np.float32)
        energy = rng.normal(-460.0, 1.0, size=2).astype(np.float32)
        energies.extend(energy.astype(np.float64))
        np.save(system / name / "coord.npy", coord)
        np.save(system / name / "energy.npy", energy)
        np.save(system / name / "force.npy", rng.normal(size=(2, 9)).astype(np.float32))
        np.save(system / name / "box.npy", np.tile(np.eye(3).reshape(9) * 10, (2, 1)).astype(np.float32))
    items = list(read_imported_frames(tmp_path / "water"))  # a folder of systems
    assert detect_format(system) == "deepmd"
    assert [i.source_index for i in items] == [0, 1, 2, 3]
    frame = items[3].frame
    assert frame.positions.dtype == np.float64 and frame.energy == energies[3]
    assert list(frame.numbers) == [8, 1, 1] and frame.pbc.all() and frame.cell[1, 1] == 10.0
    (system / "set.001" / "force.npy").unlink()
    with pytest.raises(DatasetError, match=r"set.001, frame 2: force.npy missing"):
        list(read_frames(system))


def test_ase_db_and_missing_forces(tmp_path):
    import ase.db

    pos, z, e, f = _arrays(3)
    path = tmp_path / "data.db"
    with ase.db.connect(path) as db:
        for k in range(3):
            atoms = Atoms(numbers=z, positions=pos[k], cell=np.eye(3) * 6, pbc=True)
            atoms.calc = SinglePointCalculator(atoms, energy=e[k], forces=f[k] if k != 2 else None)
            db.write(atoms)
    frames = read_frames(path)
    first = next(frames)
    np.testing.assert_allclose(first.energy, e[0])
    next(frames)
    with pytest.raises(DatasetError, match=r"data.db, frame 2: no forces"):
        next(frames)


def test_mlearn_json(tmp_path):
    pos, _, e, f = _arrays(2, n_atoms=2)
    records = []
    for k in range(2):
        records.append(
            {
                "structure": {
                    "@class": "Structure",
                    "lattice": {"matrix": [[4.0, 0, 0], [0, 4.0, 0], [0, 0, 4.0]]},
                    "sites": [{"species": [{"element": "Si", "occu": 1}], "xyz": list(p)} for p in pos[k]],
                },
                "outputs": {"energy": e[k], "forces": f[k].tolist()},
            }
        )
    path = tmp_path / "Si_test.json"
    path.write_text(json.dumps(records))
    frames = list(read_frames(path))
    assert list(frames[1].numbers) == [14, 14] and frames[1].pbc.all()
    np.testing.assert_allclose(frames[1].forces, f[1])


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda d: d.pop("F"), r"frame 0: no forces"),
        (lambda d: d["F"].__setitem__((3, 0, 0), np.nan), r"frame 3: forces contain NaN"),
        (lambda d: d["E"].__setitem__(1, np.inf), r"frame 1: energy is missing, NaN or inf"),
        (lambda d: d.__setitem__("F", d["F"][:, :2]), r"frame 0: forces have shape \(2, 3\)"),
        (lambda d: d.__setitem__("R", d["R"][..., :2]), r"positions have shape"),
        (lambda d: d.__setitem__("E", d["E"][:3]), r"3 energies for 4 frames"),
    ],
)
def test_malformed_npz_names_file_and_frame(tmp_path, spoil, message):
    pos, z, e, f = _arrays()
    data = {"R": pos, "z": z, "E": e, "F": f}
    spoil(data)
    path = tmp_path / "bad.npz"
    np.savez(path, **data)
    with pytest.raises(DatasetError, match=message) as info:
        list(read_frames(path))
    assert "bad.npz" in str(info.value) and "\n" not in str(info.value)


def test_malformed_xyz_names_file_and_frame(tmp_path):
    pos, z, e, f = _arrays(3)
    good = tmp_path / "good.xyz"
    _write_xyz(good, pos, z, e, f)
    lines = good.read_text().splitlines()
    lines[2 + 2 * 5] = "C 0.0 0.0"  # a short atom line in frame 2 (5 lines per frame)
    bad = tmp_path / "bad.xyz"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"bad.xyz, frame 2: cannot parse extended XYZ"):
        list(read_frames(bad))
    no_forces = tmp_path / "noforces.xyz"
    ase.io.write(no_forces, [Atoms(numbers=z, positions=pos[0])], format="extxyz")
    with pytest.raises(DatasetError, match=r"noforces.xyz, frame 0: no energy"):
        list(read_frames(no_forces))


def test_unknown_inputs(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        list(read_frames(tmp_path / "missing.xyz"))
    odd = tmp_path / "data.csv"
    odd.write_text("x")
    with pytest.raises(DatasetError, match="pass --format"):
        list(read_frames(odd))
    npz = tmp_path / "other.npz"
    np.savez(npz, foo=np.zeros(3))
    with pytest.raises(DatasetError, match="unknown npz keys"):
        list(read_frames(npz))
    with pytest.raises(ConfigError, match="unknown format"):
        detect_format(npz, "cif")
