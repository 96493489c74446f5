"""Coverage of the planned curves: every planned cell is named certified, still improving, failed or
not run, on the site and in the summary REPLICATION.md quotes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mlip_bench.errors import ConfigError
from mlip_bench.leaderboard.build import build_site
from mlip_bench.leaderboard.coverage import CurvePlan, coverage_markdown, load_plan, plan_coverage
from mlip_bench.paths import CARDS_DIR, MODEL_CONFIGS_DIR
from mlip_bench.results.io import write_record
from tests.leaderboard.leaderboard_records import REPO, make_record

PLAN_TEXT = """\
title: Planned curves
source: a test
curves:
  - dataset: md17/aspirin
    models: [nequip-l1, schnet]
    n_train: [150, 50]
    seeds: [0, 1, 2]
    protocol: plateau
    why_missing: "too <b>costly</b> on 2 cores"
"""


def _records():
    return [
        make_record("nequip-l1", 50, 0, protocol="plateau"),
        make_record("nequip-l1", 50, 1, protocol="plateau+a375e06c"),  # a hashed override still counts
        make_record("nequip-l1", 50, 2, protocol="plateau", certified=False),
        make_record("nequip-l1", 150, 0, protocol="plateau", status="failed", error="loss is NaN"),
        make_record("nequip-l1", 150, 1, protocol="short"),  # another protocol is not this plan's cell
        make_record("schnet", 50, 0, protocol="plateau", dataset="md17/ethanol"),  # another dataset
    ]


def _plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN_TEXT)
    return path


def test_every_planned_cell_gets_its_state(tmp_path):
    cov = plan_coverage(load_plan(_plan(tmp_path)), _records())
    l1, schnet = cov.rows
    assert (l1.model, schnet.model) == ("nequip-l1", "schnet")
    at50, at150 = l1.cells  # sizes sorted
    assert at50.n_train == 50 and at50.states == {0: "certified", 1: "certified", 2: "still improving"}
    assert at50.text() == "2/3 (1 still improving)" and at50.status == "partial"
    assert at150.states == {0: "failed", 1: "not run", 2: "not run"}
    assert at150.text() == "0/3 (1 failed, 2 not run)" and at150.missing_seeds() == [0, 1, 2]
    assert all(c.text() == "0/3 (3 not run)" for c in schnet.cells)
    assert (cov.n_certified, cov.n_planned) == (2, 12)
    assert (cov.count("still improving"), cov.count("failed"), cov.count("not run")) == (1, 1, 8)


def test_markdown_names_the_reason_only_where_cells_are_missing(tmp_path):
    plan = CurvePlan.model_validate(
        {"curves": [{"dataset": "md17/aspirin", "models": ["nequip-l1"], "n_train": [50], "seeds": [0, 1],
                     "protocol": "plateau", "why_missing": "budget"}]}
    )  # fmt: skip
    full = [make_record("nequip-l1", 50, s, protocol="plateau") for s in (0, 1)]
    text = coverage_markdown(plan_coverage(plan, full))
    assert text.startswith("2 of 2 planned points certified (100 %)")
    assert "| nequip-l1 [plateau] | 2/2 | 2 of 2 |  |" in text
    text = coverage_markdown(plan_coverage(plan, full[:1]))
    assert "| nequip-l1 [plateau] | 1/2 (1 not run) | 1 of 2 | budget |" in text


@pytest.mark.parametrize(
    "bad, field",
    [
        ("curves:\n  - {dataset: d, models: [m], n_train: [0], seeds: [0]}\n", "n_train"),
        ("curves:\n  - {dataset: d, models: [m], n_train: [50], seeds: [0], sizes: [1]}\n", "sizes"),
        ("curves: []\n", "curves"),
    ],
)
def test_a_malformed_plan_is_refused_naming_the_field(tmp_path, bad, field):
    path = tmp_path / "plan.yaml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as err:
        load_plan(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_site_shows_the_coverage_with_the_reason_escaped(tmp_path):
    for r in _records():
        write_record(r, tmp_path / "results")
    build_site([tmp_path / "results"], tmp_path / "site", static_figures=False, plan=_plan(tmp_path))
    page = (tmp_path / "site" / "curves.html").read_text(encoding="utf-8")
    assert 'id="coverage"' in page
    assert "<strong>2 of 12</strong> planned points are certified converged" in page
    assert "2/3 (1 still improving)" in page and "0/3 (1 failed, 2 not run)" in page
    assert "too &lt;b&gt;costly&lt;/b&gt; on 2 cores" in page and "<b>costly" not in page


def test_summary_script_prints_the_coverage(tmp_path, capsys):
    for r in _records():
        write_record(r, tmp_path / "results")
    spec = importlib.util.spec_from_file_location("lcs", REPO / "scripts" / "learning_curve_summary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([str(tmp_path / "results"), "--plan", str(_plan(tmp_path))])
    out = capsys.readouterr().out
    assert "## Coverage of the planned curves" in out
    assert "2 of 12 planned points certified (17 %); 1 still improving, 1 failed, 8 not run." in out


def test_committed_plan_names_known_datasets_and_models():
    plan = load_plan(REPO / "leaderboard" / "planned_curves.yaml")
    configs = {p.stem for p in MODEL_CONFIGS_DIR.glob("*.yaml")}
    labels = {
        json.loads(p.read_text(encoding="utf-8"))["model"]
        for p in (REPO / "leaderboard" / "results").glob("*/records/*.json")
    }
    cards = {str(p.relative_to(CARDS_DIR).with_suffix("")) for p in CARDS_DIR.rglob("*.yaml")}
    for entry in plan.curves:
        assert set(entry.models) <= configs | labels, entry.models
        assert entry.dataset in cards or entry.dataset.split("/")[0] in cards, entry.dataset


def test_cli_prints_the_coverage_and_refuses_a_bad_plan(tmp_path, capsys):
    from mlip_bench.cli import main

    for r in _records():
        write_record(r, tmp_path / "results")
    args = ["leaderboard", "coverage", "--results", str(tmp_path / "results")]
    assert main([*args, "--plan", str(_plan(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 of 12 planned points certified (17 %)")
    assert "| nequip-l1 [plateau] | 2/3 (1 still improving) | 0/3 (1 failed, 2 not run) |" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("curves: [{dataset: d}]\n")
    assert main([*args, "--plan", str(bad)]) == ConfigError.exit_code
    err = capsys.readouterr().err
    assert str(bad) in err and len(err.strip().splitlines()) == 1
