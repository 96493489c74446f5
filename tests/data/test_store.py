"""Canonical HDF5 store: round trip in float64, ragged frames, partial reads, atomic writes, bad input."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

from mlip_bench.data.frame import Frame
from mlip_bench.data.store import Store, write_store
from mlip_bench.errors import DatasetError

ATTRS = {"name": "test/mol", "provenance": "imported", "source_sha256": {"a.xyz": "0" * 64}}


def test_round_trip_keeps_float64_and_ragged_frames(tmp_path, frames_factory):
    frames = frames_factory(30, seed=1, n_atoms=(2, 9), periodic=True)
    frames[3].energy = -17660.461737861464  # float32 would round this by ~1 meV
    path = write_store(tmp_path / "s.h5", frames, ATTRS)
    store = Store(path)
    assert store.n_frames == 30
    assert list(store.n_atoms) == [f.n_atoms for f in frames]
    for i in (0, 3, 29):
        got = store.frame(i)
        assert got.index == i
        assert got.energy == frames[i].energy  # exact, float64
        np.testing.assert_array_equal(got.positions, frames[i].positions)
        np.testing.assert_array_equal(got.forces, frames[i].forces)
        np.testing.assert_array_equal(got.numbers, frames[i].numbers)
        np.testing.assert_array_equal(got.cell, frames[i].cell)
        assert got.pbc.all()
    with h5py.File(path) as h5:
        assert h5["energy"].dtype == np.float64 and h5["positions"].dtype == np.float64
    assert store.attrs["units"] == {"energy": "eV", "length": "Angstrom", "forces": "eV/Angstrom"}
    assert store.attrs["provenance"] == "imported"
    assert store.attrs["source_sha256"] == ATTRS["source_sha256"]
    assert list(store.species) == sorted({int(z) for f in frames for z in f.numbers})
    assert store.subsets is None


def test_frames_returns_requested_order_and_duplicates(tmp_path, frames_factory):
    frames = frames_factory(50, seed=2, n_atoms=(1, 4))
    store = Store(write_store(tmp_path / "s.h5", frames, ATTRS))
    picked = store.frames([40, 2, 2, 17])
    assert [f.index for f in picked] == [40, 2, 2, 17]
    assert [f.energy for f in picked] == [frames[i].energy for i in (40, 2, 2, 17)]
    assert [f.energy for f in store] == [f.energy for f in frames]
    with pytest.raises(DatasetError, match="0..49"):
        store.frames([50])


def test_frames_reads_only_requested_blocks(tmp_path, frames_factory, monkeypatch):
    frames = frames_factory(3000, seed=3, n_atoms=3)
    store = Store(write_store(tmp_path / "s.h5", frames, ATTRS, chunk_frames=512))
    read_atoms = []
    original = Store._read

    def counting(self, name, selection):
        out = original(self, name, selection)
        if name == "positions":
            read_atoms.append(len(out))
        return out

    monkeypatch.setattr(Store, "_read", counting)
    store.frames([5, 2990])
    assert sum(read_atoms) <= 2 * 3  # two separate 3-atom reads, not the 9000-atom file


def test_content_hash_is_stable_and_sensitive(tmp_path, frames_factory):
    frames = frames_factory(20, seed=4, n_atoms=(2, 5))
    a = Store(write_store(tmp_path / "a.h5", frames, ATTRS, compression=None))
    b = Store(write_store(tmp_path / "b.h5", frames, ATTRS, chunk_frames=3))
    assert a.sha256 == b.sha256 and len(a.sha256) == 64
    assert a.verify() and b.verify()
    frames[7].forces = frames[7].forces + 1e-9
    c = Store(write_store(tmp_path / "c.h5", frames, ATTRS))
    assert c.sha256 != a.sha256
    labelled = Store(
        write_store(
            tmp_path / "d.h5", frames_factory(20, seed=4, n_atoms=(2, 5)), ATTRS, subsets=["train"] * 10 + ["test"] * 10
        )
    )
    assert labelled.sha256 != a.sha256
    assert list(labelled.subsets) == ["train"] * 10 + ["test"] * 10


def test_subsets_and_source_index_via_attrs(tmp_path, frames_factory):
    frames = frames_factory(4, seed=5)
    attrs = dict(ATTRS, subsets=["train", "val", "test", ""], source_index=[10, 11, 12, 13])
    store = Store(write_store(tmp_path / "s.h5", frames, attrs))
    assert list(store.subsets) == ["train", "val", "test", ""]
    assert list(store.source_index) == [10, 11, 12, 13]
    with pytest.raises(DatasetError, match="unknown subset labels"):
        write_store(tmp_path / "t.h5", frames, ATTRS, subsets=["train", "holdout", "test", "test"])


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda f: setattr(f, "forces", None), "frame 2: forces missing"),
        (lambda f: f.positions.__setitem__((0, 1), np.nan), "frame 2: positions contain NaN"),
        (lambda f: f.forces.__setitem__((1, 1), np.inf), "frame 2: forces contain NaN or inf"),
        (lambda f: setattr(f, "forces", np.zeros((2, 3))), r"frame 2: forces have shape \(2, 3\)"),
        (lambda f: setattr(f, "energy", float("nan")), "frame 2: energy is missing"),
        (lambda f: setattr(f, "positions", np.zeros((5, 2))), r"frame 2: positions have shape"),
    ],
)
def test_bad_frames_raise_and_leave_no_store(tmp_path, frames_factory, spoil, message):
    frames = frames_factory(5, seed=6)
    spoil(frames[2])
    target = tmp_path / "bad.h5"
    with pytest.raises(DatasetError, match=message) as info:
        write_store(target, frames, ATTRS)
    assert str(target) in str(info.value)
    assert not target.exists()
    assert os.listdir(tmp_path) == []  # temporary file removed too


def test_interrupted_write_keeps_previous_store(tmp_path, frames_factory):
    target = tmp_path / "s.h5"
    write_store(target, frames_factory(5, seed=7), ATTRS)
    before = Store(target).sha256

    def interrupted():
        yield from frames_factory(3, seed=8)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_store(target, interrupted(), ATTRS)
    assert Store(target).sha256 == before
    assert sorted(os.listdir(tmp_path)) == ["s.h5"]


def test_missing_truncated_and_foreign_files(tmp_path, frames_factory):
    with pytest.raises(DatasetError, match="nothere.h5: store not found"):
        Store(tmp_path / "nothere.h5")
    path = write_store(tmp_path / "s.h5", frames_factory(200, seed=9, n_atoms=20), ATTRS)
    data = path.read_bytes()
    truncated = tmp_path / "trunc.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="trunc.h5"):
        Store(truncated).frames(range(200))
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["x"] = np.zeros(3)
    with pytest.raises(DatasetError, match="foreign.h5: not a complete mlip-bench store"):
        Store(foreign)
    garbage = tmp_path / "garbage.h5"
    garbage.write_text("not hdf5")
    with pytest.raises(DatasetError, match="garbage.h5"):
        Store(garbage)


def test_attrs_need_name_and_provenance(tmp_path, frames_factory):
    with pytest.raises(DatasetError, match="provenance"):
        write_store(tmp_path / "s.h5", frames_factory(2), {"name": "x"})


def test_large_attrs_such_as_official_splits(tmp_path, frames_factory):
    official = {f"official_0{k}": {"train": list(range(1000)), "test": list(range(1000, 2000))} for k in range(1, 6)}
    store = Store(write_store(tmp_path / "s.h5", frames_factory(3), dict(ATTRS, official_splits=official)))
    assert store.attrs["official_splits"]["official_05"]["test"][-1] == 1999


def test_store_pickles_for_worker_processes(tmp_path, frames_factory):
    import pickle

    store = Store(write_store(tmp_path / "s.h5", frames_factory(3, seed=10), ATTRS))
    store.frame(0)
    clone = pickle.loads(pickle.dumps(store))
    assert clone.frame(2).energy == store.frame(2).energy


def test_frame_from_store_has_index_and_molecule_cell(tmp_path):
    frame = Frame(positions=np.zeros((1, 3)), numbers=np.array([8]), energy=-2000.0, forces=np.zeros((1, 3)))
    store = Store(write_store(tmp_path / "s.h5", [frame], ATTRS))
    got = store.frame(0)
    assert got.index == 0 and not got.is_periodic and got.numbers.dtype == np.int64


def test_embedded_demo_store_is_complete_and_small():
    from mlip_bench.embedded import EMBEDDED_STORES

    path = EMBEDDED_STORES["rmd17/ethanol"]
    assert path.stat().st_size < 1.5e6
    store = Store(path)
    assert store.n_frames == 2000 and set(store.n_atoms) == {9} and list(store.species) == [1, 6, 8]
    assert store.attrs["provenance"] == "embedded-subset"
    assert store.attrs["source_sha256"]["dataset_ethanol/train.xyz"].startswith("a26a16d8")
    assert store.attrs["source_sha256"]["dataset_ethanol/test_MD.xyz"].startswith("b8726933")
    assert (store.subsets == "train").sum() == 1000 and (store.subsets == "test").sum() == 1000
    assert store.verify()
    energies = store.energies()
    assert energies.dtype == np.float64 and abs(energies.mean() + 4209.6) < 0.5  # eV, rMD17 ethanol


def test_extra_named_test_labels_round_trip(tmp_path, frames_factory):
    from mlip_bench.data.store import is_subset_label

    frames = frames_factory(5, seed=11)
    labels = ["train", "val", "test", "test_600K", "test_ABCDEFGHIJK"]  # 11 characters after test_ fills S16
    store = Store(write_store(tmp_path / "s.h5", frames, ATTRS, subsets=labels))
    assert list(store.subsets) == labels
    assert Store(store.path).verify()
    plain = Store(write_store(tmp_path / "p.h5", frames, ATTRS, subsets=["train", "val", "test", "test", "test"]))
    assert plain.sha256 != store.sha256  # the extra label is part of the content hash
    assert is_subset_label("test_600K") and is_subset_label("val")
    assert not is_subset_label("test_") and not is_subset_label("test_ABCDEFGHIJKL")


@pytest.mark.parametrize("label", ["holdout", "test_", "test_600-K", "test_ABCDEFGHIJKL", "Test_600K", "testing"])
def test_unknown_extra_labels_are_refused(tmp_path, frames_factory, label):
    target = tmp_path / "s.h5"
    with pytest.raises(DatasetError, match="unknown subset labels") as info:
        write_store(target, frames_factory(3, seed=12), ATTRS, subsets=["train", "test", label])
    assert repr(label) in str(info.value) and "test_NAME" in str(info.value)
    assert not target.exists()
