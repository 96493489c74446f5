"""Integrity of stores (issue 11, item 6): a store edited in place or with corrupt chunks is
refused; the check is cached by size/mtime/inode; non-HDF5 files are not stores; long names and
corrupt .npz files are one-line errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from mlip_bench import testing
from mlip_bench.data.catalog import imported_variants, open_store, resolve_variant, store_path, verified_cache_dir
from mlip_bench.data.importers import read_frames
from mlip_bench.data.store import Store, check_store_integrity, is_hdf5_file
from mlip_bench.errors import DatasetError


@pytest.fixture()
def root(tmp_path) -> Path:
    testing.write_toy_store(tmp_path, n=20)
    return tmp_path


def _triple_forces(path: Path) -> None:
    with h5py.File(path, "r+") as h5:
        h5["forces"][...] = 3.0 * h5["forces"][...]


def test_store_edited_in_place_is_refused_before_use(root):
    with open_store("toy", root=root, verify=True) as store:
        clean_hash = store.sha256
    _triple_forces(store_path("toy", root))
    with Store(store_path("toy", root)) as edited:
        assert edited.sha256 == clean_hash  # still valid HDF5, same recorded hash: only a check sees it
    with pytest.raises(DatasetError, match="no longer match its recorded content sha256") as info:
        open_store("toy", root=root, verify=True)
    assert "\n" not in str(info.value) and "delete it" in str(info.value)


def test_verification_is_cached_by_size_and_mtime(root, monkeypatch):
    calls = []
    real = Store.verify

    def counting(self, every_chunk=False):
        calls.append(every_chunk)
        return real(self, every_chunk)

    monkeypatch.setattr(Store, "verify", counting)
    open_store("toy", root=root, verify=True).close()
    open_store("toy", root=root, verify=True).close()
    assert calls == [False]  # the second open costs a stat, not a read
    assert len(list(verified_cache_dir(root).glob("*.json"))) == 1
    _triple_forces(store_path("toy", root))  # mtime changes: checked again, and refused
    with pytest.raises(DatasetError):
        open_store("toy", root=root, verify=True)
    assert calls == [False, False]


def _corrupt_a_chunk(path: Path, dataset: str) -> None:
    with h5py.File(path, "r") as h5:
        offset = h5[dataset].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 8)
        handle.write(b"\xff" * 32)


@pytest.mark.parametrize("dataset", ["forces", "fingerprint"])
def test_every_chunk_check_finds_corrupt_compressed_chunks(root, dataset):
    path = store_path("toy", root)
    _corrupt_a_chunk(path, dataset)
    with Store(path) as store, pytest.raises(DatasetError) as info:
        check_store_integrity(store, cache_dir=verified_cache_dir(root), every_chunk=True)
    assert "\n" not in str(info.value)


def test_non_hdf5_files_are_not_stores(root):
    (root / "stores" / "notes.h5").write_text("not a store\n")
    assert not is_hdf5_file(root / "stores" / "notes.h5")
    assert is_hdf5_file(store_path("toy", root))
    assert imported_variants(root) == ["toy"]


def test_a_250_character_dataset_name_is_one_line(tmp_path):
    with pytest.raises(DatasetError, match="characters long") as info:
        resolve_variant("a" * 250, root=tmp_path)
    assert len(str(info.value)) < 200
    with pytest.raises(DatasetError, match="characters long"):
        store_path("lips/" + "b" * 250, tmp_path)


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    frames = testing.morse_frames(4)
    np.savez(
        buffer,
        R=np.array([f.positions for f in frames]),
        z=frames[0].numbers,
        E=np.array([[f.energy] for f in frames]),
        F=np.array([f.forces for f in frames]),
    )
    return buffer.getvalue()


def _flip_crc_corrupt(data: bytes) -> bytes:
    """Flip bytes inside the stored data of the first member (the CRC no longer matches)."""
    info = zipfile.ZipFile(io.BytesIO(data)).infolist()[0]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 80
    corrupt = bytearray(data)
    for k in range(start, start + 16):
        corrupt[k] ^= 0xFF
    return bytes(corrupt)


@pytest.mark.parametrize(
    "content,words",
    [
        (lambda d: d[: len(d) // 2], "truncated or corrupt"),
        (_flip_crc_corrupt, "truncated or corrupt"),
        (lambda d: b"", "empty"),
    ],
    ids=["truncated", "crc", "empty"],
)
def test_broken_npz_files_are_dataset_errors_naming_the_file(tmp_path, content, words):
    path = tmp_path / "broken.npz"
    path.write_bytes(content(_npz_bytes()))
    with pytest.raises(DatasetError, match=words) as info:
        list(read_frames(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)
