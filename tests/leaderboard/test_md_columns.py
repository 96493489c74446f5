"""Issue 14: the leaderboard shows MD stability and h(r) columns and a time-to-failure-vs-n_train
figure for runs with MD records (read from <results>/md/ or --md DIR), and builds as before without."""

from __future__ import annotations

import csv
import json
import re

import pytest

from mlip_bench.cli import main
from mlip_bench.errors import ResultsError
from mlip_bench.leaderboard.build import build_site, run_page_name
from mlip_bench.results.io import load_records, write_record
from mlip_bench.results.md_schema import MDRecord
from tests.leaderboard.leaderboard_records import FIXTURES, make_record, md_record, periodic_md_record, write_md


@pytest.fixture
def results_with_md(tmp_path):
    results = tmp_path / "results"
    runs = [make_record(n_train=n, seed=s, force_mae=100.0 / n**0.5) for n in (50, 150) for s in (0, 1)]
    for r in runs:
        write_record(r, results)
    ttf = {(50, 0): 0.1, (50, 1): 0.3, (150, 0): 1.0, (150, 1): 1.0}
    for r in runs:
        stable = 3 if r.n_train == 150 else 0
        write_md(
            md_record(r, ttf[(r.n_train, r.seed)], hr=0.2 if r.n_train == 50 else 0.1, n_stable=stable), results / "md"
        )
    # another setting (shorter) for one run: not mixed into the columns, counted as left out
    write_md(md_record(runs[0], 0.05, hr=0.5, steps=200), results / "md")
    return results


def test_md_records_are_not_run_records(results_with_md):
    assert len(load_records([results_with_md])) == 4


def test_a_root_of_several_results_folders_finds_each_md_folder(results_with_md, tmp_path):
    """``leaderboard/results`` holds one folder per sweep (``plateau/records``, ``plateau/md``):
    building from the root reads the run records, never the MD records as run records, and shows
    the MD of every sub-folder."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(results_with_md, root / "plateau" / "records", ignore=shutil.ignore_patterns("md"))
    shutil.copytree(results_with_md / "md", root / "plateau" / "md")
    assert len(load_records([root])) == 4
    out = tmp_path / "site"
    build_site([root], out, static_figures=False)
    assert "MD stable" in (out / "index.html").read_text(encoding="utf-8")


def test_md_columns_and_stability_figure(results_with_md, tmp_path):
    out = tmp_path / "site"
    build_site([results_with_md], out, static_figures=False)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "MD stable" in page and "Time to failure (ps)" in page
    assert "NVT 500 K, 3 replicas × 2,000 steps of 0.5 fs (1 ps each)" in page
    assert "1 MD record of other settings" in page
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r'class="num md">(.*?)</td>', page, re.S)]
    assert cells[:3] == ["0/6", "0.2 ± 0.14 / 1", "0.2 ± 0 h(r) MAE"]
    assert cells[3:6] == ["6/6", "1 ± 0 / 1", "0.1 ± 0 h(r) MAE"]
    curves = (out / "curves.html").read_text(encoding="utf-8")
    specs = re.findall(r'<script type="application/json" id="(f[0-9a-f]+-md)">(.*?)</script>', curves, re.S)
    assert len(specs) == 1
    spec = json.loads(specs[0][1])
    model = next(t for t in spec["data"] if t["meta"].get("points") == "md-stability")
    assert model["x"] == [50, 150] and model["y"] == pytest.approx([0.2, 1.0])
    # hollow where a replica failed, filled where all ran to the end; the hover says k/N stable
    assert [sym.endswith("-open") for sym in model["marker"]["symbol"]] == [True, False]
    assert [c[1] for c in model["customdata"]] == ["0/6", "6/6"]
    assert "time to failure" in spec["layout"]["yaxis"]["title"]["text"]
    with open(out / "data" / "leaderboard.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source"] == "ours"]
    assert [r["md_stable_replicas"] for r in rows] == ["0/6", "6/6"]


def test_md_folder_option_and_bad_md_record(tmp_path, capsys):
    results = tmp_path / "results"
    run = make_record(n_train=50)
    write_record(run, results)
    md_dir = tmp_path / "elsewhere"
    write_md(md_record(run, 0.4, hr=0.3), md_dir)
    out = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", str(results), "--md", str(md_dir), "--out", str(out)]) == 0
    assert "MD stable" in (out / "index.html").read_text(encoding="utf-8")
    (md_dir / "broken.json").write_text('{"kind": "md"}')
    with pytest.raises(ResultsError, match="broken.json"):
        build_site([results], out, static_figures=False, md_dirs=[md_dir])


def test_site_without_md_records_is_unchanged(tmp_path):
    out = tmp_path / "site"
    build_site([FIXTURES], out, static_figures=False)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "MD stable" not in page and "md-setting" not in page
    assert not re.search(r'id="f[0-9a-f]+-md"', (out / "curves.html").read_text(encoding="utf-8"))
    with open(out / "data" / "leaderboard.csv", encoding="utf-8") as fh:
        assert "md_stable_replicas" not in fh.readline()


def test_stability_figure_has_a_static_svg_fallback(results_with_md, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "site"
    build_site([results_with_md], out)
    curves = (out / "curves.html").read_text(encoding="utf-8")
    (key,) = re.findall(r'id="(f[0-9a-f]+)-md"', curves)
    svg = out / "figures" / f"{key}-md.svg"
    assert svg.is_file()
    # referenced like the learning-curve fallbacks: a noscript image, a hidden fallback and a link
    box = curves.split(f'id="plot-{key}-md"', 1)[1].split("</figure>", 1)[0]
    href = f"figures/{key}-md.svg"
    assert f'<noscript><img class="plot-static" src="{href}"' in box
    assert f'data-src="{href}"' in box and f'<a href="{href}">static SVG</a>' in box
    text = svg.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<?xml") and "<script" not in text and "$" not in text
    assert "mean time to failure (ps)" in text and "training configurations n_train" in text
    assert "MD stability vs n_train, md17/aspirin" in text
    # n_train 50: no replica of either seed ran to the end -> hollow and labelled; 150: all did -> filled
    assert "0/6 stable" in text and "6/6 stable" not in text
    assert "fewer than all replicas ran to the end" in text
    assert "trajectory length (1 ps): stable throughout" in text


def test_no_stability_svg_without_md_or_without_static_figures(results_with_md, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "site"
    build_site([results_with_md], out, static_figures=False)
    assert not (out / "figures").exists() or not list((out / "figures").glob("*-md.svg"))
    assert "-md.svg" not in (out / "curves.html").read_text(encoding="utf-8")
    plain = tmp_path / "plain"
    build_site([FIXTURES], plain)
    assert not list((plain / "figures").glob("*-md.svg"))


def _png(path, payload: bytes = b"fake png") -> None:
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + payload)


def test_run_page_lists_its_md_benchmarks_and_shows_the_hr_figure(tmp_path):
    results = tmp_path / "results"
    run, other = make_record(n_train=50), make_record(n_train=150)
    write_record(run, results)
    write_record(other, results)
    md_dir = results / "md"
    nvt = md_record(run, 0.7, hr=0.0812, n_stable=2, steps=2000)
    data = nvt.model_dump(mode="json")
    data["stability"]["min_time_to_failure_ps"] = 0.1
    data["observables"].update(hr_mae_sampling_floor=0.0123, n_md_samples=400, figures=[f"{nvt.md_id}.hr.png"])
    data["speed"] = {"steps_per_second": 35.1, "ns_per_day": 1.52, "wall_seconds": 60.0}
    data["settings"]["start_source"] = "md17/aspirin test split <script>alert(1)</script>"
    nvt = MDRecord.model_validate(data)
    write_md(nvt, md_dir)
    _png(md_dir / f"{nvt.md_id}.hr.png")
    nve = md_record(run, 1.0, hr=0.05, n_stable=3, ensemble="nve", temperature_k=300.0)
    data = nve.model_dump(mode="json")
    data["created"] = "2026-12-01T12:00:00+00:00"
    data["replicas"] = [
        {
            "index": i,
            "start_frame": i,
            "steps_run": 2000,
            "simulated_ps": 1.0,
            "failed": False,
            "energy_drift_mev_per_atom_per_ps": drift,
            "max_energy_error_mev_per_atom": err,
        }
        for i, (drift, err) in enumerate([(0.2, 1.5), (0.4, 2.5), (0.6, 0.5)])
    ]
    data["observables"]["figures"] = ["../../escape.png", f"{nve.md_id}.missing.png"]
    write_md(MDRecord.model_validate(data), md_dir)
    _png(tmp_path / "escape.png")
    out = tmp_path / "site"
    build_site([results], out, static_figures=False)

    page = (out / "runs" / run_page_name(run.run_id)).read_text(encoding="utf-8")
    assert '<h2 id="md">MD benchmarks</h2>' in page
    section = page.split('<h2 id="md">', 1)[1].split("<h2>Reproduce", 1)[0]
    assert section.index(nvt.md_id) < section.index(nve.md_id)  # oldest first
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))
    assert "NVT 500 K, 3 replicas × 2,000 steps of 0.5 fs (1 ps each)" in text
    assert "NVE 300 K, 3 replicas × 2,000 steps of 0.5 fs (1 ps each)" in text
    assert "Stable replicas 2/3" in text and "Stable replicas 3/3" in text
    assert "Time to failure (ps) mean 0.7, min 0.1 (of 1 ps per replica)" in text
    assert "h(r) MAE 0.0812 (sampling floor 0.0123) 400 MD samples" in text
    assert "NVE energy drift 0.4 ± 0.2 meV/atom/ps (over 3 replicas); largest |E(t) − E(0)| 2.5 meV/atom" in text
    assert "Speed 35.1 steps/s (1.52 ns/day on cpu)" in text
    assert "(the record in the leaderboard's MD columns)" in text  # the NVT record: its setting is the majority
    # the figure is copied into the site and shown; nothing outside the record's folder is copied
    (img,) = re.findall(r'<img src="([^"]+)"', section)
    assert img == f"../md/{nvt.md_id}.hr.png"
    assert (out / "runs" / img).resolve().read_bytes() == (md_dir / f"{nvt.md_id}.hr.png").read_bytes()
    assert sorted(p.name for p in (out / "md").iterdir()) == [f"{nvt.md_id}.hr.png"]
    # strings from records are escaped
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in section

    plain = (out / "runs" / run_page_name(other.run_id)).read_text(encoding="utf-8")
    assert "MD benchmarks" not in plain and 'class="md-record"' not in plain


def test_run_pages_without_md_records_show_nothing_new(tmp_path):
    out = tmp_path / "site"
    build_site([FIXTURES], out, static_figures=False)
    for page in (out / "runs").glob("*.html"):
        assert "MD benchmarks" not in page.read_text(encoding="utf-8")
    assert not (out / "md").exists()


def test_periodic_li_md_gets_a_diffusivity_column(tmp_path):
    """LiPS-like runs (periodic, with Li): the index shows D(Li) beside the RDF MAE, mean ± std over
    seeds, and the CSV carries it; molecule sections keep their columns."""
    results = tmp_path / "results"
    runs = [make_record(dataset="lips", n_train=10, seed=s, l_max=1) for s in (0, 1)]
    for run, d in zip(runs, (2.0e-5, 4.0e-5), strict=True):
        write_record(run, results)
        write_md(periodic_md_record(run, d_li=d), results / "md")
    out = tmp_path / "site"
    build_site([results], out, static_figures=False)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "D(Li) (cm²/s)" in page
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r'class="num md">(.*?)</td>', page, re.S)]
    assert cells == ["6/6*", "20 ± 0 / 20", "0.1 ± 0 RDF MAE", "3.00e-05 ± 1.4e-05"]  # * : the single 0.5 Å floor
    with open(out / "data" / "leaderboard.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source"] == "ours"]
    assert [float(r["md_li_diffusivity_cm2_per_s"]) for r in rows] == pytest.approx([3.0e-5])


def test_molecule_md_has_no_diffusivity_column(results_with_md, tmp_path):
    out = tmp_path / "site"
    build_site([results_with_md], out, static_figures=False)
    assert "D(Li)" not in (out / "index.html").read_text(encoding="utf-8")
    with open(out / "data" / "leaderboard.csv", encoding="utf-8") as fh:
        assert "md_li_diffusivity" not in fh.readline()


def test_periodic_stability_judged_by_the_old_single_floor_is_marked():
    from mlip_bench.leaderboard.md_data import summarise

    run = make_record("nequip-l1-cpu", 100, 0, 57.6, dataset="lips", protocol="plateau")
    old = periodic_md_record(run, d_li=8e-6, n_stable=1)
    assert summarise([old]).stable_text == "1/3*"
    floors = old.stability.model_copy(update={"pair_floors_a": {"Li-Li": 1.75}})
    assert summarise([old.model_copy(update={"stability": floors})]).stable_text == "1/3"
    molecule = md_record(make_record("nequip-l1-cpu", 50, 0, 30.0, protocol="plateau"), 2.0, 0.1, n_stable=3)
    assert summarise([molecule]).stable_text == "3/3"
