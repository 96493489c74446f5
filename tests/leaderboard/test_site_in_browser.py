"""The built site in headless Debian chromium (Playwright): plots render, tables sort and filter,
links resolve, hostile names stay text. Screenshots go to test-artifacts/leaderboard/."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from mlip_bench.leaderboard.build import build_site, run_page_name
from tests.leaderboard.leaderboard_records import FIXTURES, REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
XSS = "<script>alert(1)</script>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed at /usr/bin/chromium (apt-get install chromium; .ci/run does it)"),
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
    conv = page.eval_on_selector_all(f"#{table} tbody tr[data-kind='reproduced'] td.convergence", "cs => cs.map(c => c.textContent.trim())")
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
    page.wait_for_function("document.querySelectorAll('.plot[data-rendered]').length === document.querySelectorAll('.plot').length")
    section = page.locator("section.curve-figure", has_text="md17/aspirin").first
    plot_id = section.locator(".plot").first.get_attribute("id")
    names = page.evaluate(f"document.getElementById('{plot_id}').data.filter(t => t.meta.points === 'certified').map(t => t.name)")
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
        assert h["symbol"] == "circle-open" and h["x"] == [950]
        assert h["text"] == ["still improving"] and "still improving" in h["name"]
    drawn = page.locator(f"#{plot_id} .scatterlayer .textpoint").all_text_contents()
    assert drawn.count("still improving") == 2  # the labels are on the plot, not only in the spec
    open_markers = page.evaluate(
        f"Array.from(document.querySelectorAll('#{plot_id} .scatterlayer path.point'))"
        ".filter(p => p.style.fill === 'none' || p.style.fillOpacity === '0').length"
    )
    assert open_markers >= 2
    legend = page.locator(f"#{plot_id} .legendtext").all_text_contents()
    assert len(legend) == 5 and sum("still improving" in t for t in legend) == 2
    slopes = page.locator(f"#slopes-{section.get_attribute('id')} td.still-improving").all_inner_texts()
    assert any("n=950 s0, n=950 s1, n=950 s2" in t for t in slopes)
    # the XSS model name in a legend is text, not markup
    ethanol_legend = page.locator("section.curve-figure", has_text="rmd17/ethanol").locator(".legendtext").all_text_contents()
    assert any(XSS in t for t in ethanol_legend)
    page.screenshot(path=str(artifacts / "curves.png"), full_page=True)
    assert p.problems == []


def test_replication_and_xss_run_page(site, browser, artifacts):
    p = Page(browser)
    page = p.open(site / "replication.html")
    statuses = page.locator("#numbers tbody td .status").all_inner_texts()
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
    assert '<img src=x onerror="alert(2)">' in page.locator("p.note").inner_text()
    assert page.locator("main script:not([type='application/json'])").count() == 0
    page.screenshot(path=str(artifacts / "run-xss.png"), full_page=True)
    assert p.problems == []
