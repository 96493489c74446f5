"""Downloads that cannot get stuck (issue 11, item 4 and 7): pins only after conversion, bad files
deleted with their recorded hash, card frame counts, published prefix pins, bounded extraction,
temporaries of killed processes cleaned. Files are served by the loopback server (127.0.0.1)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from mlip_bench.data.archive import extract_archive
from mlip_bench.data.cards import load_card
from mlip_bench.data.catalog import open_store, store_path
from mlip_bench.data.download import (
    EXTRACT_MAX_ENV,
    clean_stale_temporaries,
    download_variant,
    extraction_cap,
    hash_matches,
    load_pins,
    record_pin,
)
from mlip_bench.errors import ChecksumError, DatasetError, DownloadError
from tests.data.fixture_archives import (
    ALL_FIXTURES,
    extxyz_text,
    periodic_frames,
    rmd17_fixture,
    use_miniature_cards,
)
from tests.data.loopback_server import LoopbackServer

QUIET = {"progress": False, "warn": lambda message: None}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def mini_cards(monkeypatch, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("cards")
    use_miniature_cards(monkeypatch, directory)
    return directory


def _set_frames(directory: Path, card: str, n_frames: int) -> None:
    import yaml

    path = directory / f"{card}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["source"]["n_frames"] = n_frames
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


# -- a bad first download is not kept ----------------------------------------------------------


def test_bad_first_download_is_deleted_with_no_pin_and_a_good_mirror_then_works(tmp_path, mini_cards):
    good = ALL_FIXTURES["lips"]().files["lips.xyz"]
    with LoopbackServer({"lips.xyz": b"this is not an extended XYZ file\n"}) as server:
        with pytest.raises(DatasetError) as info:
            download_variant("lips", root=tmp_path, mirror=server.url, **QUIET)
    message = str(info.value)
    assert "lips.xyz" in message and "deleted lips.xyz" in message and "next run downloads it again" in message
    assert "\n" not in message
    assert not (tmp_path / "downloads" / "lips.xyz").exists()
    assert load_pins(tmp_path) == {}
    with LoopbackServer({"lips.xyz": good}) as server:  # a rerun against a good mirror
        outcome = download_variant("lips", root=tmp_path, mirror=server.url, **QUIET)
        assert not outcome.skipped and server.log[-1][0] == "lips.xyz"
        # --force with the same good file works too (nothing bad was kept or pinned)
        download_variant("lips", root=tmp_path, mirror=server.url, force=True, **QUIET)
    assert load_pins(tmp_path) == {"lips/lips.xyz": sha(good)}


def test_a_recorded_hash_of_a_bad_file_is_dropped_when_it_fails_to_convert(tmp_path, mini_cards):
    """pins.json from an older version may vouch for a bad file: conversion failing drops both."""
    bad = b"garbage\n"
    downloads = tmp_path / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "fcu.xyz").write_bytes(bad)
    record_pin("cu-formate/fcu.xyz", sha(bad), tmp_path)
    with LoopbackServer({}) as server:
        with pytest.raises(DatasetError, match="deleted fcu.xyz"):
            download_variant("cu-formate", root=tmp_path, mirror=server.url, **QUIET)
        assert server.log == []  # the local copy matched its (bad) pin: it was tried, not refetched
    assert not (downloads / "fcu.xyz").exists() and load_pins(tmp_path) == {}
    fixture = ALL_FIXTURES["cu-formate"]()
    with LoopbackServer(fixture.files) as server:
        download_variant("cu-formate", root=tmp_path, mirror=server.url, **QUIET)
    assert open_store("cu-formate", root=tmp_path).n_frames == len(fixture.raw.energies)


def test_failed_variant_of_a_dataset_download_forgets_the_file(tmp_path, mini_cards):
    """`download NAME` reports a failed file and keeps neither it nor a pin."""
    from mlip_bench.data.download import download_dataset

    with LoopbackServer({"dataset_1593_eVAng.xyz": b"1\nbroken\n"}) as server:
        result = download_dataset("water", root=tmp_path, mirror=server.url, **QUIET)
    assert [v for v, _ in result.failures] == ["water"]
    assert "deleted dataset_1593_eVAng.xyz" in str(result.failures[0][1])
    assert load_pins(tmp_path) == {} and not (tmp_path / "downloads" / "dataset_1593_eVAng.xyz").exists()


# -- frame counts --------------------------------------------------------------------------------


def test_copy_truncated_at_a_frame_boundary_is_refused(tmp_path, mini_cards):
    raw = periodic_frames({"O": 2, "H": 4}, 8.0, 6, seed=5)
    full = extxyz_text(raw)
    lines = full.decode().splitlines(keepends=True)
    per_frame = 2 + 6
    half = "".join(lines[: 3 * per_frame]).encode()  # the first 3 of 6 frames: cut at a frame boundary
    _set_frames(mini_cards, "water", 6)
    with LoopbackServer({"dataset_1593_eVAng.xyz": half}) as server:
        with pytest.raises(DatasetError, match="hold 3 frames, the card expects 6") as info:
            download_variant("water", root=tmp_path, mirror=server.url, **QUIET)
        assert "truncated" in str(info.value)
        assert load_pins(tmp_path) == {} and not store_path("water", tmp_path).exists()
        server.files["dataset_1593_eVAng.xyz"] = full
        download_variant("water", root=tmp_path, mirror=server.url, **QUIET)
    assert open_store("water", root=tmp_path).n_frames == 6
    assert load_pins(tmp_path) == {"water/dataset_1593_eVAng.xyz": sha(full)}


def test_real_cards_know_frame_counts_where_published():
    assert load_card("rmd17").variant_source("rmd17/ethanol").n_frames == 100000
    assert load_card("water").variant_source("water").n_frames == 1593


# -- published hash prefixes ----------------------------------------------------------------------


def test_rmd17_is_pinned_by_the_published_prefix_and_cites_it():
    file = load_card("rmd17").file("rmd17.tar.bz2")
    assert file.sha256 == "cddeea2ec2c4"
    assert "load-atoms" in file.note and "cddeea2ec2c4" in file.note


def test_prefix_matching():
    digest = sha(b"x")
    assert hash_matches(digest, digest) and hash_matches(digest, digest[:12])
    assert not hash_matches(digest, digest[:11])  # too short to be a pin
    assert not hash_matches(digest, "0" * 12)


def test_prefix_pin_needs_a_note_and_twelve_digits():
    raw = {"name": "f.xyz", "url": "https://example.org/f.xyz", "sha256": "cddeea2ec2c4"}
    from mlip_bench.data.cards import SourceFile

    with pytest.raises(ValueError, match="citing where it is published"):
        SourceFile.model_validate(raw)
    with pytest.raises(ValueError, match="published prefix of 12"):
        SourceFile.model_validate({**raw, "sha256": "cddeea2ec2c", "note": "short"})
    assert SourceFile.model_validate({**raw, "note": "load-atoms"}).sha256 == "cddeea2ec2c4"


def test_a_copy_without_the_published_prefix_is_refused_and_not_pinned(tmp_path):
    """The real rMD17 card: a file whose sha256 does not start with cddeea2ec2c4 is refused."""
    fixture = rmd17_fixture()
    with LoopbackServer(fixture.files) as server:
        with pytest.raises(ChecksumError, match="expected a sha256 starting with cddeea2ec2c4"):
            download_variant("rmd17/ethanol", root=tmp_path, mirror=server.url, **QUIET)
    assert load_pins(tmp_path) == {} and not (tmp_path / "downloads" / "rmd17.tar.bz2").exists()


# -- bounded extraction -------------------------------------------------------------------------


def _zip_of_zeros(n_bytes: int, name: str = "bomb.npz") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open(name, "w", force_zip64=True) as out:
            block = bytes(1 << 20)
            for _ in range(n_bytes >> 20):
                out.write(block)
    return buffer.getvalue()


def test_zip_bomb_is_refused_before_writing(tmp_path):
    """A ~300 KB zip declaring 300 MB: over the default cap (50x + 256 MiB), nothing is written."""
    archive = tmp_path / "aspirin_ccsd.zip"
    archive.write_bytes(_zip_of_zeros(300 << 20))
    assert archive.stat().st_size < 1 << 20
    target = tmp_path / "out"
    with pytest.raises(DownloadError, match="zip bomb") as info:
        extract_archive(archive, "zip", target, max_bytes=extraction_cap(archive))
    assert "\n" not in str(info.value)
    assert sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) == 0


def test_tar_bomb_stops_early(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        for k in range(3):
            info = tarfile.TarInfo(f"rmd17/part{k}.npz")
            info.size = 4 << 20
            tar.addfile(info, io.BytesIO(bytes(info.size)))
    archive = tmp_path / "bomb.tar.bz2"
    archive.write_bytes(buffer.getvalue())
    target = tmp_path / "out"
    with pytest.raises(DownloadError, match="expands to more than"):
        extract_archive(archive, "tar.bz2", target, max_bytes=6 << 20)
    written = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    assert written <= 6 << 20  # stopped at the cap, before the third member


def test_bomb_through_the_download_path_is_not_pinned(tmp_path, mini_cards, monkeypatch):
    monkeypatch.setenv(EXTRACT_MAX_ENV, str(2 << 20))
    bomb = _zip_of_zeros(8 << 20, "aspirin_ccsd-train.npz")
    with LoopbackServer({"aspirin_ccsd.zip": bomb}) as server:
        with pytest.raises(DownloadError, match="expands to more than") as info:
            download_variant("md17/aspirin_ccsd", root=tmp_path, mirror=server.url, **QUIET)
    assert "deleted aspirin_ccsd.zip" in str(info.value)
    assert load_pins(tmp_path) == {} and not (tmp_path / "downloads" / "aspirin_ccsd.zip").exists()
    assert not list((tmp_path / "downloads").glob(".extract-*"))


# -- temporaries of killed processes ----------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_are_cleaned_and_live_ones_kept(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    stores = tmp_path / "stores" / "rmd17"
    stores.mkdir(parents=True)
    stale_store = stores / f".ethanol.h5.{dead}.tmp"
    live_store = stores / f".aspirin.h5.{alive}.tmp"
    other = stores / ".notes.tmp"
    for path in (stale_store, live_store, other):
        path.write_bytes(b"x")
    downloads = tmp_path / "downloads"
    stale_dir = downloads / f".extract-{dead}-abc"
    live_dir = downloads / f".extract-{alive}-def"
    for d in (stale_dir, live_dir):
        (d / "rmd17").mkdir(parents=True)
        (d / "rmd17" / "big.npz").write_bytes(b"y")
    removed = clean_stale_temporaries(tmp_path)
    assert set(removed) == {stale_store, stale_dir}
    assert not stale_store.exists() and not stale_dir.exists()
    assert live_store.exists() and live_dir.exists() and other.exists()


def test_writing_a_store_removes_its_stale_temporary(tmp_path):
    from mlip_bench import testing
    from mlip_bench.data.store import write_store

    path = store_path("toy", tmp_path)
    path.parent.mkdir(parents=True)
    leftover = path.parent / f".toy.h5.{_dead_pid()}.tmp"
    leftover.write_bytes(b"half a store")
    write_store(path, testing.morse_frames(3), {"name": "toy", "provenance": "imported"})
    assert not leftover.exists() and path.is_file()


# -- one writer per downloaded file and per store (issue 11, "a lock per run and per store write") --


@contextlib.contextmanager
def _held_by_another_process(path: Path):
    """An flock on ``path`` through another open file description (as another process would hold it)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.pwrite(fd, b"4242 elsewhere\n", 0)
        yield
    finally:
        os.close(fd)


def test_a_second_download_of_the_same_file_is_refused_in_one_line(tmp_path, mini_cards, capsys, monkeypatch):
    """Two `download lips` at once wrote into one lips.xyz.part (and the loser crashed with a
    FileNotFoundError traceback): the second is now refused before it touches anything."""
    from mlip_bench.cli import main
    from mlip_bench.results.run_lock import lock_path

    monkeypatch.setenv("COLUMNS", "250")
    good = ALL_FIXTURES["lips"]().files["lips.xyz"]
    with LoopbackServer({"lips.xyz": good}) as server:
        args = ["download", "lips", "--root", str(tmp_path), "--mirror", server.url]
        with _held_by_another_process(lock_path(tmp_path, "download-lips-lips.xyz")):
            assert main(args) == 4
            err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
            assert err == [
                "error: lips.xyz is being downloaded by another process (pid 4242 elsewhere); "
                "wait for it to finish, then run the command again"
            ]
            assert server.log == [] and not (tmp_path / "downloads" / "lips.xyz.part").exists()
            assert not store_path("lips", tmp_path).exists() and load_pins(tmp_path) == {}
        assert main(args) == 0  # released with its holder: the download goes ahead
    assert open_store("lips", root=tmp_path).n_frames > 0


def test_a_store_being_written_by_another_process_is_refused_and_left_alone(tmp_path):
    from mlip_bench import testing
    from mlip_bench.data.store import store_write_lock_path, write_store

    path = store_path("toy", tmp_path)
    path.parent.mkdir(parents=True)
    attrs = {"name": "toy", "provenance": "imported"}
    write_store(path, testing.morse_frames(3), attrs)
    before = path.read_bytes()
    with _held_by_another_process(store_write_lock_path(path)):
        with pytest.raises(DatasetError, match="being written by another process") as info:
            write_store(path, testing.morse_frames(5), attrs)
        assert "\n" not in str(info.value) and "pid 4242" in str(info.value)
        assert path.read_bytes() == before and not list(path.parent.glob(".*.tmp"))
    write_store(path, testing.morse_frames(5), attrs)
    assert open_store("toy", root=tmp_path).n_frames == 5
