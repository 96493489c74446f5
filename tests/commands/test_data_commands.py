"""`mlip-bench download`, `datasets list`, `datasets info` through the CLI entry point."""

from __future__ import annotations

import pytest

from mlip_bench.cli import main
from tests.data.fixture_archives import (
    ALL_FIXTURES,
    MOLECULES,
    md17_dataset_files,
    rmd17_fixture,
    sgdml_fixture,
    use_miniature_cards,
)
from tests.data.loopback_server import LoopbackServer


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture(autouse=True)
def miniature_cards(monkeypatch, tmp_path_factory):
    """The download fixtures are small stand-ins: cards without pins and frame counts."""
    use_miniature_cards(monkeypatch, tmp_path_factory.mktemp("cards"))


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_download_then_info_then_no_op(tmp_path, capsys):
    fixture = ALL_FIXTURES["rmd17/ethanol"]()
    with LoopbackServer(fixture.files) as server:
        code = main(["download", "rmd17", "--molecule", "ethanol", "--root", str(tmp_path), "--mirror", server.url])
        out, err = capsys.readouterr()
        assert code == 0
        assert "rmd17/ethanol: 12 frames written" in out
        assert "not pinned" in err  # the cards pin no hashes yet: the first download warns
        requests = len(server.log)
        code = main(["download", "rmd17/ethanol", "--root", str(tmp_path), "--mirror", server.url])
        out, _ = capsys.readouterr()
        assert code == 0 and "nothing to do" in out and len(server.log) == requests
    assert main(["datasets", "info", "rmd17/ethanol", "--root", str(tmp_path)]) == 0
    out, _ = capsys.readouterr()
    for expected in (
        "frames",
        "12",
        "H C O",
        "atoms per frame",
        "eV/Å",
        "PBE/def2-SVP",
        "download",
        "official_01",
        "official_05",
        "duplicates",
        "0 groups",
    ):
        assert expected in out, expected
    assert main(["datasets", "list", "--root", str(tmp_path)]) == 0
    out, _ = capsys.readouterr()
    assert "rmd17/ethanol" in out and "10 molecules" in out and "unverified" in out


def test_info_reports_subsets_and_cross_subset_duplicates(tmp_path, capsys):
    fixture = sgdml_fixture(n_train=5, n_test=3)
    # make the first test frame a copy of a training frame, as in the shared MD17 subsets
    import io
    import zipfile

    import numpy as np

    from tests.data.fixture_archives import RawFrames, md17_npz

    raw = fixture.raw
    raw.positions[5] = raw.positions[1].copy()
    train = RawFrames(raw.numbers[:5], raw.positions[:5], raw.energies[:5], raw.forces[:5], raw.cells[:5])
    test = RawFrames(raw.numbers[5:], raw.positions[5:], raw.energies[5:], raw.forces[5:], raw.cells[5:])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("aspirin_ccsd-train.npz", md17_npz(train))
        zf.writestr("aspirin_ccsd-test.npz", md17_npz(test))
    with LoopbackServer({"aspirin_ccsd.zip": buffer.getvalue()}) as server:
        assert main(["download", "md17/aspirin_ccsd", "--root", str(tmp_path), "--mirror", server.url]) == 0
    capsys.readouterr()
    assert main(["datasets", "info", "md17", "--molecule", "aspirin_ccsd", "--root", str(tmp_path)]) == 0
    out, _ = capsys.readouterr()
    assert "test 3, train 5" in out
    assert "1 groups, 1 redundant frames; across subsets: test/train 1" in out
    assert "CCSD" in out and np.isfinite(raw.energies[0])


def test_info_without_store_says_what_to_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MLIP_BENCH_ROOT", str(tmp_path))
    assert main(["datasets", "info", "lips"]) == 0
    out, _ = capsys.readouterr()
    assert "mlip-bench download lips" in out and "n_val 100" in out and "10, 100, 1000, 2500" in out
    assert main(["datasets", "info", "md17"]) == 0
    out, _ = capsys.readouterr()
    assert "salicylic_acid" in out and "aspirin_ccsd" in out


@pytest.mark.parametrize(
    "argv,code,message",
    [
        (["download", "md18"], 3, "unknown dataset 'md18'; valid names: cu-formate, li3po4, lips, md17, rmd17, water"),
        (["download", "rmd17", "--molecule", "caffeine"], 3, "valid: aspirin, azobenzene, benzene, ethanol"),
        (["download", "md17/aspirin", "--all"], 2, "--all downloads every variant"),
        (["datasets", "info", "water", "--molecule", "ice"], 3, "has no molecules"),
        (["datasets", "info", "nope"], 3, "unknown dataset 'nope'"),
    ],
)
def test_bad_names_give_one_line_and_exit_code(tmp_path, capsys, argv, code, message):
    assert main([*argv, "--root", str(tmp_path)]) == code
    _, err = capsys.readouterr()
    assert message in _one_error_line(err)


def test_checksum_mismatch_through_the_cli(tmp_path, capsys):
    fixture = ALL_FIXTURES["lips"]()
    with LoopbackServer(fixture.files) as server:
        assert main(["download", "lips", "--root", str(tmp_path), "--mirror", server.url]) == 0
        server.files["lips.xyz"] = fixture.files["lips.xyz"] + b"\n"
        capsys.readouterr()
        assert main(["download", "lips", "--force", "--root", str(tmp_path), "--mirror", server.url]) == 5
    _, err = capsys.readouterr()
    line = _one_error_line(err)
    assert "sha256" in line and "earlier good lips.xyz was kept" in line
    assert (tmp_path / "downloads" / "lips.xyz").read_bytes() == fixture.files["lips.xyz"]
    assert main(["datasets", "info", "lips", "--root", str(tmp_path)]) == 0  # the store is intact


def test_truncated_archive_and_offline_errors(tmp_path, capsys):
    data = ALL_FIXTURES["rmd17/ethanol"]().files["rmd17.tar.bz2"]
    with LoopbackServer({"rmd17.tar.bz2": data[:1000]}) as server:
        assert main(["download", "rmd17/ethanol", "--root", str(tmp_path), "--mirror", server.url]) == 4
    _, err = capsys.readouterr()
    assert "truncated or corrupt" in _one_error_line(err)
    assert main(["download", "lips", "--root", str(tmp_path), "--mirror", str(tmp_path / "empty-dir-missing")]) == 4
    _, err = capsys.readouterr()
    assert "neither a directory nor" in _one_error_line(err)


def test_download_leaves_an_imported_subset_alone_unless_forced(tmp_path, capsys):
    import numpy as np

    from mlip_bench.data.catalog import open_store, store_path
    from mlip_bench.data.frame import Frame
    from mlip_bench.data.store import write_store

    rng = np.random.default_rng(1)
    frames = [
        Frame(
            positions=rng.normal(size=(3, 3)) * 2,
            numbers=np.array([8, 1, 1]),
            energy=-10.0 - i,
            forces=rng.normal(size=(3, 3)),
            cell=np.eye(3) * 9,
            pbc=np.ones(3, bool),
        )
        for i in range(4)
    ]
    write_store(store_path("water", tmp_path), frames, {"name": "water", "provenance": "imported-subset"})
    fixture = ALL_FIXTURES["water"]()
    with LoopbackServer(fixture.files) as server:
        assert main(["download", "water", "--root", str(tmp_path), "--mirror", server.url]) == 0
        out, _ = capsys.readouterr()
        assert "imported-subset" in out and "--force" in out and server.log == []
        assert main(["download", "water", "--force", "--root", str(tmp_path), "--mirror", server.url]) == 0
    store = open_store("water", root=tmp_path)
    assert store.attrs["provenance"] == "download" and store.n_frames == len(fixture.raw.energies)


# -- `download NAME` for a dataset with variants ---------------------------------------------------

MD17_MAIN = ["aspirin", "benzene", "ethanol", "malonaldehyde", "naphthalene", "salicylic_acid", "toluene", "uracil"]
MD17_CCSD = ["aspirin_ccsd", "benzene_ccsd_t", "ethanol_ccsd_t", "malonaldehyde_ccsd_t", "toluene_ccsd_t"]


def _stores(root, name):
    return sorted(p.stem for p in (root / "stores" / name).glob("*.h5"))


def test_download_md17_fetches_the_eight_dft_molecules(tmp_path, capsys):
    from mlip_bench.data.catalog import open_store

    files = md17_dataset_files(n_frames=4, ccsd=True)
    with LoopbackServer(files) as server:
        assert main(["download", "md17", "--root", str(tmp_path), "--mirror", server.url]) == 0
        out, _ = capsys.readouterr()
        assert _stores(tmp_path, "md17") == sorted(MD17_MAIN)
        assert sorted(name for name, _, _ in server.log) == sorted(n for n in files if n.endswith("_dft.npz"))
        for k, molecule in enumerate(MD17_MAIN):  # the k-th file holds 4 + k frames
            assert f"md17/{molecule}: {4 + k} frames written" in out
            with open_store(f"md17/{molecule}", root=tmp_path) as store:
                assert store.n_frames == 4 + k and store.attrs["provenance"] == "download"
        summary = out[out.index("md17: 8 of 8 variants local under") :]
        assert f"{tmp_path / 'stores' / 'md17'}" in summary
        assert all(f"{m} " in summary for m in MD17_MAIN) and summary.count("downloaded now") == 8
        assert "not asked for: aspirin_ccsd, benzene_ccsd_t" in summary and "--all" in summary

        # a rerun fetches nothing; --all adds the five CCSD sets and leaves the DFT stores alone
        requests = len(server.log)
        assert main(["download", "md17", "--root", str(tmp_path), "--mirror", server.url]) == 0
        out, _ = capsys.readouterr()
        assert len(server.log) == requests and out.count("already local") == 8
        assert main(["download", "md17", "--all", "--root", str(tmp_path), "--mirror", server.url]) == 0
        out, _ = capsys.readouterr()
        assert len(server.log) == requests + 5
        assert _stores(tmp_path, "md17") == sorted(MD17_MAIN + MD17_CCSD)
        assert "md17: 13 of 13 variants local" in out and out.count("downloaded now") == 5
        assert "not asked for" not in out
    with open_store("md17/ethanol_ccsd_t", root=tmp_path) as store:
        assert list(store.subsets) == ["train"] * 3 + ["test"] * 2


def test_download_rmd17_extracts_the_one_archive_once_for_all_ten_molecules(tmp_path, capsys):
    fixture = rmd17_fixture(n_frames=10, molecules=tuple(MOLECULES))
    with LoopbackServer(fixture.files) as server:
        assert main(["download", "rmd17", "--root", str(tmp_path), "--mirror", server.url]) == 0
        assert [name for name, _, _ in server.log] == ["rmd17.tar.bz2"]
    out, _ = capsys.readouterr()
    molecules = [
        "aspirin",
        "azobenzene",
        "benzene",
        "ethanol",
        "malonaldehyde",
        "naphthalene",
        "paracetamol",
        "salicylic_acid",
        "toluene",
        "uracil",
    ]
    assert _stores(tmp_path, "rmd17") == molecules
    assert "rmd17: 10 of 10 variants local" in out and out.count("downloaded now") == 10
    assert not list((tmp_path / "downloads").glob(".extract-*"))
    from mlip_bench.data.catalog import open_store

    with open_store("rmd17/paracetamol", root=tmp_path) as store:
        assert store.n_frames == 10 and sorted(store.attrs["official_splits"]) == [
            f"official_0{k}" for k in range(1, 6)
        ]


@pytest.mark.parametrize("args", [["md17", "--molecule", "uracil"], ["md17/uracil"], ["MD17/Uracil"]])
def test_a_molecule_still_narrows_the_download(args, tmp_path, capsys):
    with LoopbackServer(md17_dataset_files(n_frames=3)) as server:
        assert main(["download", *args, "--root", str(tmp_path), "--mirror", server.url]) == 0
        assert [name for name, _, _ in server.log] == ["uracil_dft.npz"]
    assert _stores(tmp_path, "md17") == ["uracil"]
    out, _ = capsys.readouterr()
    assert "md17/uracil: 10 frames written" in out and "variants local" not in out


def test_a_missing_file_does_not_stop_the_others(tmp_path, capsys):
    files = md17_dataset_files(n_frames=3)
    del files["naphthalene_dft.npz"]
    with LoopbackServer(files) as server:
        assert main(["download", "md17", "--root", str(tmp_path), "--mirror", server.url]) == 4
    out, err = capsys.readouterr()
    assert _stores(tmp_path, "md17") == sorted(set(MD17_MAIN) - {"naphthalene"})
    assert "md17: 7 of 8 variants local" in out and "naphthalene" in out and "failed" in out
    line = _one_error_line(err)
    assert line.startswith("error: md17/naphthalene: could not download naphthalene_dft.npz") and "HTTP 404" in line


def test_unreachable_source_is_one_line_naming_the_url_and_mirror(tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    assert main(["download", "md17", "--root", str(tmp_path), "--mirror", url]) == 4
    out, err = capsys.readouterr()
    line = _one_error_line(err)
    assert f"{url}aspirin_dft.npz: cannot connect" in line and "--mirror" in line
    assert "7 more not downloaded: benzene" in line
    assert out == "" and not (tmp_path / "stores").exists()
