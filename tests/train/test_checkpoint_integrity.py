"""Checkpoints are checked before use (issue 11, item 6): torch.load ignores the zip CRCs, so a
checkpoint with flipped bytes would load different weights silently; mlip-bench refuses it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from mlip_bench.errors import TrainingError
from mlip_bench.train.checkpoint import check_file_integrity, load_checkpoint, load_trained_potential, save_checkpoint


def _flip(path: Path, n: int = 64) -> None:
    with zipfile.ZipFile(path) as zf:
        info = max(zf.infolist(), key=lambda i: i.file_size)  # the weights
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 16
    data = bytearray(path.read_bytes())
    for k in range(start, start + n):
        data[k] ^= 0xA5
    path.write_bytes(bytes(data))


def test_flipped_bytes_in_a_checkpoint_are_refused(tmp_path):
    path = save_checkpoint({"weights": torch.randn(4096)}, tmp_path)
    assert load_checkpoint(path)["weights"].shape == (4096,)
    _flip(path)
    torch.load(path, weights_only=False)  # torch itself does not notice
    with pytest.raises(TrainingError, match="CRC-32 mismatch") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and "delete it" in str(info.value)
    with pytest.raises(TrainingError, match="model file .* is corrupt"):
        load_trained_potential(path)


def test_truncated_checkpoint_is_refused(tmp_path):
    path = save_checkpoint({"weights": torch.randn(1024)}, tmp_path)
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(TrainingError, match="corrupt|cannot be read"):
        load_checkpoint(path)


def test_non_zip_files_are_left_to_torch(tmp_path):
    path = tmp_path / "legacy.pt"
    torch.save({"format": 1}, path, _use_new_zipfile_serialization=False)
    check_file_integrity(path)  # no zip: nothing to check here
