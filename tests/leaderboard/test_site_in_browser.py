"""The built site in headless Debian chromium (Playwright): plots render, tables sort and filter,
links resolve, hostile names stay text. Screenshots go to test-artifacts/leaderboard/."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from mlip_bench.leaderboard.build import build_site, run_page_name
from tests.leaderboard.leaderboard_records import FIXTURES, REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS = "<script>alert(1)</script>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian chromium not installed at /usr/bin/chromium (apt-get install chromium; .ci/run does it)",
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "site"
    build_site([FIXTURES], out, static_figures=False)
    return out


@pytest.fixture(scope="module")
def artifacts() -> Path:
    path = Path(os.environ.get("MLIP_BENCH_TEST_ARTIFACTS", REPO / "test-artifacts")) / "leaderboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[test]')")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page that records console errors, uncaught exceptions, dialogs and failed requests."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.on("requestfailed", lambda r: self.problems.append(f"requestfailed: {r.url}"))

    def open(self, path: Path):
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")
        return self.page


def _column(page, table_id: str, header: str) -> list[float]:
    return page.evaluate(
        """([id, header]) => {
            const table = document.getElementById(id);
            const ths = Array.from(table.tHead.rows[0].cells);
            const i = ths.findIndex(th => th.textContent.trim().startsWith(header));
            return Array.from(table.tBodies[0].rows).filter(r => !r.hidden)
                .map(r => parseFloat(r.cells[i].getAttribute('data-value')));
        }""",
        [table_id, header],
    )


def test_index_sorts_filters_and_links(site, browser, artifacts):
    p = Page(browser)
    page = p.open(site / "index.html")
    table = "t-ds-md17-aspirin"
    header = page.locator(f"#{table} thead th", has_text="F MAE (meV/Å)")
    header.click()
    values = [v for v in _column(page, table, "F MAE (meV/Å)") if v == v]
    assert len(values) >= 12 and values == sorted(values)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    values = [v for v in _column(page, table, "F MAE (meV/Å)") if v == v]
    assert values == sorted(values, reverse=True)
    page.screenshot(path=str(artifacts / "index-sorted.png"))

    rows = page.locator(f"#{table} tbody tr")
    total = rows.count()
    page.fill(f'.table-filter[data-table="{table}"]', "schnet")
    visible = page.locator(f"#{table} tbody tr:not([hidden])")
    assert 0 < visible.count() < total
    for text in visible.all_inner_texts():
        assert "schnet" in text.lower()
    assert page.locator(f'.row-count[data-table="{table}"]').inner_text() == f"{visible.count()} of {total} rows"
    page.fill(f'.table-filter[data-table="{table}"]', "")
    page.uncheck(f'.kind-toggle[data-table="{table}"][data-kind="published"]')
    kinds = page.eval_on_selector_all(f"#{table} tbody tr:not([hidden])", "rs => rs.map(r => r.dataset.kind)")
    assert kinds and set(kinds) == {"reproduced"}
    page.screenshot(path=str(artifacts / "index-filtered.png"))

    # the XSS probe is shown as text, in the table of its dataset
    cell = page.locator("#t-ds-rmd17-ethanol td.model", has_text="alert(1)")
    assert XSS in cell.inner_text()

    # every per-run link resolves to a run page named after its run
    hrefs = page.eval_on_selector_all("a.run-link", "as => as.map(a => a.href)")
    assert len(hrefs) == 37  # complete runs: 36 + XSS probe
    # the convergence column: certified rows and the still-improving ones (l = 0 at 950, all seeds)
    conv = page.eval_on_selector_all(
        f"#{table} tbody tr[data-kind='reproduced'] td.convergence", "cs => cs.map(c => c.textContent.trim())"
    )
    assert conv.count("still improving") == 1 and conv.count("2 of 3 certified") == 1
    assert conv.count("certified") == len(conv) - 2
    for href in hrefs:
        assert Path(unquote(urlsplit(href).path)).is_file(), href
    page.click(f'a.run-link[href="runs/{run_page_name("nequip-l1-md17-aspirin-n950-s0-paper")}"]')
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == "nequip-l1-md17-aspirin-n950-s0-paper"
    page.wait_for_selector('#plot-p0-parity[data-rendered="true"]')
    page.screenshot(path=str(artifacts / "run-page.png"), full_page=True)
    assert p.problems == []


def test_learning_curves_have_one_trace_per_model(site, browser, artifacts):
    p = Page(browser)
    page = p.open(site / "curves.html")
    page.wait_for_function(
        "document.querySelectorAll('.plot[data-rendered]').length === document.querySelectorAll('.plot').length"
    )
    section = page.locator("section.curve-figure", has_text="md17/aspirin").first
    plot_id = section.locator(".plot").first.get_attribute("id")
    names = page.evaluate(
        f"document.getElementById('{plot_id}').data.filter(t => t.meta.points === 'certified').map(t => t.name)"
    )
    assert len(names) == 3
    assert sorted(n.split(" ")[0] for n in names) == ["nequip-l0", "nequip-l1", "schnet"]
    assert all("slope" in n for n in names)
    axis_type = page.evaluate(f"document.getElementById('{plot_id}').layout.xaxis.type")
    assert axis_type == "log"
    # still-improving points: hollow markers, labelled, in traces of their own (never in the fit)
    hollow = page.evaluate(
        f"""document.getElementById('{plot_id}').data.filter(t => t.meta.points === 'still improving')
            .map(t => ({{name: t.name, x: t.x, symbol: t.marker.symbol, text: t.text}}))"""
    )
    assert sorted(h["name"].split(" ")[0] for h in hollow) == ["nequip-l0", "schnet"]
    for h in hollow:
        assert h["symbol"].endswith("-open") and h["x"] == [950]
        assert h["text"] == ["still improving"] and "still improving" in h["name"]
    drawn = page.locator(f"#{plot_id} .scatterlayer .textpoint").all_text_contents()
    assert drawn.count("still improving") == 2  # the labels are on the plot, not only in the spec
    open_markers = page.evaluate(
        f"Array.from(document.querySelectorAll('#{plot_id} .scatterlayer path.point'))"
        ".filter(p => p.style.fill === 'none' || p.style.fillOpacity === '0').length"
    )
    assert open_markers >= 2
    legend = page.locator(f"#{plot_id} .legendtext").all_text_contents()
    # 3 certified + 2 still-improving entries, then the published points (stars)
    assert sum("still improving" in t for t in legend) == 2 and sum("slope" in t for t in legend) == 3
    assert len(legend) == 5 + sum("(published" in t for t in legend)
    slopes = page.locator(f"#slopes-{section.get_attribute('id')} td.still-improving").all_inner_texts()
    assert any("n=950 s0, n=950 s1, n=950 s2" in t for t in slopes)
    # the XSS model name in a legend is text, not markup
    # (rmd17/ethanol has one training size: a table, where the XSS model name is text too)
    ethanol_table = (
        page.locator("section.curve-figure", has_text="rmd17/ethanol").locator("table.single-size").inner_text()
    )
    assert XSS in ethanol_table
    page.screenshot(path=str(artifacts / "curves.png"), full_page=True)
    assert p.problems == []


def test_replication_and_xss_run_page(site, browser, artifacts):
    p = Page(browser)
    page = p.open(site / "replication.html")
    statuses = page.eval_on_selector_all("#numbers tbody td .status", "es => es.map(e => e.textContent.trim())")
    assert len(statuses) == page.locator("#numbers tbody tr").count() > 200
    assert set(statuses) <= {"reproduced", "not reproduced", "not run", "not comparable", "shown only (low confidence)"}
    claim_row = page.locator("#claims tbody tr", has_text="md17/aspirin").first
    claim_status = claim_row.locator("td > .status").inner_text()
    assert claim_status == "holds"  # the fixtures' l=1 curve is steeper than l=0 (paired Δb interval below 0)
    assert "paired, 3 seeds" in claim_row.inner_text()
    assert "still improving" in claim_row.locator(".still-improving").inner_text()
    assert page.locator("#claim-rules dt").count() == 6
    page.screenshot(path=str(artifacts / "replication.png"))

    page = p.open(site / "runs" / run_page_name("xss-probe-rmd17-ethanol-n50-s0-cpu"))
    assert XSS in page.locator("p.lead").inner_text()
    assert '<img src=x onerror="alert(2)">' in page.locator("p.note:not(.reproduce-note)").inner_text()
    assert page.locator("main script:not([type='application/json'])").count() == 0
    page.screenshot(path=str(artifacts / "run-xss.png"), full_page=True)
    assert p.problems == []


# -- issue 12: phone layout, static fallbacks, downloads, figures, shareable URLs --------------

PHONE = {"width": 400, "height": 900}


@pytest.fixture(scope="module")
def static_site(tmp_path_factory) -> Path:
    """A site with the SVG fallbacks (the curve runs of md17/aspirin, the XSS probe and the failed run)."""
    out = tmp_path_factory.mktemp("browser-static") / "site"
    build_site([FIXTURES], out, static_figures=True)
    return out


def _page_types(site: Path) -> dict[str, Path]:
    return {
        "index": site / "index.html",
        "curves": site / "curves.html",
        "replication": site / "replication.html",
        "protocols": site / "protocols.html",
        "cite": site / "cite.html",
        "model": site / "models" / "nequip-l1.html",
        "run": site / "runs" / run_page_name("nequip-l1-md17-aspirin-n950-s0-paper"),
        "failed run": site / "runs" / run_page_name("schnet-md17-aspirin-n150-s3-paper"),
    }


def test_no_horizontal_overflow_at_400px_on_every_page_type(site, browser, artifacts):
    for kind, path in _page_types(site).items():
        assert path.is_file(), kind
        page = browser.new_page(viewport=PHONE)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)
        width = page.evaluate("document.documentElement.scrollWidth")
        wide = page.evaluate(
            """() => {
                   // an element inside a scrolling box (a wide table's wrapper, a <pre>) does not widen the page
                   const scrolls = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
                       if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(a).overflowX)) return true; } return false; };
                   return Array.from(document.querySelectorAll('body *')).filter(e => {
                       const r = e.getBoundingClientRect();
                       return r.width > 0 && r.right > window.innerWidth + 1 && !scrolls(e);
                   }).slice(0, 5).map(e => e.tagName + '.' + e.className);
               }"""
        )
        assert width <= PHONE["width"] and not wide, f"{kind}: {width}px wide, overflowing: {wide}"
        page.screenshot(path=str(artifacts / f"phone-{kind.replace(' ', '-')}.png"))
        page.close()


def test_fallback_figures_render_without_javascript_and_without_mathtext(static_site, browser, artifacts):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto((static_site / "curves.html").as_uri())
    page.wait_for_load_state("load")
    images = page.locator("noscript img, img.plot-static")
    srcs = page.eval_on_selector_all("img.plot-static", "is => is.map(i => [i.getAttribute('src'), i.naturalWidth])")
    assert len(srcs) == 2, srcs  # md17/aspirin: force and energy, one image each (no combined image twice)
    assert len({s for s, _ in srcs}) == 2 and all(w > 200 for _, w in srcs), srcs
    assert images.count() >= 2
    page.screenshot(path=str(artifacts / "curves-no-js.png"), full_page=True)
    for src, _ in srcs:
        text = (static_site / src).read_text(encoding="utf-8")
        assert "mathdefault" not in text and "$" not in text, src
        assert 'id="band-' in text and 'id="published-' in text, src
    context.close()


def test_csv_and_json_downloads_match_the_table(site, browser):
    p = Page(browser)
    page = p.open(site / "index.html")
    table = "t-ds-md17-aspirin"
    link = page.locator(f'.controls:has(.table-filter[data-table="{table}"]) a.download-csv')
    href = link.get_attribute("href")
    rows_on_page = page.evaluate(
        """(id) => {
            const t = document.getElementById(id);
            const ths = Array.from(t.tHead.rows[0].cells).map(th => th.textContent.trim());
            const f = ths.findIndex(h => h.startsWith('F MAE (meV/Å)'));
            return Array.from(t.tBodies[0].rows).map(r => ({
                source: r.dataset.kind,
                model: r.dataset.kind === 'reproduced' ? r.cells[1].textContent.trim().split(/\\s+/)[0] : r.cells[1].textContent.trim(),
                n_train: r.cells[3].getAttribute('data-value'), f: r.cells[f].getAttribute('data-value')}));
        }""",
        table,
    )
    with open(site / href, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(rows_on_page) > 10
    for csv_row, shown in zip(rows, rows_on_page):
        assert csv_row["model"] == shown["model"]
        assert csv_row["n_train"] == shown["n_train"]
        assert (csv_row["source"] == "ours") == (shown["source"] == "reproduced")
        got, want = csv_row["force_mae mean (meV/Å)"], shown["f"]
        assert (got == "") == (want == "")
        if got:
            assert float(got) == pytest.approx(float(want), rel=1e-5)
    data = json.loads((site / href.replace(".csv", ".json")).read_text(encoding="utf-8"))
    assert [r["model"] for r in data["rows"]] == [r["model"] for r in rows]
    # every page's download links resolve, and a run page links its raw record (UTF-8, no \\u escapes)
    run = site / "runs" / run_page_name("nequip-l1-md17-aspirin-n950-s0-paper")
    page = p.open(run)
    record_href = page.locator("a.record-link").get_attribute("href")
    raw = (run.parent / record_href).read_text(encoding="utf-8")
    assert json.loads(raw)["run_id"] == "nequip-l1-md17-aspirin-n950-s0-paper" and "\\u00c5" not in raw
    assert "\\u00c5" not in page.locator("pre.config").first.inner_text()
    assert p.problems == []


def test_every_learning_curve_figure_has_its_band_and_the_published_points(site, browser, artifacts):
    p = Page(browser)
    page = p.open(site / "curves.html")
    page.wait_for_function(
        "document.querySelectorAll('.plot[data-rendered]').length === document.querySelectorAll('.plot').length"
    )
    plots = page.eval_on_selector_all(".plot", "ps => ps.map(p => p.id)")
    assert plots
    for plot_id in plots:
        traces = page.evaluate(f"document.getElementById('{plot_id}').data.map(t => t.meta)")
        kinds = [t.get("points") for t in traces]
        fitted = {t["curve"] for t in traces if t.get("points") == "certified"}
        assert {t["curve"] for t in traces if t.get("points") == "band"} == fitted, plot_id
        published = [t for t in traces if t.get("points") == "published"]
        assert published and all(t["evidence"] for t in published), plot_id  # md17/aspirin has published numbers
        # the band is drawn (a filled path), and every published point is a star with its tag in the legend
        assert page.locator(f"#{plot_id} .scatterlayer path.js-fill").count() >= len(fitted)
        legend = " ".join(page.locator(f"#{plot_id} .legendtext").all_text_contents())
        assert all(f"[{t['evidence']}]" in legend for t in published)
        # ticks read as numbers: no "3" standing for 300
        ticks = page.locator(f"#{plot_id} .xtick text").all_text_contents()
        assert "950" in ticks and "50" in ticks
        assert "still improving" in kinds
    # one colour per model, the same in both panels
    colours = page.evaluate(
        """() => Array.from(document.querySelectorAll('.plot')).map(p => Object.fromEntries(
              p.data.filter(t => t.meta.points === 'certified').map(t => [t.meta.model, t.marker.color])))"""
    )
    assert all(c == colours[0] for c in colours)
    assert len(set(colours[0].values())) == len(colours[0])
    page.screenshot(path=str(artifacts / "curves-band.png"), full_page=True)
    assert p.problems == []


def test_sort_and_filter_survive_a_reload_through_the_url(site, browser):
    p = Page(browser)
    page = p.open(site / "index.html")
    table = "t-ds-md17-aspirin"
    page.locator(f"#{table} thead th", has_text="F MAE (meV/Å)").click()
    page.fill(f'.table-filter[data-table="{table}"]', "nequip")
    page.uncheck(f'.kind-toggle[data-table="{table}"][data-kind="published"]')
    url = page.url
    assert f"sort.{table}=" in url and f"filter.{table}=nequip" in url
    before = _column(page, table, "F MAE (meV/Å)")
    page.reload()
    page.wait_for_load_state("load")
    assert page.locator(f"#{table} thead th", has_text="F MAE (meV/Å)").get_attribute("aria-sort") == "ascending"
    assert page.input_value(f'.table-filter[data-table="{table}"]') == "nequip"
    assert not page.is_checked(f'.kind-toggle[data-table="{table}"][data-kind="published"]')
    after = _column(page, table, "F MAE (meV/Å)")
    assert after == before and after == sorted(after) and len(after) > 3
    # a fresh page opened from the shared URL shows the same view
    fresh = Page(browser)
    fresh.page.goto(url)
    assert _column(fresh.page, table, "F MAE (meV/Å)") == before
    assert p.problems == [] and fresh.problems == []


def test_tables_work_before_and_without_the_plot_library(site, browser):
    for name in ("index.html", "replication.html", "protocols.html"):
        html = (site / name).read_text(encoding="utf-8")
        assert "plotly" not in html, name  # no plot on these pages: no 4.8 MB bundle
    p = Page(browser)
    p.page.route("**/plotly.min.js", lambda route: route.abort())  # the plot library never arrives
    page = p.page
    page.goto((site / "curves.html").as_uri())
    page.wait_for_selector("html[data-tables-ready='true']")
    table = page.locator("table.slopes").first
    table_id = table.get_attribute("id")
    header = table.locator("thead th", has_text="Force-MAE slope")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert f"sort.{table_id}=" in page.url
    # without plotly each figure falls back to its static image (none built here: the plot is hidden)
    assert page.locator(".plot[data-rendered]").count() == 0
