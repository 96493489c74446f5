"""`mlip-bench md` end to end on a tiny trained model, and its one-line errors."""

from __future__ import annotations

import json

from mlip_bench.cli import main
from mlip_bench.results.md_schema import MDRecord


def test_md_command_writes_a_record_and_a_figure(trained, checkpoint, tmp_path, capsys):
    root, results, rid = trained
    out = tmp_path / "md"
    args = [
        "md",
        str(checkpoint),
        "--steps",
        "12",
        "--replicas",
        "2",
        "--temperature",
        "300",
        "--seed",
        "1",
        "--timestep",
        "0.5",
        "--ensemble",
        "nvt",
        "--out",
        str(out),
        "--root",
        str(root),
        "--threads",
        "1",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "stable" in text and "steps/s" in text and "record:" in text
    (path,) = out.glob("*.json")
    record = MDRecord.model_validate(json.loads(path.read_text()))
    assert record.run.run_id == rid and record.settings.seed == 1 and record.settings.steps == 12
    assert (out / record.observables.figures[0]).is_file()
    assert record.command.startswith("mlip-bench")


def test_md_command_compile_flag_evaluates_forces_through_the_compiled_graph(trained, tmp_path, capsys, monkeypatch):
    import torch

    root, results, rid = trained
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # the traced graph, without Inductor's minutes
    args = ["md", rid, "--results", str(results), "--root", str(root), "--steps", "8", "--replicas", "1"]
    assert main([*args, "--compile", "--out", str(tmp_path), "--threads", "1"]) == 0
    assert "compiled forces" in capsys.readouterr().out
    (path,) = tmp_path.glob("*.json")
    assert MDRecord.model_validate(json.loads(path.read_text())).speed.force_evaluation == "compiled"


def test_md_command_errors_are_one_line(trained, tmp_path, capsys):
    root, results, rid = trained
    assert main(["md", "nosuch-run", "--results", str(results), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: nosuch-run: neither a checkpoint")
    assert (
        main(["md", rid, "--results", str(results), "--root", str(root), "--dataset", "toybox", "--out", str(tmp_path)])
        == 6
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "species mismatch" in err[0]
    assert main(["md", rid, "--results", str(results), "--ensemble", "npt", "--out", str(tmp_path)]) == 2
    assert "use nvt or nve" in capsys.readouterr().err
