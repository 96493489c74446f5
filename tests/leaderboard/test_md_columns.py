"""Issue 14: the leaderboard shows MD stability and h(r) columns and a time-to-failure-vs-n_train
figure for runs with MD records (read from <results>/md/ or --md DIR), and builds as before without."""

from __future__ import annotations

import csv
import json
import re

import pytest

from mlip_bench.cli import main
from mlip_bench.errors import ResultsError
from mlip_bench.leaderboard.build import build_site
from mlip_bench.results.io import load_records, write_record
from mlip_bench.results.md_schema import MDRecord
from tests.leaderboard.leaderboard_records import FIXTURES, make_record


def md_record(run, ttf: float, hr: float, n_stable: int = 0, steps: int = 2000, **settings) -> MDRecord:
    s = dict(ensemble="nvt", temperature_k=500.0, timestep_fs=0.5, steps=steps, replicas=3, seed=0)
    s.update(settings)
    md_id = f"{run.run_id}__md-{s['ensemble']}-{s['temperature_k']:g}K-{s['timestep_fs']:g}fs-{steps}steps-r3-s0"
    return MDRecord.model_validate(
        {
            "md_id": md_id,
            "created": "2026-11-30T12:00:00+00:00",
            "run": {
                "run_id": run.run_id,
                "checkpoint_path": "x/best_model.pt",
                "checkpoint_sha256": "0" * 64,
                "dataset": run.dataset.name,
                "n_train": run.n_train,
                "seed": run.seed,
            },
            "settings": {**s, "sample_every": 10, "start_source": "test split", "dataset": run.dataset.name},
            "stability": {
                "criterion": "bonds",
                "kind": "molecule",
                "bond_tolerance_a": 0.5,
                "n_replicas": 3,
                "n_stable": n_stable,
                "mean_time_to_failure_ps": ttf,
                "min_time_to_failure_ps": ttf / 2,
                "length_ps": steps * s["timestep_fs"] / 1000,
            },
            "observables": {"kind": "molecule", "hr_mae": hr},
        }
    )


def _write_md(record: MDRecord, folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{record.md_id}.json").write_text(json.dumps(record.model_dump(mode="json")))


@pytest.fixture
def results_with_md(tmp_path):
    results = tmp_path / "results"
    runs = [make_record(n_train=n, seed=s, force_mae=100.0 / n**0.5) for n in (50, 150) for s in (0, 1)]
    for r in runs:
        write_record(r, results)
    ttf = {(50, 0): 0.1, (50, 1): 0.3, (150, 0): 1.0, (150, 1): 1.0}
    for r in runs:
        stable = 3 if r.n_train == 150 else 0
        _write_md(
            md_record(r, ttf[(r.n_train, r.seed)], hr=0.2 if r.n_train == 50 else 0.1, n_stable=stable), results / "md"
        )
    # another setting (shorter) for one run: not mixed into the columns, counted as left out
    _write_md(md_record(runs[0], 0.05, hr=0.5, steps=200), results / "md")
    return results


def test_md_records_are_not_run_records(results_with_md):
    assert len(load_records([results_with_md])) == 4


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
    assert "time to failure" in spec["layout"]["yaxis"]["title"]["text"]
    with open(out / "data" / "leaderboard.csv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["source"] == "ours"]
    assert [r["md_stable_replicas"] for r in rows] == ["0/6", "6/6"]


def test_md_folder_option_and_bad_md_record(tmp_path, capsys):
    results = tmp_path / "results"
    run = make_record(n_train=50)
    write_record(run, results)
    md_dir = tmp_path / "elsewhere"
    _write_md(md_record(run, 0.4, hr=0.3), md_dir)
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
