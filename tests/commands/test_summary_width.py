"""Issue 11: the closing summary of `run`, `results list` and `demo` is legible in an 80-column
terminal (COLUMNS=80): no cell cut to "neq…"; short keys with a legend instead."""

from __future__ import annotations

import io
import os
import shlex
import shutil
import subprocess
import sys

import pytest
from rich.cells import cell_len
from rich.console import Console

from mlip_bench.commands.summary import metrics_summary
from mlip_bench.results.io import write_record
from tests.leaderboard.leaderboard_records import REPO, make_record

DEMO_MODELS = ("nequip-l0-cpu", "nequip-l1-cpu", "schnet")


def _demo_like_records():
    records = [
        make_record(model=m, n_train=n, seed=0, dataset="rmd17/ethanol", protocol="demo", force_mae=123.456)
        for n in (50, 100, 200)
        for m in DEMO_MODELS
    ]
    records.append(
        make_record(
            model="schnet",
            n_train=400,
            dataset="rmd17/ethanol",
            protocol="demo",
            status="failed",
            error="boom: NaN loss",
        )
    )
    return records


def _render(width: int, records) -> str:
    console = Console(width=width, file=io.StringIO(), force_terminal=False, color_system=None)
    console.print(metrics_summary(records, "demo: rmd17/ethanol (demo protocol)"))
    return console.file.getvalue()


def test_80_columns_nothing_cut_and_a_legend():
    text = _render(80, _demo_like_records())
    assert "…" not in text
    assert all(cell_len(line) <= 80 for line in text.splitlines())
    legend = "a = nequip-l0-cpu; b = nequip-l1-cpu; c = schnet"
    assert legend in text and "every run: dataset rmd17/ethanol, protocol demo" in text
    assert "123.46" in text  # the numbers are whole
    assert "c ✗" in text and "boom: NaN loss" in text  # the failed run and its error


def test_wide_terminal_keeps_the_full_table():
    text = _render(250, _demo_like_records())
    assert "nequip-l0-cpu" in text and "E MAE (meV/atom)" in text and "…" not in text
    assert "a = " not in text


def test_results_list_in_an_80_column_terminal(tmp_path):
    """Through the command, on a (pseudo-)terminal of 80 columns as a user sees it."""
    out = tmp_path / "results"
    for r in _demo_like_records():
        write_record(r, out)
    env = dict(os.environ, COLUMNS="80", LINES="50", PYTHONPATH=str(REPO))
    code = f"import sys; sys.argv = ['mlip-bench', 'results', 'list', '--out', {str(out)!r}]; from mlip_bench.cli import main; sys.exit(main(sys.argv[1:]))"
    if shutil.which("script") is None:  # util-linux `script` gives the command a terminal
        pytest.skip("no `script` command to run under a pseudo-terminal")
    proc = subprocess.run(
        ["script", "-qc", f"{sys.executable} -c {shlex.quote(code)}", "/dev/null"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "…" not in proc.stdout and "b = nequip-l1-cpu" in proc.stdout
