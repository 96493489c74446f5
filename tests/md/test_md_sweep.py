"""Issue 14: `mlip-bench md --sweep SWEEPFILE` runs the MD benchmark of every complete run of a
learning curve, skips finished MD records, and the leaderboard then shows them."""

from __future__ import annotations

import shutil

import pytest

import mlip_bench.models.registry as registry
from mlip_bench.cli import main
from mlip_bench.leaderboard.build import build_site
from tests.train import toy_model


@pytest.fixture
def sweep_setup(trained, tmp_path, monkeypatch):
    root, results, rid = trained
    mine = tmp_path / "results"
    shutil.copytree(results, mine)
    folder = tmp_path / "models"
    toy_model.install_model(folder)
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
