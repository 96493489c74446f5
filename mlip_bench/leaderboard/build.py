"""Render run records and published numbers into a static site that works from file:// offline.

Layout of the output folder::

    index.html            one section per dataset: sortable, filterable table
    curves.html           learning curves (log-log) with fitted slopes
    replication.html      published numbers and claims beside our measurements
    runs/<run>.html       per-run pages (config, metrics, parity, provenance, reproduce command)
    figures/*.svg         static fallbacks of every plot
    assets/               plotly.min.js (from the installed plotly package), site.js, site.css

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
from mlip_bench.leaderboard.plots import error_histogram_figure, learning_curve_figure, parity_figure, parity_pairs
from mlip_bench.leaderboard.published import Published, default_published_path, load_published
from mlip_bench.paths import CHECKOUT_ROOT
from mlip_bench.leaderboard.replication import replicate
from mlip_bench.leaderboard.tables import (
    build_curves,
    convergence_detail,
    convergence_label,
    dataset_sections,
    group_figures,
    hardware_of,
)
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


def run_page_name(run_id: str) -> str:
    """A file name for a run page: safe characters only, a hash suffix when anything was replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", run_id).strip(".") or "run"
    if safe != run_id or len(safe) > 120:
        safe = f"{safe[:100]}-{hashlib.sha256(run_id.encode()).hexdigest()[:8]}"
    return f"{safe}.html"


def reproduce_command(record: RunRecord) -> str:
    """The ``mlip-bench run`` command that reruns this cell (same model, data, size, seed, protocol).

    ``--seeds K`` runs seeds 0..K-1 (each seed draws its own split), so the command asks for
    ``seed + 1`` seeds; finished seeds are skipped. Protocol overrides (a ``+<hash>`` protocol
    label) cannot be turned back into ``--set`` options here; the command then says so.
    """
    base_protocol, _, tag = record.protocol.partition("+")
    parts = [
        "mlip-bench", "run", record.model,
        "--dataset", record.dataset.name,
        "--n-train", str(record.n_train),
        "--seeds", str(record.seed + 1),
        "--protocol", base_protocol,
    ]
    command = " ".join(shlex.quote(p) for p in parts)
    if tag:
        command += f"  # plus the overrides of protocol {record.protocol}: see the protocol config below, pass them with --set KEY=VALUE"
    return command


def _sig(value: float | None, digits: int = 3) -> str:
    """Format with ``digits`` significant figures (no exponent for ordinary magnitudes)."""
    if value is None:
        return "—"
    if value == 0 or not (1e-4 <= abs(value) < 1e7):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"


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
    for name in ("site.js", "site.css"):
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
) -> Path:
    """Build the leaderboard from the run records under ``results_dirs`` into ``out_dir``.

    ``published``: the published-numbers YAML; None uses ``baselines/published.yaml`` of this
    checkout when it exists. ``replication_md``: a Markdown report shown on the replication page;
    None uses ``REPLICATION.md`` at the checkout root when it exists. ``static_figures``: also write
    SVG fallbacks (needs matplotlib). Returns the path of ``index.html``.
    Raises ``ResultsError`` for a record failing validation (naming file and field).
    """
    out_dir = Path(out_dir)
    records = load_result_records([Path(p) for p in results_dirs])
    pub: Published | None = None
    if published is not None:
        pub = load_published(Path(published))
    elif default_published_path().is_file():
        pub = load_published(default_published_path())
    if replication_md is None:
        candidate = CHECKOUT_ROOT / "REPLICATION.md"
        replication_md = candidate if candidate.is_file() else None

    sections = dataset_sections(records, pub.values if pub else ())
    curves = build_curves(records)
    figures = group_figures(curves)
    rep = replicate(pub, records, figures) if pub else None
    run_pages = {r.run_id: run_page_name(r.run_id) for r in records}
    if len(set(run_pages.values())) != len(run_pages):
        raise ResultsError("two run ids map to the same page name; rename one of the runs")

    env = _environment()
    common: dict[str, Any] = {
        "version": _package_version(),
        "built": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "paper": pub.file.paper if pub else {},
        "evidence_tags": pub.file.evidence_tags if pub else {},
        "run_pages": run_pages,
    }

    tmp = _prepare_out_dir(out_dir)
    try:
        _copy_assets(tmp)
        (tmp / SITE_MARKER).write_text("generated by mlip-bench leaderboard build\n")
        _write(
            tmp / "index.html",
            env.get_template("index.html").render(
                **common, root="", page="index", sections=sections,
                n_records=len(records), n_failed=sum(r.status != "complete" for r in records),
                n_datasets_run=len({r.dataset.name for r in records}),
                published_path=_display_path(Path(pub.path)) if pub else "",
                curve_links={d: [f.key for f in figures if f.dataset == d and not f.budget_study] for d in {f.dataset for f in figures}},
                budget_links={d: [f.key for f in figures if f.dataset == d and f.budget_study] for d in {f.dataset for f in figures}},
            ),
        )
        specs = {f.key: {col: learning_curve_figure(f, col) for col in CURVE_COLUMNS} for f in figures}
        fits = {c.key: {col: c.fit(col) for col in CURVE_COLUMNS} for c in curves}  # certified points only
        _write(
            tmp / "curves.html",
            env.get_template("curves.html").render(
                **common, root="", page="curves", figures=figures, specs=specs, fits=fits, confidence=0.95,
                static_figures=static_figures,
                budget_figures=[f for f in figures if f.budget_study],
                budget_protocols=sorted({c.protocol for c in curves if c.budget_study}),
            ),
        )
        _write(
            tmp / "replication.html",
            env.get_template("replication.html").render(
                **common, root="", page="replication", rep=rep,
                replication_md=_render_markdown(replication_md) if replication_md else None,
            ),
        )
        anchors = {s.dataset: s.anchor for s in sections}
        run_template = env.get_template("run.html")
        for record in records:
            _write(tmp / "runs" / run_pages[record.run_id], _render_run(run_template, common, record, anchors, static_figures))
        if static_figures:
            _write_static_figures(tmp, figures, records, run_pages)
        _swap_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "index.html"


def _render_run(template, common: dict[str, Any], record: RunRecord, anchors: dict[str, str], static_figures: bool) -> str:
    page_id = run_page_name(record.run_id)[: -len(".html")]
    pairs = parity_pairs(record.parity)
    parity_specs = []
    for i, pair in enumerate(pairs):
        parity_specs.append((f"p{i}-parity", parity_figure(pair), f"{pair.quantity}: predicted vs reference ({pair.display()[2]})"))
        parity_specs.append((f"p{i}-hist", error_histogram_figure(pair), f"{pair.quantity}: error histogram"))
    env_dump = record.environment.model_dump()
    known = {"hostname", "platform", "cpu", "gpu", "device", "threads", "python", "packages", "git_commit", "git_dirty"}
    return template.render(
        **common,
        root="../",
        page="run",
        r=record,
        page_id=page_id,
        anchor=anchors.get(record.dataset.name, ""),
        parity_specs=parity_specs,
        svg_href=f"../figures/run-{page_id}.svg" if (static_figures and pairs) else None,
        reproduce=reproduce_command(record),
        hardware=hardware_of(record),
        convergence=convergence_label(record),
        convergence_detail=convergence_detail(record),
        env=env_dump,
        env_extra={k: json.dumps(v) if not isinstance(v, str) else v for k, v in env_dump.items() if k not in known},
        model_config_json=json.dumps(record.model_config_full, indent=2, sort_keys=True, default=str),
        protocol_config_json=json.dumps(record.protocol_config, indent=2, sort_keys=True, default=str),
    )


def _write_static_figures(site: Path, figures, records: list[RunRecord], run_pages: dict[str, str]) -> None:
    from mlip_bench.leaderboard.static_figures import learning_curve_svg, parity_svg

    for fig in figures:
        _write(site / "figures" / f"{fig.key}.svg", learning_curve_svg(fig, CURVE_COLUMNS))
    for record in records:
        pairs = parity_pairs(record.parity)
        if pairs:
            page_id = run_pages[record.run_id][: -len(".html")]
            _write(site / "figures" / f"run-{page_id}.svg", parity_svg(pairs))


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
