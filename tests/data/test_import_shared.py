"""Import each folder of ../shared/data that stands for a paper dataset; check counts, units, duplicates.

Frame counts, units and energy means are those of ../shared/data/PROVENANCE.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from mlip_bench.cli import main
from mlip_bench.data.catalog import open_store
from mlip_bench.data.importers import read_frames
from mlip_bench.data.importers.variant_import import import_variant
from mlip_bench.data.splits import make_split
from tests.data.synthetic_frames import SHARED_DATA

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is absent"),
]

MD17 = {"aspirin": 21, "ethanol": 9, "naphthalene": 18, "salicylic_acid": 16}  # atoms per frame


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("root")


@pytest.mark.parametrize("molecule", sorted(MD17))
def test_md17_subsets_with_their_train_val_test_files(root, molecule, capsys):
    files = [
        str(SHARED_DATA / "md17" / f"mdbench_{molecule}_{part}_nequip_npz.npz") for part in ("train", "val", "test")
    ]
    assert main(["import", *files, "--as", f"md17/{molecule}", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "2000 frames written" in out and "imported-subset" in out
    store = open_store(f"md17/{molecule}", root=root)
    assert store.n_frames == 2000 and set(store.n_atoms) == {MD17[molecule]}
    labels = store.subsets
    assert (labels == "train").sum() == 950 and (labels == "val").sum() == 50 and (labels == "test").sum() == 1000
    assert store.attrs["provenance"] == "imported-subset" and store.attrs["units"]["energy"] == "eV"
    assert len(store.attrs["source_sha256"]) == 3
    shared = store.attrs["duplicates"]["between_subsets"].get("test/train", 0)
    assert 3 <= shared <= 8, f"PROVENANCE.md: train and test share 3-8 frames, found {shared}"
    assert f"test/train: {shared}" in out
    energies = store.energies()
    if molecule == "ethanol":
        assert energies.mean() == pytest.approx(-4214.3, abs=0.5)  # eV, not kcal/mol (-97,190)
    split = make_split(store, seed=0)
    assert split.kind == "labelled" and len(split.val) == 50 and len(split.train_pool) == 950
    assert split.n_test_duplicates_dropped >= shared and len(split.test) == 1000 - split.n_test_duplicates_dropped
    prints = store.fingerprints
    assert not {prints[i] for i in split.test} & {prints[i] for i in split.train_pool + split.val}


def test_rmd17_ethanol_from_botnet_and_metatrain_files(root):
    botnet, meta = SHARED_DATA / "ethanol_botnet", SHARED_DATA / "rmd17_ethanol"
    files = [
        botnet / "train.xyz",
        botnet / "test_MD.xyz",
        meta / "metatrain_ethanol_train_0.xyz",
        meta / "metatrain_ethanol_train_1.xyz",
        meta / "metatrain_ethanol_reduced_100.xyz",
    ]
    result = import_variant(
        files, "rmd17/ethanol", root=root, file_energy_units={"metatrain_ethanol_reduced_100.xyz": "kcal/mol"}
    )
    store = result.store
    assert store.n_frames == 4100
    assert store.n_frames - result.duplicates["n_redundant_frames"] == 4033  # distinct frames per PROVENANCE.md
    energies = store.energies()
    assert energies.mean() == pytest.approx(-4209.6, abs=0.5)
    reduced = energies[-100:]  # the last file, metatrain_ethanol_reduced_100.xyz
    assert reduced.mean() == pytest.approx(-4209.6, abs=1.0)  # kcal/mol file converted to eV
    assert store.attrs["provenance"] == "imported-subset" and store.attrs["card_version"] >= 1
    assert "PBE" in store.attrs["level_of_theory"]
    split = make_split(store, seed=0)
    prints = store.fingerprints
    assert not {prints[i] for i in split.test} & {prints[i] for i in split.train_pool + split.val}
    assert all(store.subsets[i] == "test" for i in split.test)


def test_lips_periodic_npz(root):
    result = import_variant([SHARED_DATA / "lips" / "mdbench_Data_lips_val_nequip_npz.npz"], "lips", root=root)
    store = result.store
    assert store.n_frames == 1000 and set(store.n_atoms) == {83}
    frame = store.frame(0)
    assert frame.pbc.all() and abs(np.linalg.det(frame.cell)) > 100
    assert (store.energies() / 83).mean() == pytest.approx(-4.309, abs=0.01)
    split = make_split(store, seed=0)  # only "val" labels: a seeded random split
    assert split.kind == "random" and len(split.test) > 0


def test_cu_formate_union_of_deal_files(root):
    files = sorted((SHARED_DATA / "cu_formate").glob("deal_*_selected.xyz"))
    assert len(files) == 4
    result = import_variant(files, "cu-formate", root=root, dedupe=True)
    store = result.store
    assert store.n_frames == 441 and set(store.n_atoms) == {52}
    source = store.source_index
    assert len(set(source.tolist())) == 441 and source.max() <= 6854  # index into the 6855-frame fcu.xyz
    assert [s.n_read for s in result.sources] == [408, 146, 222, 105]  # deal_0.05, 0.15, 0.1, 0.2 (PROVENANCE.md)
    assert result.n_dropped_duplicates == sum(s.n_read for s in result.sources) - 441
    assert store.attrs["provenance"] == "imported-subset"  # the card's full set is larger


def test_water_deepmd_systems(root):
    result = import_variant([SHARED_DATA / "water_deepmd"], "water", root=root)
    store = result.store
    assert store.n_frames == 400 and set(store.n_atoms) == {192}
    assert (store.energies() / 192).mean() == pytest.approx(-156.0, abs=0.5)
    assert list(store.species) == [1, 8]


def test_3bpa_train_and_temperature_test_sets(root):
    data = SHARED_DATA / "3bpa"
    files = [data / "train_300K.xyz", data / "mdbench_val_nequip_npz.npz", data / "mdbench_test_nequip_npz.npz"]
    result = import_variant(files, "3bpa", root=root)
    store = result.store
    assert store.n_frames == 500 + 1669 + 2138
    assert [s.n_frames for s in result.sources] == [500, 1669, 2138]
    assert result.duplicates["n_groups"] == 0  # PROVENANCE: no frames shared between train, val and test
    assert (store.energies() / 27).mean() == pytest.approx(-654.1, abs=0.5)


@pytest.mark.parametrize(
    "path, kwargs, n_frames, energy_per_atom",
    [
        ("mlearn/Li_test.json", {}, 29, -1.811),
        ("snap_nimo/snap-Mo.db", {}, 284, -10.27),
        ("sgdml_ccsd/nequip_tests_aspirin.xyz", {"energy_unit": "kcal/mol"}, 15, -1.932e4 * 0.0433641),
        ("carbon_gap17/metatrain_carbon_reduced_100.xyz", {}, 100, -158.1),
    ],
)
def test_other_formats_in_shared_data(path, kwargs, n_frames, energy_per_atom):
    frames = list(read_frames(SHARED_DATA / path, **kwargs))
    assert len(frames) == n_frames
    per_atom = np.mean([f.energy / f.n_atoms for f in frames])
    assert per_atom == pytest.approx(energy_per_atom, rel=0.01)
