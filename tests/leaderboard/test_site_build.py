"""The static site: offline assets, links that resolve, escaping, refusal of invalid records."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import plotly
import pytest

from mlip_bench.errors import ConfigError, ResultsError
from mlip_bench.leaderboard.build import SITE_MARKER, build_site, reproduce_command, run_page_name
from tests.leaderboard.leaderboard_records import FIXTURES

XSS = "<script>alert(1)</script>"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []  # (tag, attr, value)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src") and value is not None:
                self.refs.append((tag, name, value))


#: hosts a link (never an asset) may point at: papers' DOIs and arXiv pages
PAPER_HOSTS = {"doi.org", "arxiv.org"}


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lb") / "site"
    index = build_site([FIXTURES], out, static_figures=False)
    assert index == out / "index.html"
    return out


def test_pages_and_offline_assets(site):
    for page in ("index.html", "curves.html", "replication.html", "assets/site.js", "assets/site.css"):
        assert (site / page).is_file(), page
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert (site / "assets" / "plotly.min.js").read_bytes() == bundle.read_bytes()
    runs = sorted(p.name for p in (site / "runs").iterdir())
    assert len(runs) == 38  # 36 curve runs + XSS probe + failed run
    assert (site / SITE_MARKER).is_file()


def test_every_link_and_asset_resolves_locally(site):
    pages = sorted(site.rglob("*.html"))
    parsed = {p: _parse(p) for p in pages}
    checked = 0
    for page, links in parsed.items():
        for tag, attr, value in links.refs:
            url = urlsplit(value)
            if tag == "a" and url.scheme == "https" and url.netloc in PAPER_HOSTS:
                continue  # a paper's link (model and cite pages); nothing is loaded from the network
            assert url.scheme == "" and url.netloc == "", f"{page.name}: external {attr} {value!r}"
            target = (page.parent / url.path).resolve() if url.path else page
            assert target.is_file(), f"{page.name}: {value} does not resolve"
            if url.fragment and target.suffix == ".html":
                assert url.fragment in parsed[target].ids, f"{page.name}: anchor {value} missing"
            checked += 1
    assert checked > 100


def test_index_has_published_and_reproduced_rows_with_units(site):
    html = (site / "index.html").read_text()
    assert "F MAE (meV/Å)" in html and "E MAE (meV)" in html
    assert 'class="row-published"' in html and 'class="row-reproduced"' in html
    assert "MEM-L" in html and "ISSUE" in html  # evidence tags are shown
    assert 'class="num best"' in html


def test_model_names_and_notes_render_as_text(site):
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert XSS not in text, page
        assert "<img src=x" not in text, page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (site / "index.html").read_text()
    run = (site / "runs" / run_page_name("xss-probe-rmd17-ethanol-n50-s0-cpu")).read_text()
    assert "&lt;img src=x onerror=" in run
    # plot specifications are JSON inside <script type="application/json">: no raw "<" at all
    curves = (site / "curves.html").read_text()
    for chunk in curves.split('<script type="application/json"')[1:]:
        body = chunk.split(">", 1)[1].split("</script>", 1)[0]
        assert "<" not in body
        spec = json.loads(body)
        assert "data" in spec and "layout" in spec


def test_run_page_has_provenance_and_a_reproduce_command(site):
    rid = "nequip-l1-md17-aspirin-n950-s0-paper"
    page = (site / "runs" / run_page_name(rid)).read_text()
    record = json.loads((FIXTURES / f"{rid}.json").read_text())
    assert record["split"]["sha256"] in page
    assert record["dataset"]["store_sha256"] in page
    assert record["environment"]["git_commit"] in page
    assert "torch" in page and "2.4.1" in page
    # one seed exactly
    assert "--n-train 950 --seed 0 --protocol paper" in page
    assert '<a class="record-link" href="../records/' in page
    assert 'data-spec="p0-parity"' in page and 'data-spec="p0-hist"' in page


def test_reproduce_command_quotes_hostile_names():
    import shlex

    from tests.leaderboard.leaderboard_records import make_record

    cmd = reproduce_command(make_record(model="x; rm -rf ~", seed=2, n_train=950))
    words = shlex.split(cmd)  # the hostile name stays one quoted argument
    assert words[:3] == ["mlip-bench", "run", "x; rm -rf ~"]
    assert words[words.index("--seed") + 1] == "2" and words[words.index("--protocol") + 1] == "paper"
    tagged = reproduce_command(make_record(protocol="cpu+1a2b3c4d"))
    assert "--protocol cpu" in tagged and "overrides of protocol cpu+1a2b3c4d" in tagged
    # the site shows DeePMD-kit's water as water-deepmd; the command uses the stored name
    assert "--dataset water " in reproduce_command(make_record(dataset="water-deepmd"), "water")


def test_record_failing_validation_is_refused_naming_file_and_field(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(FIXTURES, results, ignore=shutil.ignore_patterns("*.py"))
    bad = results / "nequip-l1-md17-aspirin-n550-s1-paper.json"
    raw = json.loads(bad.read_text())
    raw["metrics"]["test"]["force_mae_mev_per_a"] = "about twenty"
    bad.write_text(json.dumps(raw))
    out = tmp_path / "site"
    with pytest.raises(ResultsError) as err:
        build_site([results], out, static_figures=False)
    message = str(err.value)
    assert bad.name in message and "metrics.test.force_mae_mev_per_a" in message
    assert not out.exists()  # nothing half-built
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".site")]


def test_unknown_field_is_refused(tmp_path):
    rec = json.loads((FIXTURES / "xss-probe.json").read_text())
    rec["force_mae"] = 3.0
    (tmp_path / "r.json").write_text(json.dumps(rec))
    with pytest.raises(ResultsError, match="force_mae"):
        build_site([tmp_path], tmp_path / "site", static_figures=False)


def test_duplicate_run_ids_across_folders_are_refused(tmp_path):
    with pytest.raises(ResultsError, match="appears twice"):
        build_site([FIXTURES / "xss-probe.json", FIXTURES], tmp_path / "site", static_figures=False)


def test_rebuild_replaces_a_site_but_never_a_foreign_folder(tmp_path):
    out = tmp_path / "site"
    build_site([FIXTURES / "xss-probe.json"], out, static_figures=False)
    (out / "stale.html").write_text("old")
    build_site([FIXTURES / "xss-probe.json"], out, static_figures=False)
    assert not (out / "stale.html").exists()
    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="not made by"):
        build_site([FIXTURES / "xss-probe.json"], foreign, static_figures=False)
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_replication_markdown_is_rendered_with_raw_html_escaped(tmp_path):
    md = tmp_path / "REPLICATION.md"
    md.write_text(
        "# Status\n\n| molecule | F MAE |\n|---|---|\n| aspirin | 8.9 |\n\n<script>alert(3)</script>\n[x](javascript:alert(4))\n"
    )
    build_site([FIXTURES / "xss-probe.json"], tmp_path / "site", replication_md=md, static_figures=False)
    page = (tmp_path / "site" / "replication.html").read_text()
    assert "<table>" in page and "<td>aspirin</td>" in page
    assert "<script>alert(3)" not in page and "&lt;script&gt;alert(3)" in page
    assert 'href="javascript:' not in page


def test_static_svg_fallbacks(tmp_path):
    pytest.importorskip("matplotlib")
    files = [FIXTURES / "xss-probe.json"] + sorted(FIXTURES.glob("nequip-l1-*.json"))
    out = tmp_path / "site"
    build_site(files, out)
    svgs = sorted((out / "figures").glob("*.svg"))
    curve_svgs = [p for p in svgs if not p.name.startswith("run-")]
    # md17/aspirin: one SVG per panel (force, energy); rmd17/ethanol has one size: a table, no figure
    assert len(curve_svgs) == 2 and {p.name.rsplit("-", 1)[1] for p in curve_svgs} == {
        "force_mae.svg",
        "energy_mae.svg",
    }
    run_svgs = [p for p in svgs if p.name.startswith("run-")]
    assert len(run_svgs) == 2  # the two records with parity samples
    for p in svgs:
        text = p.read_text()
        assert text.lstrip().startswith("<?xml") and "<svg" in text
        assert "<script" not in text
        assert "mathdefault" not in text and "$" not in text  # tick labels are plain numbers
    curves = (out / "curves.html").read_text()
    assert "&lt;script&gt;" in curves.split('id="single-', 1)[1]  # the XSS name, as text in the table


def test_cli_build_and_its_error_line(tmp_path, capsys):
    from mlip_bench.cli import main

    out = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", str(FIXTURES), "--out", str(out), "--no-static-figures"]) == 0
    assert (out / "index.html").is_file()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "r.json").write_text('{"run_id": "x"}')
    code = main(["leaderboard", "build", "--results", str(bad), "--out", str(tmp_path / "s2")])
    err = capsys.readouterr().err.strip()
    assert code == ResultsError.exit_code
    assert err.startswith("error: ") and "r.json" in err and len(err.splitlines()) == 1


def test_replication_page_lists_every_published_number_with_a_status(site):
    from mlip_bench.leaderboard.published import default_published_path, load_published

    pub = load_published(default_published_path())
    page = (site / "replication.html").read_text()
    table = page.split('id="numbers"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr data-kind=") == len(pub.values)
    assert table.count('class="status status-') == len(pub.values)
    assert table.count('data-target="shown-only"') == sum(not v.is_target for v in pub.values)
    # the summary comes first: what we ran, then the verdicts, then the claims, then the numbers
    order = [page.index(k) for k in ('id="what-we-ran"', 'id="verdicts"', 'id="claims"', 'id="numbers"')]
    assert order == sorted(order)
    for claim in pub.file.claims:
        assert claim.id in page
    assert "Tolerance:" in page and "±15 %" in page


def test_budget_study_and_still_improving_points_on_the_pages(tmp_path):
    from mlip_bench.results.io import write_record
    from tests.leaderboard.leaderboard_records import make_record

    results = tmp_path / "results"
    for n in (50, 150, 950):
        for seed in (0, 1, 2):
            write_record(
                make_record(
                    "nequip-l1", n, seed, 80.0 * (n / 50) ** -0.5, protocol="plateau", certified=(n, seed) != (950, 2)
                ),
                results,
            )
            write_record(
                make_record("nequip-l1", n, seed, 90.0 * (n / 50) ** -0.2, protocol="short", certified=None), results
            )
    out = tmp_path / "site"
    build_site([results], out)
    index = (out / "index.html").read_text()
    main = index.split('id="t-ds-md17-aspirin"', 1)[1].split("</table>", 1)[0]
    budget = index.split('id="t-budget-ds-md17-aspirin"', 1)[1].split("</table>", 1)[0]
    assert (
        main.count('class="protocol-link" href="protocols.html#protocol-plateau"') == 3
        and "#protocol-short" not in main
    )
    assert budget.count('href="protocols.html#protocol-short"') == 3 and "#protocol-plateau" not in budget
    assert "optimiser steps" in main and "still improving" in budget
    assert "2 of 3 certified" in main and ">certified</span>" in main
    assert budget.count(">still improving</span>") == 3
    assert "Budget study: every run still improving" in index

    curves = (out / "curves.html").read_text()
    converged, budget_part = curves.split('id="budget-study"', 1)
    specs = [
        json.loads(chunk.split(">", 1)[1].split("</script>", 1)[0])
        for chunk in curves.split('<script type="application/json"')[1:]
    ]
    hollow = [t for s in specs for t in s["data"] if t["meta"]["points"] == "still improving"]
    filled = [t for s in specs for t in s["data"] if t["meta"]["points"] == "certified"]
    assert all(t["marker"]["symbol"].endswith("-open") for t in hollow)
    assert all("[plateau]" in t["name"] and "slope" in t["name"] for t in filled)
    # plateau: the one uncertified run, labelled on the plot; short: every size, in the budget figure
    plateau_hollow = [t for t in hollow if "[plateau]" in t["name"]]
    assert {tuple(t["x"]) for t in plateau_hollow} == {(950,)}
    assert all(t["text"] == ["still improving"] and t["mode"] == "markers+text" for t in plateau_hollow)
    assert {tuple(t["x"]) for t in hollow if "[short]" in t["name"]} == {(50, 150, 950)}
    assert "nequip-l1 [short]" in budget_part and "nequip-l1 [short]" not in converged
    assert "n=950 s2" in converged
    svgs = [p for p in (out / "figures").glob("*.svg") if not p.name.startswith("run-")]
    assert len(svgs) == 4 and any("still improving" in p.read_text() for p in svgs)  # 2 figures x 2 panels

    run = (out / "runs" / run_page_name("nequip-l1-md17-aspirin-n950-s2-plateau")).read_text()
    assert ">still improving</span>" in run and "budget: best epoch 99 of 100" in run
    replication = (out / "replication.html").read_text()
    assert 'id="claim-rules"' in replication and "equivalence margin ±0.05" in replication
