"""`mlip-bench download`, `datasets list`, `datasets info` through the CLI entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))

from fixture_archives import ALL_FIXTURES, sgdml_fixture  # noqa: E402
from loopback_server import LoopbackServer  # noqa: E402

from mlip_bench.cli import main  # noqa: E402


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")


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
    for expected in ("frames", "12", "H C O", "atoms per frame", "eV/Å", "PBE/def2-SVP", "download",
                     "official_01", "official_05", "duplicates", "0 groups"):
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

    from fixture_archives import RawFrames, md17_npz

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
        (["download", "md17"], 3, "needs a molecule"),
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
    frames = [Frame(positions=rng.normal(size=(3, 3)) * 2, numbers=np.array([8, 1, 1]), energy=-10.0 - i,
                    forces=rng.normal(size=(3, 3)), cell=np.eye(3) * 9, pbc=np.ones(3, bool)) for i in range(4)]
    write_store(store_path("water", tmp_path), frames, {"name": "water", "provenance": "imported-subset"})
    fixture = ALL_FIXTURES["water"]()
    with LoopbackServer(fixture.files) as server:
        assert main(["download", "water", "--root", str(tmp_path), "--mirror", server.url]) == 0
        out, _ = capsys.readouterr()
        assert "imported-subset" in out and "--force" in out and server.log == []
        assert main(["download", "water", "--force", "--root", str(tmp_path), "--mirror", server.url]) == 0
    store = open_store("water", root=tmp_path)
    assert store.attrs["provenance"] == "download" and store.n_frames == len(fixture.raw.energies)
