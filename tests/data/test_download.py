"""The real download path (fetch, verify, extract, convert) against a loopback HTTP server."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import numpy as np
import pytest

from mlip_bench.data.archive import extract_archive
from mlip_bench.data.cards import load_card
from mlip_bench.data.catalog import open_store, store_path
from mlip_bench.data.download import (
    MIRROR_ENV,
    download_variant,
    fetch_file,
    load_pins,
    pins_path,
)
from mlip_bench.errors import ChecksumError, DatasetError, DownloadError
from tests.data.fixture_archives import (
    ALL_FIXTURES,
    KCAL,
    md17_npz,
    molecule_frames,
    rmd17_fixture,
    tar_bytes,
    use_miniature_cards,
    zip_bytes,
)
from tests.data.loopback_server import LoopbackServer


@pytest.fixture(autouse=True)
def miniature_cards(monkeypatch, tmp_path_factory):
    """The fixtures are small stand-ins: cards without pins and frame counts (see fixture_archives)."""
    use_miniature_cards(monkeypatch, tmp_path_factory.mktemp("cards"))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture()
def warnings_seen():
    seen: list[str] = []
    return seen


def _warn_into(seen):
    return seen.append


# -- all six datasets through the real path ----------------------------------------------------


@pytest.mark.parametrize("variant", sorted(ALL_FIXTURES))
def test_download_converts_each_dataset_to_ev(variant, tmp_path, warnings_seen):
    fixture = ALL_FIXTURES[variant]()
    with LoopbackServer(fixture.files) as server:
        outcome = download_variant(
            variant, root=tmp_path, mirror=server.url, progress=False, warn=_warn_into(warnings_seen)
        )
    assert not outcome.skipped and outcome.store == store_path(variant, tmp_path)
    store = open_store(variant, root=tmp_path)
    raw = fixture.raw
    assert store.n_frames == len(raw.energies)
    frames = store.frames(list(range(store.n_frames)))
    for k, frame in enumerate(frames):
        np.testing.assert_array_equal(frame.numbers, raw.numbers[k])
        np.testing.assert_allclose(frame.positions, raw.positions[k], atol=1e-9)
        assert frame.energy == pytest.approx(raw.energies[k] * fixture.energy_factor, rel=1e-12, abs=1e-9)
        np.testing.assert_allclose(frame.forces, raw.forces[k] * fixture.energy_factor, rtol=1e-9, atol=1e-9)
    attrs = store.attrs
    card = load_card(variant.split("/")[0])
    assert attrs["provenance"] == "download"
    assert attrs["card_version"] == card.card_version
    ((file_name, data),) = fixture.files.items()
    assert attrs["source_sha256"] == {file_name: sha(data)}
    # cards here pin no hashes: the first download records one and warns
    assert load_pins(tmp_path) == {f"{card.name}/{file_name}": sha(data)}
    assert any("not pinned" in w for w in warnings_seen)
    if fixture.subsets is not None:
        assert list(store.subsets) == fixture.subsets
    if fixture.official_splits is not None:
        assert attrs["official_splits"] == fixture.official_splits
    # the scratch extraction directory is gone
    assert not list((tmp_path / "downloads").glob(".extract-*"))


def test_kcal_per_mol_factor_is_nequip_value():
    assert KCAL == load_card("rmd17").units.energy_to_ev == 0.0433641


# -- no-op, force, pins ----------------------------------------------------------------------


def test_second_download_is_a_no_op(tmp_path):
    fixture = ALL_FIXTURES["water"]()
    with LoopbackServer(fixture.files) as server:
        download_variant("water", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
        before = store_path("water", tmp_path).stat().st_mtime_ns
        n_requests = len(server.log)
        outcome = download_variant("water", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
        assert outcome.skipped
        assert len(server.log) == n_requests  # nothing fetched
        assert store_path("water", tmp_path).stat().st_mtime_ns == before
        forced = download_variant(
            "water", root=tmp_path, mirror=server.url, force=True, progress=False, warn=lambda m: None
        )
        assert not forced.skipped and len(server.log) == n_requests + 1


def test_recorded_pin_catches_a_changed_file(tmp_path):
    """After a download converted and recorded its hash, a mirror serving other bytes is refused."""
    good = ALL_FIXTURES["lips"]().files["lips.xyz"]
    card = load_card("lips")
    file = card.file("lips.xyz")
    with LoopbackServer({"lips.xyz": good}) as server:
        download_variant("lips", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
        server.files["lips.xyz"] = b"tampered bytes\n"
        with pytest.raises(ChecksumError, match="sha256"):
            fetch_file(card, file, root=tmp_path, mirror=server.url, force=True, progress=False, warn=lambda m: None)
    dest = tmp_path / "downloads" / "lips.xyz"
    assert dest.read_bytes() == good  # the earlier good file is kept
    assert not dest.with_name("lips.xyz.part").exists()  # the partial file is deleted
    assert json.loads(pins_path(tmp_path).read_text()) == {"lips/lips.xyz": sha(good)}


def test_fetch_alone_records_no_pin(tmp_path):
    """A hash is recorded only once the file has converted: fetching alone pins nothing."""
    card = load_card("lips")
    with LoopbackServer({"lips.xyz": b"not converted yet\n"}) as server:
        result = fetch_file(card, card.file("lips.xyz"), root=tmp_path, mirror=server.url, progress=False)
    assert result.downloaded and not result.pinned
    assert load_pins(tmp_path) == {}


def test_card_pinned_checksum_mismatch_deletes_part(tmp_path):
    card = load_card("cu-formate")
    good = b"official file\n"
    file = card.file("fcu.xyz").model_copy(update={"sha256": sha(good)})
    with LoopbackServer({"fcu.xyz": b"corrupt file\n"}) as server:
        with pytest.raises(ChecksumError) as info:
            fetch_file(card, file, root=tmp_path, mirror=server.url, progress=False)
    assert "expected " + sha(good) in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "downloads" / "fcu.xyz.part").exists()
    assert not (tmp_path / "downloads" / "fcu.xyz").exists()
    assert load_pins(tmp_path) == {}  # a card pin is never overwritten by pins.json


def test_card_size_mismatch_is_a_checksum_error(tmp_path):
    card = load_card("water")
    file = card.file("dataset_1593_eVAng.xyz").model_copy(update={"size": 5})
    with LoopbackServer({file.name: b"123456789"}) as server:
        with pytest.raises(ChecksumError, match="9 bytes, the card says 5"):
            fetch_file(card, file, root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)


# -- resume ----------------------------------------------------------------------------------


def test_interrupted_download_resumes_with_range(tmp_path):
    card = load_card("lips")
    data = bytes(range(256)) * 4096  # 1 MiB
    file = card.file("lips.xyz").model_copy(update={"sha256": sha(data)})
    with LoopbackServer({"lips.xyz": data}) as server:
        server.cut_after["lips.xyz"] = 300_000
        with pytest.raises(DownloadError, match="rerun the same command to resume"):
            fetch_file(card, file, root=tmp_path, mirror=server.url, progress=False)
        part = tmp_path / "downloads" / "lips.xyz.part"
        assert part.stat().st_size == 300_000
        result = fetch_file(card, file, root=tmp_path, mirror=server.url, progress=False)
        assert server.log[-1] == ("lips.xyz", "bytes=300000-", 206)
    assert result.resumed_from == 300_000 and result.downloaded and result.pinned
    assert (tmp_path / "downloads" / "lips.xyz").read_bytes() == data
    assert not part.exists()


def test_server_without_ranges_restarts_from_zero(tmp_path):
    card = load_card("lips")
    data = b"x" * 5000 + b"y" * 5000
    file = card.file("lips.xyz").model_copy(update={"sha256": sha(data)})
    downloads = tmp_path / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "lips.xyz.part").write_bytes(data[:4000])
    with LoopbackServer({"lips.xyz": data}, ranges=False) as server:
        result = fetch_file(card, file, root=tmp_path, mirror=server.url, progress=False)
        assert server.log[-1][2] == 200
    assert result.resumed_from == 0
    assert (downloads / "lips.xyz").read_bytes() == data


def test_complete_part_file_gets_416_and_restarts(tmp_path):
    card = load_card("lips")
    data = b"abc" * 1000
    file = card.file("lips.xyz").model_copy(update={"sha256": sha(data)})
    downloads = tmp_path / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "lips.xyz.part").write_bytes(data + b"junk")
    with LoopbackServer({"lips.xyz": data}) as server:
        fetch_file(card, file, root=tmp_path, mirror=server.url, progress=False)
        assert [entry[2] for entry in server.log] == [416, 200]
    assert (downloads / "lips.xyz").read_bytes() == data


# -- mirrors ---------------------------------------------------------------------------------


def test_mirror_directory(tmp_path):
    fixture = ALL_FIXTURES["rmd17/ethanol"]()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in fixture.files.items():
        (mirror / name).write_bytes(data)
    outcome = download_variant(
        "rmd17/ethanol", root=tmp_path / "root", mirror=str(mirror), progress=False, warn=lambda m: None
    )
    assert outcome.fetch is not None and outcome.fetch.source == str(mirror / "rmd17.tar.bz2")
    assert open_store("rmd17/ethanol", root=tmp_path / "root").n_frames == len(fixture.raw.energies)


def test_mirror_from_environment(tmp_path, monkeypatch):
    fixture = ALL_FIXTURES["cu-formate"]()
    with LoopbackServer(fixture.files) as server:
        monkeypatch.setenv(MIRROR_ENV, server.url)
        outcome = download_variant("cu-formate", root=tmp_path, progress=False, warn=lambda m: None)
        assert server.log and server.log[0][0] == "fcu.xyz"
    assert outcome.fetch is not None and outcome.fetch.source.startswith(server.url)


def test_mirror_missing_file_is_a_download_error(tmp_path):
    with pytest.raises(DownloadError, match="mirror has no file 'lips.xyz'"):
        download_variant("lips", root=tmp_path, mirror=str(tmp_path), progress=False)
    with LoopbackServer({}) as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            download_variant("lips", root=tmp_path, mirror=server.url, progress=False)


def test_mirror_that_is_not_a_directory(tmp_path):
    with pytest.raises(DownloadError, match="neither a directory nor"):
        download_variant("lips", root=tmp_path, mirror=str(tmp_path / "nope"), progress=False)


# -- bad archives ----------------------------------------------------------------------------


def test_truncated_archive_is_refused_and_forgotten(tmp_path):
    fixture = rmd17_fixture()
    data = fixture.files["rmd17.tar.bz2"]
    with LoopbackServer({"rmd17.tar.bz2": data[: len(data) // 2]}) as server:
        with pytest.raises(DownloadError, match="truncated or corrupt"):
            download_variant("rmd17/ethanol", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
    # the bad file and its recorded hash are gone, so the next run downloads again
    assert not (tmp_path / "downloads" / "rmd17.tar.bz2").exists()
    assert load_pins(tmp_path) == {}
    assert not store_path("rmd17/ethanol", tmp_path).exists()
    with LoopbackServer(fixture.files) as server:
        download_variant("rmd17/ethanol", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
    assert open_store("rmd17/ethanol", root=tmp_path).n_frames == 12


def test_truncated_zip(tmp_path):
    raw = molecule_frames("aspirin", 3)
    data = zip_bytes({"aspirin_ccsd-train.npz": md17_npz(raw), "aspirin_ccsd-test.npz": md17_npz(raw)})
    path = tmp_path / "aspirin_ccsd.zip"
    path.write_bytes(data[:-200])
    with pytest.raises(DownloadError, match="truncated or corrupt"):
        extract_archive(path, "zip", tmp_path / "out")


def _evil_tar(member: tarfile.TarInfo, data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        if member.type == tarfile.REGTYPE:
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name,kind,link",
    [
        ("../escape.txt", tarfile.REGTYPE, ""),
        ("rmd17/../../escape.txt", tarfile.REGTYPE, ""),
        ("/tmp/escape.txt", tarfile.REGTYPE, ""),
        ("rmd17/link", tarfile.SYMTYPE, "../../outside"),
        ("rmd17/abs", tarfile.SYMTYPE, "/etc/passwd"),
        ("rmd17/hard", tarfile.LNKTYPE, "../outside"),
    ],
)
def test_path_traversal_is_refused(tmp_path, name, kind, link):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    path = tmp_path / "rmd17.tar.bz2"
    path.write_bytes(_evil_tar(info))
    target = tmp_path / "a" / "b"
    with pytest.raises(DownloadError, match="unsafe member|leaving the target"):
        extract_archive(path, "tar.bz2", target)
    assert not (tmp_path / "a" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


def test_link_chain_cannot_escape(tmp_path):
    """A link that is harmless on its own cannot be used to write outside through it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        up = tarfile.TarInfo("sub/up")
        up.type, up.linkname = tarfile.SYMTYPE, ".."
        tar.addfile(up)
        up2 = tarfile.TarInfo("sub/up/up2")
        up2.type, up2.linkname = tarfile.SYMTYPE, ".."
        tar.addfile(up2)
        evil = tarfile.TarInfo("sub/up/up2/escape.txt")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    path = tmp_path / "x.tar"
    path.write_bytes(buffer.getvalue())
    target = tmp_path / "t" / "u"
    with pytest.raises(DownloadError):
        extract_archive(path, "tar", target)
    assert not (tmp_path / "t" / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()


def test_zip_traversal_is_refused(tmp_path):
    path = tmp_path / "bad.zip"
    path.write_bytes(zip_bytes({"../evil.npz": b"x"}))
    with pytest.raises(DownloadError, match="unsafe member"):
        extract_archive(path, "zip", tmp_path / "out")
    assert not (tmp_path / "evil.npz").exists()


def test_path_traversal_through_the_download_path(tmp_path):
    fixture = rmd17_fixture()
    bad = tar_bytes({"rmd17/npz_data/rmd17_ethanol.npz": b"x", "../../../evil.sh": b"echo"}, "w:bz2")
    with LoopbackServer({"rmd17.tar.bz2": bad}) as server:
        with pytest.raises(DownloadError, match="unsafe member"):
            download_variant("rmd17/ethanol", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
    assert not list(tmp_path.rglob("evil.sh"))
    assert fixture  # the good fixture is unaffected


def test_archive_missing_a_card_member(tmp_path):
    archive = tar_bytes({"rmd17/npz_data/rmd17_aspirin.npz": b"x"}, "w:bz2")
    with LoopbackServer({"rmd17.tar.bz2": archive}) as server:
        with pytest.raises(DownloadError, match="has no member 'rmd17/npz_data/rmd17_ethanol.npz'"):
            download_variant("rmd17/ethanol", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)


# -- conversion failures leave nothing behind ------------------------------------------------


def test_interrupted_conversion_leaves_no_store(tmp_path):
    raw = molecule_frames("aspirin", 6, seed=9)
    raw.forces[4] = raw.forces[4].copy()
    raw.forces[4][2, 1] = np.nan  # a malformed frame late in the file
    with LoopbackServer({"aspirin_dft.npz": md17_npz(raw)}) as server:
        with pytest.raises(DatasetError, match="frame 4") as info:
            download_variant("md17/aspirin", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
    assert "\n" not in str(info.value)
    stores = tmp_path / "stores"
    assert not store_path("md17/aspirin", tmp_path).exists()
    assert not [p for p in stores.rglob("*") if p.is_file()]  # no temporary store either
    with pytest.raises(DatasetError, match="mlip-bench download md17 --molecule aspirin"):
        open_store("md17/aspirin", root=tmp_path)


def test_official_split_index_out_of_range(tmp_path):
    raw = molecule_frames("ethanol", 5)
    from tests.data.fixture_archives import rmd17_npz

    members = {"rmd17/npz_data/rmd17_ethanol.npz": rmd17_npz(raw)}
    for k in range(1, 6):
        members[f"rmd17/splits/index_train_0{k}.csv"] = b"0\n1\n"
        members[f"rmd17/splits/index_test_0{k}.csv"] = b"2\n99\n"
    with LoopbackServer({"rmd17.tar.bz2": tar_bytes(members)}) as server:
        with pytest.raises(DatasetError, match="refers to frame 99 but the data has 5 frames"):
            download_variant("rmd17/ethanol", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
    assert not store_path("rmd17/ethanol", tmp_path).exists()


def test_unknown_dataset_and_molecule_list_valid_names(tmp_path):
    with pytest.raises(DatasetError, match="valid names: cu-formate, li3po4, lips, md17, rmd17, water"):
        download_variant("md18", root=tmp_path, progress=False)
    with pytest.raises(DatasetError, match="valid: aspirin, azobenzene, benzene"):
        download_variant("rmd17/caffeine", root=tmp_path, progress=False)


def test_ctrl_c_during_conversion_leaves_no_store(tmp_path, monkeypatch):
    import mlip_bench.data.convert as convert

    fixture = ALL_FIXTURES["water"]()
    real_read = convert.read_frames
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        for k, frame in enumerate(real_read(*args, **kwargs)):
            if calls["n"] == 2 and k == 3:  # second pass (the one that writes), mid-file
                raise KeyboardInterrupt
            yield frame

    monkeypatch.setattr(convert, "read_frames", interrupted)
    with LoopbackServer(fixture.files) as server:
        with pytest.raises(KeyboardInterrupt):
            download_variant("water", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
    assert not [p for p in (tmp_path / "stores").rglob("*") if p.is_file()]
    assert (tmp_path / "downloads" / "dataset_1593_eVAng.xyz").is_file()  # the verified download stays
    monkeypatch.setattr(convert, "read_frames", real_read)
    with LoopbackServer(fixture.files) as server:
        download_variant("water", root=tmp_path, mirror=server.url, progress=False, warn=lambda m: None)
        assert server.log == []  # the verified file was reused, not fetched again
    assert open_store("water", root=tmp_path).n_frames == len(fixture.raw.energies)


def test_corrupted_local_copy_is_fetched_again(tmp_path):
    card = load_card("lips")
    data = b"the real file\n"
    file = card.file("lips.xyz").model_copy(update={"sha256": sha(data)})
    downloads = tmp_path / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "lips.xyz").write_bytes(b"bit rot\n")
    seen: list[str] = []
    with LoopbackServer({"lips.xyz": data}) as server:
        result = fetch_file(card, file, root=tmp_path, mirror=server.url, progress=False, warn=seen.append)
    assert result.downloaded and (downloads / "lips.xyz").read_bytes() == data
    assert any("downloading it again" in w for w in seen)
