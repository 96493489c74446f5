"""scripts/learning_curve_summary.py: certified-only slopes, still-improving counts, rule-based verdicts."""

from __future__ import annotations

import importlib.util

from mlip_bench.results.io import write_record
from tests.leaderboard.leaderboard_records import FIXTURES, REPO, make_record


def _summary():
    spec = importlib.util.spec_from_file_location(
        "learning_curve_summary", REPO / "scripts" / "learning_curve_summary.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(text: str, *words: str) -> str:
    (line,) = [ln for ln in text.splitlines() if all(w in ln for w in words)]
    return line


def test_fixture_summary_fits_certified_points_and_names_the_rest(capsys):
    _summary().main([str(FIXTURES)])
    out = capsys.readouterr().out
    l0 = _row(out, "| md17/aspirin | nequip-l0 [paper]")
    cells = [c.strip() for c in l0.split("|")]
    assert cells[-2] == "3 of 12 (n=950 s0, n=950 s1, n=950 s2)"
    assert cells[7].startswith("(") and cells[7].endswith(")")  # F@950: still improving, in parentheses
    assert _row(out, "| md17/aspirin | nequip-l1 [paper]").rstrip(" |").endswith("0 of 12")
    # the rules are printed, then the verdicts
    assert "- **holds**:" in out and "equivalence margin ±0.05" in out
    verdict = _row(out, "| lc-equivariant-steeper-than-l0 | md17/aspirin |")
    assert "| holds |" in verdict and "(paired, 3 seeds)" in verdict and "still improving" in verdict


def test_budget_study_is_printed_apart_without_slopes(tmp_path, capsys):
    for model, l_max in (("nequip-l1", 1), ("nequip-l0", 0)):
        for n in (50, 150, 350, 950):
            for seed in (0, 1):
                rec = make_record(
                    model, n, seed, 100.0 * (n / 50) ** -0.2, l_max=l_max, protocol="short", certified=None
                )
                write_record(rec, tmp_path)
    _summary().main([str(tmp_path)])
    out = capsys.readouterr().out
    assert "(no learning curve has certified runs at two or more sizes yet)" in out
    assert "## Budget study (protocol short" in out
    assert "| md17/aspirin | nequip-l1 [short] | 0,1 | 100.0 ± 0.0 |" in out
    assert "| not comparable |" in _row(out, "| lc-equivariant-steeper-than-l0 | md17/aspirin |")


def _tables(text: str, header: str) -> list[str]:
    """Every markdown table of ``text`` whose header line starts with ``header``, as text."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if line.startswith(header):
            block = []
            for row in lines[i:]:
                if not row.startswith("|"):
                    break
                block.append(row)
            found.append("\n".join(block))
    return found


def test_replication_report_states_what_the_committed_records_give(capsys):
    """REPLICATION.md's machine-made tables (verdicts, published numbers, converged curves, MD) are
    the ones the summary script prints for the committed records: a record committed without
    regenerating the report fails here."""
    _summary().main([str(REPO / "leaderboard" / "results")])
    out = capsys.readouterr().out
    report = (REPO / "REPLICATION.md").read_text(encoding="utf-8")
    for header in ("| claim | dataset | status |", "| published value | published |"):
        (theirs,) = _tables(out, header)
        assert theirs in _tables(report, header), f"REPLICATION.md's table '{header}' is stale"
    ladder = [ln for ln in out.splitlines() if ln.startswith("| ") and "[plateau]" in ln]
    md_header = "| dataset | model | n_train | seeds | test F MAE (meV/Å) | stable replicas"
    md_rows = [ln for t in _tables(out, md_header) for ln in t.splitlines()[2:]]
    stale = [ln for ln in ladder + md_rows if ln not in report]
    assert ladder and not stale, f"rows missing from REPLICATION.md: {stale[:3]}"
