"""`mlip-bench import` on synthetic files: one variant from several files, labels, units, bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mlip_bench.cli import main
from mlip_bench.data.catalog import open_store, store_path
from mlip_bench.data.importers.variant_import import import_variant, subset_label_from_name
from mlip_bench.units import KCAL_PER_MOL_IN_EV

#: ethanol's atoms (C2H6O), as rMD17 and MD17 ethanol have them
ETHANOL_Z = np.array([6, 6, 8, 1, 1, 1, 1, 1, 1])


def _npz(path, n_frames, seed, energy=-1000.0, copy_from=None, z=(8, 1, 1)):
    rng = np.random.default_rng(seed)
    z = np.asarray(z)
    pos = rng.normal(size=(n_frames, len(z), 3)) * 2
    if copy_from is not None:
        pos[0] = np.load(copy_from)["R"][0]  # a frame repeated from another file
    np.savez(path, R=pos, z=z, E=rng.normal(energy, 1.0, n_frames), F=rng.normal(size=(n_frames, len(z), 3)))
    return path


@pytest.mark.parametrize(
    "name, label",
    [
        ("mdbench_aspirin_train_nequip_npz.npz", "train"),
        ("test_MD.xyz", "test"),
        ("x_val.npz", "val"),
        ("metatrain_ethanol_train_0.xyz", "train"),
        ("metatrain_ethanol_reduced_100.xyz", None),
        ("deal_0.2_selected.xyz", None),
        ("validation-set.extxyz", "val"),
    ],
)
def test_subset_label_from_file_name(name, label):
    assert subset_label_from_name(name) == label


def test_cli_import_labels_units_duplicates(tmp_path, capsys):
    train = _npz(tmp_path / "mol_train.npz", 30, 1, z=ETHANOL_Z)
    test = _npz(tmp_path / "mol_test.npz", 20, 2, copy_from=train, z=ETHANOL_Z)
    code = main(
        ["import", str(train), str(test), "--as", "rmd17/ethanol", "--units", "kcal/mol", "--root", str(tmp_path / "r")]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "test/train: 1" in out and "50 frames written" in out
    store = open_store("rmd17/ethanol", root=tmp_path / "r")
    assert store.path == store_path("rmd17/ethanol", tmp_path / "r")  # not the embedded demo store
    assert store.attrs["provenance"] == "imported-subset"
    raw = np.load(train)["E"][0]
    assert store.frame(0).energy == pytest.approx(raw * KCAL_PER_MOL_IN_EV, rel=1e-12)
    assert store.attrs["sources"][0]["units"]["energy"] == "kcal/mol"
    assert set(store.attrs["source_sha256"]) == {"mol_train.npz", "mol_test.npz"}
    assert list(store.source_index[:3]) == [0, 1, 2]
    assert list(store.source_file[29:31]) == [0, 1]


def test_import_refuses_to_overwrite_without_force(tmp_path):
    data = _npz(tmp_path / "a.npz", 5, 3)
    import_variant([data], "mydata", root=tmp_path)
    assert main(["import", str(data), "--as", "mydata", "--root", str(tmp_path)]) == 3
    result = import_variant([data], "mydata", root=tmp_path, force=True, subset=True)
    assert result.provenance == "imported-subset" and result.store.n_frames == 5


def test_file_unit_applies_to_one_file_only(tmp_path):
    ev = _npz(tmp_path / "a.npz", 4, 4, energy=-400.0)
    kcal = _npz(tmp_path / "b.npz", 4, 5, energy=-400.0 / KCAL_PER_MOL_IN_EV)
    result = import_variant([ev, kcal], "mixed", root=tmp_path, file_energy_units={"b.npz": "kcal/mol"})
    energies = result.store.energies()
    assert np.all(np.abs(energies + 400.0) < 5.0)
    assert result.provenance == "imported"
    with pytest.raises(Exception, match="not imported: c.npz"):
        import_variant([ev], "mixed2", root=tmp_path, file_energy_units={"c.npz": "kcal/mol"})


def test_dedupe_drops_repeats(tmp_path):
    first = _npz(tmp_path / "one.npz", 6, 6)
    second = _npz(tmp_path / "two.npz", 6, 7, copy_from=first)
    kept = import_variant([first, second], "dd", root=tmp_path, dedupe=True)
    assert kept.store.n_frames == 11 and kept.n_dropped_duplicates == 1 and kept.duplicates["n_groups"] == 0
    report = import_variant([first, second], "dd2", root=tmp_path).duplicates
    assert report["n_groups"] == 1 and report["groups"] == [[0, 6]]


def test_cli_bad_input_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, R=np.zeros((2, 3, 3)), z=np.array([8, 1, 1]), E=np.array([1.0, np.nan]), F=np.zeros((2, 3, 3)))
    cases = [
        ([str(bad), "--as", "x"], 3, "bad.npz, frame 1: energy is missing, NaN or inf"),
        ([str(bad), "--as", "md17/notamolecule"], 3, "valid: aspirin"),
        ([str(bad), "--as", "x", "--units", "furlongs"], 2, "unknown energy unit"),
    ]
    for args, code, message in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "mlip_bench.cli", "import", *args, "--root", str(tmp_path)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == code, proc.stderr
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.h5"))  # nothing half-written


def test_file_labels_name_an_extra_test_set(tmp_path):
    train = _npz(tmp_path / "mol_train.npz", 6, 8)
    hot = _npz(tmp_path / "mol_test.npz", 4, 9)  # the name says "test"; the explicit label wins
    other = _npz(tmp_path / "extra.npz", 3, 10)
    result = import_variant(
        [train, hot, other], "lab", root=tmp_path, file_labels={"mol_test.npz": "test_600K", str(other): "test"}
    )
    assert list(result.store.subsets) == ["train"] * 6 + ["test_600K"] * 4 + ["test"] * 3
    assert [s.subset for s in result.sources] == ["train", "test_600K", "test"]
    # an explicit label applies even when labels from file names are off
    off = import_variant([train, hot], "lab2", root=tmp_path, labels=False, file_labels={"mol_test.npz": "test_600K"})
    assert list(off.store.subsets) == [""] * 6 + ["test_600K"] * 4


def test_cli_label_option(tmp_path, capsys):
    train = _npz(tmp_path / "a_train.npz", 5, 11)
    hot = _npz(tmp_path / "b.npz", 4, 12)
    root = tmp_path / "r"
    code = main(["import", str(train), str(hot), "--as", "lab", "--label", "b.npz=test_600K", "--root", str(root)])
    assert code == 0, capsys.readouterr().err
    assert "test_600K" in capsys.readouterr().out
    store = open_store("lab", root=root)
    assert list(store.subsets) == ["train"] * 5 + ["test_600K"] * 4
    assert [s["subset"] for s in store.attrs["sources"]] == ["train", "test_600K"]


def test_bad_file_labels_write_no_store(tmp_path, capsys):
    from mlip_bench.errors import ConfigError, DatasetError

    data = _npz(tmp_path / "b.npz", 3, 13)
    root = tmp_path / "r"
    for bad in ("holdout", "test_", "test_600-K", "test_ABCDEFGHIJKL"):
        with pytest.raises(ConfigError, match="not train, val, test or test_NAME"):
            import_variant([data], "lab", root=root, file_labels={"b.npz": bad})
    with pytest.raises(DatasetError, match="--label names files that were not imported: c.npz"):
        import_variant([data], "lab", root=root, file_labels={"c.npz": "test_600K"})
    cases = [
        (["--label", "b.npz=holdout"], 2, "subset label 'holdout' is not train, val, test or test_NAME"),
        (["--label", "b.npz"], 2, "--label 'b.npz': write FILE=LABEL"),
        (["--label", "c.npz=test_600K"], 3, "not imported: c.npz"),
    ]
    for extra, code, message in cases:
        assert main(["import", str(data), "--as", "lab", *extra, "--root", str(root)]) == code
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert [p for p in root.rglob("*") if p.is_file()] == []  # no store, not even a temporary file


@pytest.mark.parametrize(
    "z, words",
    [
        ((8, 1, 1), "the files hold H, O, but md17/ethanol is C, H, O by its card"),
        ((6, 8, 1, 1, 1, 1), "frame 0 of the files has 6 atoms, but md17/ethanol has 9"),
    ],
)
def test_import_under_a_card_name_checks_species(tmp_path, capsys, z, words):
    """Issue 11: an arbitrary file imported as md17/ethanol is refused (one line, exit 3), so the
    card's level of theory is never stamped on unrelated data; under a name of its own it imports."""
    data = _npz(tmp_path / "other.npz", 5, 1, z=z)
    root = tmp_path / "r"
    assert main(["import", str(data), "--as", "md17/ethanol", "--root", str(root)]) == 3
    err = capsys.readouterr().err.strip()
    assert words in err and "--as mydata" in err and "\n" not in err
    assert not store_path("md17/ethanol", root).exists()
    assert main(["import", str(data), "--as", "mydata", "--root", str(root)]) == 0
