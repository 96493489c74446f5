"""scripts/learning_curve_summary.py: certified-only slopes, still-improving counts, rule-based verdicts."""

from __future__ import annotations

import importlib.util

from mlip_bench.results.io import write_record
from tests.leaderboard.leaderboard_records import FIXTURES, REPO, make_record, md_record, periodic_md_record, write_md


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


def test_md_tables_give_h_r_for_molecules_and_rdf_and_li_diffusivity_for_periodic_systems(tmp_path, capsys):
    results = tmp_path / "results"
    lips = [make_record(dataset="lips", n_train=10, seed=s) for s in (0, 1)]
    aspirin = make_record(dataset="md17/aspirin", n_train=50)
    for run in (*lips, aspirin):
        write_record(run, results)
    write_md(periodic_md_record(lips[0], d_li=2.0e-5), results / "md")
    write_md(periodic_md_record(lips[1], d_li=None, ttf=0.4, n_stable=0), results / "md")
    hr_record = md_record(aspirin, 1.0, hr=0.08, n_stable=3)
    write_md(
        hr_record.model_copy(
            update={"observables": hr_record.observables.model_copy(update={"hr_mae_sampling_floor": 0.04})}
        ),
        results / "md",
    )
    _summary().main([str(results), "--plan", str(tmp_path / "none.yaml")])
    out = capsys.readouterr().out
    assert "| min (ps) | RDF MAE | D(Li) (cm²/s) | steps/s |" in out
    # seeds pooled: 3 of 6 replicas stable, D from the one record that has it
    assert _row(out, "| lips | nequip-l1 | 10 |").endswith("| 3/6* | 10.20 | 0.20 | 0.100 | 2.00e-05 | — |")
    assert _row(out, "| md17/aspirin | nequip-l1 | 50 |").endswith("| 0.080 (0.040) | — |")


def test_md_setting_shared_by_a_molecule_and_a_periodic_system_gets_one_table_of_each(tmp_path, capsys):
    results = tmp_path / "results"
    lips = make_record(dataset="lips", n_train=10)
    aspirin = make_record(dataset="md17/aspirin", n_train=50)
    for run in (lips, aspirin):
        write_record(run, results)
    # the same setting (NVT 600 K, 1 fs, 20,000 steps) for both
    write_md(periodic_md_record(lips, d_li=2.0e-5), results / "md")
    write_md(
        md_record(aspirin, 1.0, hr=0.08, n_stable=3, steps=20000, temperature_k=600.0, timestep_fs=1.0),
        results / "md",
    )
    _summary().main([str(results), "--plan", str(tmp_path / "none.yaml")])
    out = capsys.readouterr().out
    md_header = "| dataset | model | n_train | seeds | test F MAE (meV/Å) | stable replicas"
    tables = _tables(out, md_header)
    assert len(tables) == 2
    molecule, periodic = tables
    assert "| h(r) MAE (floor) |" in molecule and "| md17/aspirin |" in molecule and "| lips |" not in molecule
    assert "| D(Li) (cm²/s) |" in periodic and "| lips |" in periodic and "| md17/aspirin |" not in periodic
    assert _row(out, "| lips | nequip-l1 | 10 |").endswith("| 2.00e-05 | — |")
