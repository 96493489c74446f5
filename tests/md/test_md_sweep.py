"""Issue 14: `mlip-bench md --sweep SWEEPFILE` runs the MD benchmark of every complete run of a
learning curve, skips finished MD records, and the leaderboard then shows them."""

from __future__ import annotations

import shutil

import pytest

import mlip_bench.models.registry as registry
from mlip_bench import testing
from mlip_bench.cli import main
from mlip_bench.leaderboard.build import build_site


@pytest.fixture
def sweep_setup(trained, tmp_path, monkeypatch):
    root, results, rid = trained
    mine = tmp_path / "results"
    shutil.copytree(results, mine)
    folder = tmp_path / "models"
    testing.install_toy_model(folder)
    monkeypatch.setattr(registry, "BASELINES_DIR", folder)
    sweep = tmp_path / "toy-sweep.yaml"
    sweep.write_text(
        "name: toy-md\n"
        "models: [pairmlp]\n"
        "datasets: [toy]\n"
        "n_train: [20, 30]\n"  # 20 was never trained: reported, not run
        "seeds: [0]\n"
        "protocol: smoke\n"
        "overrides: {max_steps: 30}\n"
        f"out: {mine}\n"
    )
    return root, mine, rid, sweep


def _md(sweep, root, *extra):
    return main(
        ["md", "--sweep", str(sweep), "--steps", "10", "--replicas", "1", "--root", str(root), "--threads", "1", *extra]
    )


def test_md_sweep_runs_every_complete_run_once(sweep_setup, capsys, tmp_path):
    root, results, rid, sweep = sweep_setup
    assert _md(sweep, root) == 0
    text = capsys.readouterr().out
    assert "not trained" in text and f"done {rid}" in " ".join(text.split())
    (record,) = (results / "md").glob("*.json")
    assert record.name.startswith(rid + "__md-nvt-500K-0.5fs-10steps-r1-s0")
    stamp = record.stat().st_mtime_ns
    assert _md(sweep, root) == 0  # finished MD records are skipped, not rerun
    text = capsys.readouterr().out
    assert "1 skipped" in text and "done" not in text.split("md --sweep")[0]
    assert record.stat().st_mtime_ns == stamp
    # the leaderboard finds them in <results>/md/
    site = tmp_path / "site"
    build_site([results], site, static_figures=False)
    assert "MD stable" in (site / "index.html").read_text(encoding="utf-8")


def test_md_sweep_needs_target_or_sweep(sweep_setup, capsys):
    root, results, rid, sweep = sweep_setup
    assert main(["md", rid, "--sweep", str(sweep)]) == 2
    assert "either TARGET" in capsys.readouterr().err
    assert main(["md"]) == 2


def _with_md_block(sweep, block: str):
    sweep.write_text(sweep.read_text() + f"md: {block}\n")
    return sweep


def test_md_block_of_the_sweep_file_gives_defaults_and_the_command_line_wins(sweep_setup, capsys):
    root, results, rid, sweep = sweep_setup
    _with_md_block(sweep, "{temperature_k: 400, steps: 8, timestep_fs: 0.25, replicas: 1, seed: 3, ensemble: nvt}")
    base = ["md", "--sweep", str(sweep), "--root", str(root), "--threads", "1"]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "MD settings: NVT 400 K, 1 replica x 8 steps of 0.25 fs, seed 3" in " ".join(out.split())
    assert {p.name for p in (results / "md").glob("*.json")} == {f"{rid}__md-nvt-400K-0.25fs-8steps-r1-s3.json"}
    # a command-line option beats the file's value; the others still come from the file
    assert main([*base, "--steps", "6", "--temperature", "300"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "NVT 300 K, 1 replica x 6 steps of 0.25 fs, seed 3" in out
    assert "(ensemble, replicas, seed, timestep_fs from the file's md: block)" in out
    assert f"{rid}__md-nvt-300K-0.25fs-6steps-r1-s3.json" in {p.name for p in (results / "md").glob("*.json")}


def test_md_block_can_ask_for_compiled_forces_and_eager_on_the_command_line_wins(sweep_setup, monkeypatch):
    import json

    import torch

    from mlip_bench.results.md_schema import MDRecord

    root, results, rid, sweep = sweep_setup
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # the traced graph, without Inductor's minutes
    _with_md_block(sweep, "{steps: 6, replicas: 1, compile_forces: true}")
    base = ["md", "--sweep", str(sweep), "--root", str(root), "--threads", "1"]

    def evaluation() -> str:
        (path,) = (results / "md").glob("*.json")
        record = MDRecord.model_validate(json.loads(path.read_text()))
        path.unlink()
        return record.speed.force_evaluation

    assert main(base) == 0 and evaluation() == "compiled"
    assert main([*base, "--eager"]) == 0 and evaluation() == "eager"  # the same MD id, run again eagerly


def test_sweep_file_without_md_block_keeps_the_command_defaults(sweep_setup, capsys):
    root, results, rid, sweep = sweep_setup
    assert _md(sweep, root) == 0
    assert "MD settings: NVT 500 K, 1 replica x 10 steps of 0.5 fs, seed 0" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("block", "field"),
    [("{steps: 0}", "md.steps"), ("{ensemble: npt}", "md.ensemble"), ("{temprature_k: 500}", "md.temprature_k")],
)
def test_bad_md_block_is_one_line_and_exit_2(sweep_setup, capsys, block, field):
    root, results, rid, sweep = sweep_setup
    _with_md_block(sweep, block)
    assert main(["md", "--sweep", str(sweep), "--root", str(root), "--steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert str(sweep) in err and f"field '{field}'" in err
    assert not (results / "md").exists() or not list((results / "md").glob("*.json"))


def test_md_sweep_filters_choose_the_runs(sweep_setup, capsys):
    root, results, rid, sweep = sweep_setup
    assert _md(sweep, root, "--n-train", "20") == 0  # only the untrained size: nothing runs
    out = capsys.readouterr().out
    assert "1 not trained" in out and rid not in out
    assert not (results / "md").exists() or not list((results / "md").glob("*.json"))
    assert _md(sweep, root, "--n-train", "30", "--seeds", "0", "--model", "pairmlp") == 0
    assert f"done {rid}" in " ".join(capsys.readouterr().out.split())
    assert len(list((results / "md").glob("*.json"))) == 1


def test_md_filters_are_one_line_errors(sweep_setup, capsys):
    root, results, rid, sweep = sweep_setup
    assert _md(sweep, root, "--seeds", "7") == 2  # matches no cell
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no cell of the sweep matches" in err
    assert _md(sweep, root, "--n-train", "a,b") == 2
    assert "--n-train 'a,b'" in capsys.readouterr().err
    assert main(["md", rid, "--seeds", "1"]) == 2  # filters without --sweep
    assert "use them with --sweep" in capsys.readouterr().err


def test_protocol_option_finds_runs_a_sweep_trained_under_another_protocol(sweep_setup, capsys):
    """`sweep --protocol plateau` trains runs whose ids name plateau; `md --sweep --protocol plateau`
    finds them, and without it the untrained cell says which protocol has a record."""
    root, results, rid, sweep = sweep_setup
    sweep.write_text(sweep.read_text().replace("protocol: smoke", "protocol: cpu"))
    assert _md(sweep, root, "--n-train", "30") == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "1 not trained" in out and "pass --protocol smoke" in out
    assert not (results / "md").exists() or not list((results / "md").glob("*.json"))
    assert _md(sweep, root, "--n-train", "30", "--protocol", "smoke") == 0
    assert f"done {rid}" in " ".join(capsys.readouterr().out.split())
    assert main(["md", rid, "--protocol", "smoke"]) == 2  # only with --sweep
    assert "use them with --sweep" in capsys.readouterr().err
