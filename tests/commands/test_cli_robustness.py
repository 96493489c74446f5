"""Issue 11 through the CLI: every misuse or damaged file is one `error:` line with its exit code
(items 5, 6, 8 and 9): broken .npz imports, bad model YAML, devices, negative seeds, long names,
rich markup in names, edited stores, flipped checkpoints, stale records after a re-import, the
per-run lock, sweep names, piped tables."""

from __future__ import annotations

import io
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from mlip_bench import testing
from mlip_bench.cli import main
from mlip_bench.data.catalog import store_path


def one_error(err: str, *words: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("warning:", "Usage:"))]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "unexpected" not in lines[0], err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    import mlip_bench.models.registry as registry

    torch.set_num_threads(1)
    testing.register_toy_network()
    monkeypatch.setenv("COLUMNS", "250")
    folder = tmp_path / "baselines"
    testing.install_toy_model(folder)
    monkeypatch.setattr(registry, "BASELINES_DIR", folder)
    root = tmp_path / "data"
    testing.write_toy_store(root)
    return root, tmp_path / "out"


def _run(root: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "run",
            "pairmlp",
            "--dataset",
            "toy",
            "--root",
            str(root),
            "--out",
            str(out),
            "--n-train",
            "10",
            "--protocol",
            "smoke",
            "--set",
            "max_steps=4",
            *extra,
        ]
    )


# -- item 5: uncaught exceptions --------------------------------------------------------------------


def _npz(n: int = 3) -> bytes:
    frames = testing.morse_frames(n)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        R=np.array([f.positions for f in frames]),
        z=frames[0].numbers,
        E=np.array([[f.energy] for f in frames]),
        F=np.array([f.forces for f in frames]),
    )
    return buffer.getvalue()


@pytest.mark.parametrize("content", [b"", _npz()[:300]], ids=["empty", "truncated"])
def test_import_of_a_broken_npz_names_the_file(tmp_path, capsys, content):
    path = tmp_path / "empty.npz"
    path.write_bytes(content)
    code = main(["import", str(path), "--as", "mine", "--root", str(tmp_path / "data")])
    assert code == 3
    one_error(capsys.readouterr().err, str(path))


@pytest.mark.parametrize(
    "text,words",
    [
        ("- a\n- b\n", "must be a YAML mapping"),
        ("name: x\nmodel: pairmlp\nr_max: 4.0\nhyperparameters: [1, 2]\n", "'hyperparameters' must be a mapping"),
    ],
    ids=["list", "hyperparameters-list"],
)
def test_model_yaml_that_is_not_a_mapping(setup, tmp_path, capsys, text, words):
    root, out = setup
    path = tmp_path / "model.yaml"
    path.write_text(text)
    assert main(["run", str(path), "--dataset", "toy", "--root", str(root), "--out", str(out), "--n-train", "10"]) == 2
    one_error(capsys.readouterr().err, words)


@pytest.mark.parametrize("device", ["tpu", "cuda"])
def test_unusable_devices(setup, capsys, device):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this torch has a GPU")
    root, out = setup
    assert _run(root, out, "--device", device) == 2
    one_error(capsys.readouterr().err, f"--device {device}", "cpu")
    assert not (out / "records").exists()


def test_negative_seed_is_a_usage_error(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "best_model.pt"), "--seed", "-1"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_250_character_dataset_name(tmp_path, capsys):
    assert main(["datasets", "info", "x" * 250, "--root", str(tmp_path)]) == 3
    one_error(capsys.readouterr().err, "characters long")
    assert main(["run", "schnet", "--dataset", "y" * 250, "--root", str(tmp_path)]) == 3
    one_error(capsys.readouterr().err, "characters long")


def test_r_max_out_of_range_is_refused_at_validation(setup, capsys):
    root, out = setup
    assert _run(root, out, "--set", "model.r_max=1e6") == 2
    one_error(capsys.readouterr().err, "r_max")


# -- a finished run, then damage -------------------------------------------------------------------


@pytest.fixture
def finished(setup, capsys):
    root, out = setup
    assert _run(root, out) == 0
    capsys.readouterr()
    (record,) = sorted((out / "records").glob("*.json"))
    return root, out, record


def test_results_list_prints_markup_in_names_literally(finished, capsys):
    _, out, record = finished
    data = json.loads(record.read_text())
    data["model"] = "pair[/]mlp[bold]x"
    record.write_text(json.dumps(data))
    assert main(["results", "list", "--out", str(out)]) == 0
    assert "pair[/]mlp[bold]x" in capsys.readouterr().out


def test_stale_record_after_a_reimport_is_refused_with_the_commands(finished, capsys):
    root, out, record = finished
    testing.write_toy_store(root, seed=7)  # `import --force` with other data
    assert _run(root, out) == 8
    line = one_error(capsys.readouterr().err, "is stale", f"rm {record}", "--out")
    assert "rm -rf" in line
    import shutil

    record.unlink()  # the two commands the message gives
    shutil.rmtree(out / "checkpoints" / record.stem)
    assert _run(root, out) == 0  # and it trains again
    assert json.loads(record.read_text())["dataset"]["store_sha256"] != ""


def test_unfinished_run_after_a_reimport_needs_one_command_not_two(finished, capsys):
    """Item 8, unfinished: a checkpoint from the old store is refused with the one `rm` that fixes it;
    no failed record is written, so that command alone lets the run train again."""
    root, out, record = finished
    record.unlink()  # a run killed before its record: only the checkpoint is left
    testing.write_toy_store(root, seed=7)  # `import --force` with other data
    last = out / "checkpoints" / record.stem / "last.pt"
    for _ in range(2):  # the second attempt gets the same message, not "failed earlier"
        assert _run(root, out) == 7
        line = one_error(capsys.readouterr().err, "other inputs", f"`rm {last}`")
        assert "failed earlier" not in line
        assert not record.exists()
    last.unlink()  # the command the message gives
    assert _run(root, out) == 0
    assert json.loads(record.read_text())["status"] == "complete"


def test_store_edited_in_place_is_refused_by_run_and_info_verify(finished, capsys):
    root, out, _ = finished
    assert main(["datasets", "info", "toy", "--root", str(root), "--verify"]) == 0
    assert "verified" in capsys.readouterr().out
    with h5py.File(store_path("toy", root), "r+") as h5:
        h5["forces"][...] = 3.0 * h5["forces"][...]
    assert main(["datasets", "info", "toy", "--root", str(root), "--verify"]) == 3
    one_error(capsys.readouterr().err, "content sha256")
    assert _run(root, out, "--seeds", "2") == 3  # seed 0 is finished; seed 1 must not train on it
    one_error(capsys.readouterr().err, "no longer match")


def test_datasets_info_on_corrupt_chunks_says_unchecked_and_verify_refuses(tmp_path, capsys, monkeypatch):
    """Item 6: plain `datasets info` no longer reads as a clean bill of health; --verify finds the chunk."""
    monkeypatch.setenv("COLUMNS", "250")
    root = tmp_path / "data"
    testing.write_toy_store(root, n=20)
    path = store_path("toy", root)
    with h5py.File(path, "r") as h5:
        offset = h5["forces"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as handle:
        handle.seek(offset + 8)
        handle.write(b"\xff" * 32)
    assert main(["datasets", "info", "toy", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "not checked here; --verify reads every chunk" in out
    assert main(["datasets", "info", "toy", "--root", str(root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["store"]["integrity"] == "not checked"
    assert main(["datasets", "info", "toy", "--root", str(root), "--verify"]) == 3
    one_error(capsys.readouterr().err, str(path), "forces", "corrupt")


def test_checkpoint_with_flipped_bytes_is_refused(finished, capsys):
    import zipfile

    _, out, record = finished
    checkpoint = out / "checkpoints" / record.stem / "best_model.pt"
    with zipfile.ZipFile(checkpoint) as zf:
        info = max(zf.infolist(), key=lambda i: i.file_size)
    data = bytearray(checkpoint.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 8
    for k in range(start, start + 64):
        data[k] ^= 0x5A
    checkpoint.write_bytes(bytes(data))
    assert main(["evaluate", str(checkpoint), "--root", str(out.parent / "data")]) == 7
    one_error(capsys.readouterr().err, "CRC-32")


# -- item 9 -------------------------------------------------------------------------------------------


def test_lock_refusal_message(setup, capsys, monkeypatch):
    import mlip_bench.results.run_lock as locks

    root, out = setup
    from mlip_bench.train.harness import cell_run_id

    rid = cell_run_id("pairmlp", "toy", 10, 0, "smoke", {"max_steps": 4})
    import fcntl
    import os

    path = locks.lock_path(out, rid)
    path.parent.mkdir(parents=True)
    other = os.open(path, os.O_RDWR | os.O_CREAT)  # another open file description: flock conflicts
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert _run(root, out) == 8
        err = capsys.readouterr().err
        one_error(err, "already running", "another --out")
        assert "overwrite" not in err and not (out / "records").exists()
    finally:
        os.close(other)
    assert _run(root, out) == 0  # released with its holder: the run goes ahead


def test_sweep_name_that_leaves_runs_is_refused(tmp_path, capsys):
    from tests.sweep.sweep_files_for_tests import write_sweep

    path = write_sweep(tmp_path / "s.yaml", name="../../x")
    assert main(["sweep", str(path), "--dry-run"]) == 2
    one_error(capsys.readouterr().err, "sweep name")
    assert not (tmp_path.parent / "x").exists()


def test_datasets_list_skips_non_hdf5_files_and_does_not_wrap_when_piped(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    stores = tmp_path / "stores"
    stores.mkdir()
    (stores / "notes.h5").write_text("not a store\n")
    testing.write_toy_store(tmp_path, name="a-rather-long-imported-dataset-name", n=3)
    assert main(["datasets", "list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "notes" not in out
    rows = [line for line in out.splitlines() if "cu-formate" in line]
    assert rows and "periodic" in rows[0]  # one line per dataset: `| grep cu-formate` finds the row
    assert any("a-rather-long-imported-dataset-name" in line for line in out.splitlines())


def test_datasets_info_markup_in_names_is_literal(tmp_path, capsys):
    from mlip_bench.data.store import write_store

    path = store_path("toy", tmp_path)
    path.parent.mkdir(parents=True)
    write_store(
        path,
        testing.morse_frames(3),
        {"name": "toy", "provenance": "imported", "source_sha256": {"we[bold]ird[red].xyz": "abc"}},
    )
    assert main(["datasets", "info", "toy", "--root", str(tmp_path)]) == 0
    assert "we[bold]ird[red].xyz" in capsys.readouterr().out
