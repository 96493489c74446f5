"""Render run records and published numbers into a static site that works from file:// offline.

Layout of the output folder::

    index.html            one section per dataset: sortable, filterable table
    curves.html           learning curves (log-log) with fitted power laws, bands and published points
    replication.html      summary, claims, then published numbers beside our measurements
    protocols.html        each protocol's budget in words and how its runs ended
    cite.html             how to cite, licence, every download
    models/<model>.html   per-model pages (architecture, parameters, cost per hardware, config, paper)
    runs/<run>.html       per-run pages (config, metrics, parity, MD benchmarks, provenance, reproduce command)
    md/<md_id>.*.png      the h(r)/RDF figures of MD records, shown on their run's page
    records/<run>.json    each run's raw record (UTF-8 JSON)
    data/*.csv, *.json    every table as CSV and JSON
    figures/*.svg         static fallbacks of every plot (learning curves, parity, MD stability)
    assets/               site.js, site.css; plotly.min.js and plots.js (pages with plots only)

The site is built in a temporary folder beside ``out_dir`` and moved into place, so a failed
build never leaves a half-written site.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from mlip_bench.errors import ConfigError, ResultsError
from mlip_bench.leaderboard import site_data
from mlip_bench.leaderboard.coverage import default_plan_path, load_plan, plan_coverage
from mlip_bench.leaderboard.md_data import RunMD, load_md_files, md_by_run, md_folders, md_view, stability_figure
from mlip_bench.leaderboard.md_data import attach_to_sections as attach_md
from mlip_bench.leaderboard.plots import error_histogram_figure, learning_curve_figure, parity_figure, parity_pairs
from mlip_bench.leaderboard.published import Published, default_published_path, load_published
from mlip_bench.leaderboard.replication import replicate
from mlip_bench.leaderboard.tables import (
    DISPLAY_RENAMES,
    build_curves,
    convergence_detail,
    convergence_label,
    dataset_sections,
    group_figures,
    hardware_of,
    protocol_words,
)
from mlip_bench.paths import CHECKOUT_ROOT
from mlip_bench.results.schema import RunRecord

#: file marking a folder as a generated site (only such folders are ever replaced)
SITE_MARKER = ".mlip-bench-site"
CURVE_COLUMNS = ("force_mae", "energy_mae")
_STATIC = Path(__file__).with_name("static")


def load_result_records(results_dirs: list[Path]) -> list[RunRecord]:
    """Validated records from each folder (or file); ``ResultsError`` names the file and field."""
    from mlip_bench.results.io import load_records

    records: list[RunRecord] = []
    seen: dict[str, Path] = {}
    for source in results_dirs:
        source = Path(source)
        if not source.exists():
            raise ResultsError(f"results folder {source} does not exist; pass a folder holding run records")
        for record in load_records([source]):
            if record.run_id in seen:
                raise ResultsError(
                    f"run id {record.run_id!r} appears twice (in {seen[record.run_id]} and {source}); pass each results folder once"
                )
            seen[record.run_id] = source
            records.append(record)
    return records


def safe_stem(name: str) -> str:
    """``name`` as a file-name stem: safe characters only, a hash suffix when anything was replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "run"
    if safe != name or len(safe) > 120:
        safe = f"{safe[:100]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return safe


def run_page_name(run_id: str) -> str:
    """A file name for a run page: safe characters only, a hash suffix when anything was replaced."""
    return f"{safe_stem(run_id)}.html"


def reproduce_command(record: RunRecord, dataset_name: str | None = None) -> str:
    """The shell line that reruns exactly this cell (model, data, size, this one seed, protocol).

    ``dataset_name``: the stored name when the site shows another (``water`` shown as
    ``water-deepmd``). Protocol overrides (a ``+<hash>`` protocol label) cannot be turned back into
    options here; the command then says so.
    """
    base_protocol, _, tag = record.protocol.partition("+")
    dataset = dataset_name or record.dataset.name
    command = " ".join(
        [
            "mlip-bench run",
            shlex.quote(record.model),
            "--dataset",
            shlex.quote(dataset),
            "--n-train",
            str(int(record.n_train)),
            "--seed",
            str(int(record.seed)),
            "--protocol",
            shlex.quote(base_protocol),
        ]
    )
    if tag:
        command += (
            f"\n# plus the overrides of protocol {record.protocol}: see the protocol config below; "
            "add them with --set KEY=VALUE"
        )
    return command


def _sig(value: float | None, digits: int = 3) -> str:
    """Format with ``digits`` significant figures (no exponent for ordinary magnitudes)."""
    if value is None:
        return "—"
    if value == 0 or not (1e-4 <= abs(value) < 1e7):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("mlip_bench.leaderboard", "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sig"] = _sig
    return env


def _render_markdown(path: Path) -> Markup:
    """REPLICATION.md as HTML; raw HTML in the file is escaped, not passed through."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return Markup(md.render(path.read_text(encoding="utf-8")))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _copy_assets(site: Path) -> None:
    import plotly

    assets = site / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    bundle = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not bundle.is_file():
        raise ConfigError(f"plotly.min.js not found in {bundle.parent}; reinstall plotly (pip install 'plotly>=5.18')")
    shutil.copyfile(bundle, assets / "plotly.min.js")
    for name in ("site.js", "plots.js", "site.css"):
        shutil.copyfile(_STATIC / name, assets / name)


def _prepare_out_dir(out_dir: Path) -> Path:
    """A fresh temporary folder beside ``out_dir``; refuses to later replace a folder that is not a site."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ConfigError(f"{out_dir} exists and is not a folder; choose another --out")
        if any(out_dir.iterdir()) and not (out_dir / SITE_MARKER).exists():
            raise ConfigError(
                f"{out_dir} is not empty and was not made by `mlip-bench leaderboard build`; choose another --out"
            )
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    tmp.chmod(0o755)
    return tmp


def _swap_into_place(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_site(
    results_dirs: list[Path],
    out_dir: Path,
    published: Path | None = None,
    *,
    replication_md: Path | None = None,
    static_figures: bool = True,
    md_dirs: list[Path] | None = None,
    plan: Path | None = None,
) -> Path:
    """Build the leaderboard from the run records under ``results_dirs`` into ``out_dir``.

    ``published``: the published-numbers YAML; None uses ``baselines/published.yaml`` of this
    checkout when it exists. ``replication_md``: a Markdown report shown on the replication page;
    None uses ``REPLICATION.md`` at the checkout root when it exists. ``static_figures``: also write
    SVG fallbacks (needs matplotlib). ``md_dirs``: folders of MD records besides each results
    folder's own ``md/`` (see ``leaderboard.md_data``). ``plan``: a planned-curves YAML whose
    coverage the curves page shows (``leaderboard.coverage``); None uses
    ``leaderboard/planned_curves.yaml`` of this checkout when it exists. Returns the path of ``index.html``.
    Raises ``ResultsError`` for a record failing validation (naming file and field), and when the
    folders hold no run record at all (a blank site would look like a working one).
    """
    out_dir = Path(out_dir)
    stored_records = load_result_records([Path(p) for p in results_dirs])
    if not stored_records:
        where = ", ".join(str(p) for p in results_dirs) or "no folder given"
        raise ResultsError(
            f"no run records in {where}; train some first (`mlip-bench demo` or `mlip-bench run MODEL --out DIR`) "
            "and pass that folder with --results"
        )
    records, stored_names = site_data.display_records(stored_records)
    pub: Published | None = None
    if published is not None:
        pub = load_published(Path(published))
    elif default_published_path().is_file():
        pub = load_published(default_published_path())
    if replication_md is None:
        candidate = CHECKOUT_ROOT / "REPLICATION.md"
        replication_md = candidate if candidate.is_file() else None

    if plan is None:
        plan = default_plan_path()
    coverage = plan_coverage(load_plan(plan), stored_records) if plan is not None else None

    sections = dataset_sections(records, pub.values if pub else ())
    curves = build_curves(records)
    figures = group_figures(curves)
    md_files = load_md_files(md_folders([Path(p) for p in results_dirs], [Path(p) for p in md_dirs or ()]))
    md = md_view((m for m, _ in md_files), {r.run_id: r.dataset.name for r in records})
    md_of_run = md_by_run(md_files, md)
    attach_md(sections, md)
    rep = replicate(pub, records, figures) if pub else None
    run_pages = {r.run_id: run_page_name(r.run_id) for r in records}
    if len(set(run_pages.values())) != len(run_pages):
        raise ResultsError("two run ids map to the same page name; rename one of the runs")
    model_pages = {m: site_data.model_page_name(m) for m in sorted({r.model for r in records})}
    protocols = site_data.protocol_summaries(records)
    complete = [r for r in records if r.status == "complete"]
    n_unconverged = sum(not r.certified for r in complete)
    published_values = list(pub.values) if pub else []

    env = _environment()
    common: dict[str, Any] = {
        "version": _package_version(),
        "built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "paper": pub.file.paper if pub else {},
        "evidence_tags": pub.file.evidence_tags if pub else {},
        "run_pages": run_pages,
        "model_pages": model_pages,
        "protocol_anchor": site_data.protocol_anchor,
        "renames": {new: (old, why) for old, (new, why) in DISPLAY_RENAMES.items()},
        "site_unconverged": n_unconverged,
        "site_complete": len(complete),
        "with_plots": False,
    }

    tmp = _prepare_out_dir(out_dir)
    try:
        _copy_assets(tmp)
        (tmp / SITE_MARKER).write_text("generated by mlip-bench leaderboard build\n")
        downloads = site_data.Downloads(tmp / "data")
        for s_ in sections:
            if s_.rows:
                downloads.add(f"t-{s_.anchor}", *site_data.leaderboard_table(s_, s_.rows))
            if s_.budget_rows:
                downloads.add(f"t-budget-{s_.anchor}", *site_data.leaderboard_table(s_, s_.budget_rows))
        all_rows = [row for s_ in sections for row in (*s_.rows, *s_.budget_rows)]
        downloads.add("leaderboard", *site_data.leaderboard_table(None, all_rows, sections))
        test_sets = {s_.dataset: site_data.test_set_text(s_.dataset, records) for s_ in sections}
        _write(
            tmp / "index.html",
            env.get_template("index.html").render(
                **common,
                root="",
                page="index",
                sections=sections,
                n_records=len(records),
                n_failed=sum(r.status != "complete" for r in records),
                n_datasets_run=len({r.dataset.name for r in records}),
                published_path=_display_path(Path(pub.path)) if pub else "",
                curve_links={
                    d: [f.key for f in figures if f.dataset == d and not f.budget_study]
                    for d in {f.dataset for f in figures}
                },
                budget_links={
                    d: [f.key for f in figures if f.dataset == d and f.budget_study]
                    for d in {f.dataset for f in figures}
                },
                test_sets=test_sets,
                page_unconverged=n_unconverged,
            ),
        )
        plotted = [f for f in figures if not site_data.single_size(f)]
        specs = {
            f.key: {col: learning_curve_figure(f, col, published_values) for col in CURVE_COLUMNS} for f in plotted
        }
        md_specs = {f.key: spec for f in plotted if (spec := stability_figure(f, md)) is not None}
        fits = {c.key: {col: c.fit(col) for col in CURVE_COLUMNS} for c in curves}  # certified points only
        downloads.add("slopes", *site_data.slopes_table(figures, fits))
        single_tables = {f.key: site_data.single_size_rows(f) for f in figures if site_data.single_size(f)}
        _write(
            tmp / "curves.html",
            env.get_template("curves.html").render(
                **{**common, "with_plots": bool(plotted)},
                root="",
                page="curves",
                figures=figures,
                specs=specs,
                md_specs=md_specs,
                md_settings=md.settings,
                fits=fits,
                confidence=0.95,
                static_figures=static_figures,
                single_tables=single_tables,
                published_by_figure={
                    f.key: [v for col in CURVE_COLUMNS for v in site_data.published_on(f, col, published_values)]
                    for f in figures
                },
                budget_figures=[f for f in figures if f.budget_study],
                budget_protocols=sorted({c.protocol for c in curves if c.budget_study}),
                page_unconverged=sum(not r.certified for c in curves for r in c.runs),
                coverage=coverage,
            ),
        )
        if rep:
            downloads.add("replication-numbers", *site_data.numbers_table(rep))
            downloads.add("replication-claims", *site_data.claims_table(rep))
        _write(
            tmp / "replication.html",
            env.get_template("replication.html").render(
                **common,
                root="",
                page="replication",
                rep=rep,
                replication_md=_render_markdown(replication_md) if replication_md else None,
                ran=site_data.what_we_ran(records),
                page_unconverged=n_unconverged,
            ),
        )
        _write(
            tmp / "protocols.html",
            env.get_template("protocols.html").render(
                **common,
                root="",
                page="protocols",
                protocols=protocols,
                page_unconverged=n_unconverged,
            ),
        )
        model_infos = site_data.model_infos(records)
        downloads.add("models", *site_data.models_table(model_infos))
        model_template = env.get_template("model.html")
        for info in model_infos:
            _write(
                tmp / "models" / model_pages[info.model],
                model_template.render(
                    **common,
                    root="../",
                    page="model",
                    m=info,
                    page_unconverged=sum(not r.certified for r in info.runs if r.status == "complete"),
                ),
            )
        anchors = {s_.dataset: s_.anchor for s_ in sections}
        run_template = env.get_template("run.html")
        stored_by_id = {r.run_id: r for r in stored_records}
        for record in records:
            page_id = run_pages[record.run_id][: -len(".html")]
            raw = stored_by_id[record.run_id]
            _write(
                tmp / "records" / f"{page_id}.json",
                json.dumps(raw.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")) + "\n",
            )
            _write(
                tmp / "runs" / run_pages[record.run_id],
                _render_run(
                    run_template,
                    common,
                    record,
                    anchors,
                    static_figures,
                    stored_names.get(record.run_id),
                    _copy_md_figures(tmp, md_of_run.get(record.run_id, [])),
                ),
            )
        if static_figures:
            _write_static_figures(tmp, plotted, records, run_pages, published_values)
            _write_stability_svgs(tmp, [f for f in plotted if f.key in md_specs], md)
        _write(
            tmp / "cite.html",
            env.get_template("cite.html").render(
                **common,
                root="",
                page="cite",
                downloads=downloads.files,
                page_unconverged=0,
                citation_cff=site_data.citation_text(CHECKOUT_ROOT),
            ),
        )
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "index.html"


def _render_run(
    template,
    common: dict[str, Any],
    record: RunRecord,
    anchors: dict[str, str],
    static_figures: bool,
    stored_name: str | None = None,
    md_runs: list[dict[str, Any]] | None = None,
) -> str:
    page_id = run_page_name(record.run_id)[: -len(".html")]
    pairs = parity_pairs(record.parity)
    test = record.metrics.get("test")
    n_frames = test.n_frames if test else None
    parity_specs = []
    for i, pair in enumerate(pairs):
        parity_specs.append(
            (
                f"p{i}-parity",
                parity_figure(pair, n_frames),
                f"{pair.quantity}: predicted vs reference ({pair.display()[2]}); {pair.sample_text(n_frames)}",
            )
        )
        parity_specs.append(
            (
                f"p{i}-hist",
                error_histogram_figure(pair, n_frames),
                f"{pair.quantity}: error histogram; {pair.sample_text(n_frames)}",
            )
        )
    env_dump = record.environment.model_dump()
    known = {"hostname", "platform", "cpu", "gpu", "device", "threads", "python", "packages", "git_commit", "git_dirty"}
    commit = record.environment.git_commit
    if not commit:
        provenance_warning = "This run's git commit is unknown: the code that produced it cannot be recovered exactly."
    elif record.environment.git_dirty:
        provenance_warning = (
            f"This run was made from commit {commit[:12]} with uncommitted changes (a dirty working tree): "
            "that commit alone may not reproduce it."
        )
    else:
        provenance_warning = ""
    return template.render(
        **{**common, "with_plots": bool(pairs)},
        root="../",
        page="run",
        r=record,
        page_id=page_id,
        anchor=anchors.get(record.dataset.name, ""),
        parity_specs=parity_specs,
        svg_href=f"../figures/run-{page_id}.svg" if (static_figures and pairs) else None,
        reproduce=reproduce_command(record, stored_name),
        stored_name=stored_name,
        hardware=hardware_of(record),
        convergence=convergence_label(record),
        convergence_detail=convergence_detail(record),
        protocol_text=protocol_words([record]),
        provenance_warning=provenance_warning,
        record_href=f"../records/{page_id}.json",
        env=env_dump,
        env_extra={
            k: json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
            for k, v in env_dump.items()
            if k not in known
        },
        model_config_json=json.dumps(
            record.model_config_full, indent=2, sort_keys=True, default=str, ensure_ascii=False
        ),
        protocol_config_json=json.dumps(
            record.protocol_config, indent=2, sort_keys=True, default=str, ensure_ascii=False
        ),
        page_unconverged=0 if record.certified or record.status != "complete" else 1,
        md_runs=md_runs or [],
    )


def _copy_md_figures(site: Path, items: list[RunMD]) -> list[dict[str, Any]]:
    """The run page's MD records, their figures copied to ``md/`` in the site (hrefs from ``runs/``)."""
    out = []
    for item in items:
        stem = safe_stem(item.record.md_id)
        figures = []
        for source, suffix, words in item.figures:
            name = stem + re.sub(r"[^A-Za-z0-9._-]", "_", suffix)
            target = site / "md" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            figures.append((f"../md/{name}", words))
        out.append({"m": item, "r": item.record, "figures": figures, "anchor": f"md-{stem}"})
    return out


def _write_static_figures(
    site: Path, figures, records: list[RunRecord], run_pages: dict[str, str], published=()
) -> None:
    from mlip_bench.leaderboard.static_figures import learning_curve_svg, parity_svg

    for fig in figures:
        for col in CURVE_COLUMNS:
            _write(site / "figures" / f"{fig.key}-{col}.svg", learning_curve_svg(fig, col, published))
    for record in records:
        pairs = parity_pairs(record.parity)
        if pairs:
            page_id = run_pages[record.run_id][: -len(".html")]
            test = record.metrics.get("test")
            _write(site / "figures" / f"run-{page_id}.svg", parity_svg(pairs, test.n_frames if test else None))


def _write_stability_svgs(site: Path, figures, md) -> None:
    """``figures/<key>-md.svg``: the static fallback of each MD stability figure."""
    from mlip_bench.leaderboard.static_figures import stability_svg

    for fig in figures:
        text = stability_svg(fig, md, md.settings.get(fig.dataset, ""))
        if text is not None:
            _write(site / "figures" / f"{fig.key}-md.svg", text)


def _display_path(path: Path) -> str:
    """``path`` relative to the checkout root when inside it (no local absolute paths on pages)."""
    root = CHECKOUT_ROOT
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return path.name


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("mlip-bench")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return "dev"
