"""Plotly figure specifications (plain JSON-able dicts) for learning curves and parity plots.

The site renders them with the plotly.js bundle written beside the pages; nothing here needs the
plotly Python API. Names shown in legends are HTML-escaped because plotly.js interprets a small
subset of HTML in text.
"""

from __future__ import annotations

import hashlib
import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mlip_bench.leaderboard.curves import SlopeFit
from mlip_bench.leaderboard.published import PublishedValue
from mlip_bench.leaderboard.tables import COLUMNS_BY_KEY, Curve, CurveFigure, Stat

#: parity key roles, e.g. "energy_ref_ev_per_atom" / "energy_pred_ev_per_atom"
_REF_TOKENS = ("ref", "reference", "true", "target")
_PRED_TOKENS = ("pred", "predicted", "model")
_UNIT_NAMES = {
    "ev_per_atom": "eV/atom",
    "ev_per_a": "eV/Å",
    "ev": "eV",
    "mev": "meV",
    "mev_per_atom": "meV/atom",
    "mev_per_a": "meV/Å",
}
_TO_MEV = {"eV/atom": ("meV/atom", 1000.0), "eV/Å": ("meV/Å", 1000.0), "eV": ("meV", 1000.0)}


@dataclass(frozen=True)
class ParityPair:
    """Reference and predicted samples of one quantity from ``RunRecord.parity``."""

    quantity: str  # e.g. "energy", "force"
    unit: str  # e.g. "eV/atom"
    reference: list[float]
    predicted: list[float]

    def display(self) -> tuple[list[float], list[float], str]:
        """(reference, predicted, axis unit) for plots: meV-based units; energies shifted by the
        mean reference so that the axes show differences, not a large absolute offset."""
        unit, factor = _TO_MEV.get(self.unit, (self.unit, 1.0))
        shift = 0.0
        if self.quantity.startswith("energy") and self.reference:
            shift = sum(self.reference) / len(self.reference)
            unit = f"{unit}, minus mean reference"
        ref = [(r - shift) * factor for r in self.reference]
        pred = [(p - shift) * factor for p in self.predicted]
        return ref, pred, unit

    def sample_text(self, n_frames: int | None) -> str:
        """What the samples are, e.g. "300 of 992 test frames" (energies, one per frame) or
        "1,500 force components sampled from the 992 test frames"."""
        n = len(self.reference)
        if self.quantity.startswith("energy"):
            return f"{n:,} of {n_frames:,} test frames" if n_frames else f"{n:,} test frames"
        where = f"the {n_frames:,} test frames" if n_frames else "the test frames"
        return f"{n:,} {self.quantity} components sampled from {where}"

    @property
    def errors(self) -> tuple[list[float], str]:
        """predicted - reference, in meV-based units when the samples are in eV-based units."""
        unit, factor = _TO_MEV.get(self.unit, (self.unit, 1.0))
        return [(p - r) * factor for r, p in zip(self.reference, self.predicted)], unit


def _split_key(key: str) -> tuple[str, str, str] | None:
    tokens = key.lower().split("_")
    for i, tok in enumerate(tokens):
        if tok in _REF_TOKENS or tok in _PRED_TOKENS:
            role = "ref" if tok in _REF_TOKENS else "pred"
            unit_key = "_".join(tokens[i + 1 :])
            return "_".join(tokens[:i]) or "value", role, _UNIT_NAMES.get(unit_key, unit_key)
    return None


def parity_pairs(parity: dict[str, list[float]]) -> list[ParityPair]:
    """Pair ``<quantity>_ref_<unit>`` with ``<quantity>_pred_<unit>`` keys; unpaired keys are skipped."""
    found: dict[tuple[str, str], dict[str, list[float]]] = {}
    for key, values in parity.items():
        parsed = _split_key(key)
        if parsed is None:
            continue
        quantity, role, unit = parsed
        found.setdefault((quantity, unit), {})[role] = values
    pairs = []
    for (quantity, unit), roles in found.items():
        ref, pred = roles.get("ref"), roles.get("pred")
        if ref is None or pred is None:
            continue
        n = min(len(ref), len(pred))
        keep = [i for i in range(n) if math.isfinite(ref[i]) and math.isfinite(pred[i])]
        pairs.append(ParityPair(quantity, unit, [ref[i] for i in keep], [pred[i] for i in keep]))
    return pairs


def _safe(text: str) -> str:
    return html.escape(text, quote=False)


_BASE_LAYOUT: dict[str, Any] = {
    "margin": {"l": 60, "r": 10, "t": 40, "b": 50},
    "legend": {"orientation": "h", "y": -0.25},
    "template": None,
    "paper_bgcolor": "#ffffff",
    "plot_bgcolor": "#ffffff",
}


STILL_IMPROVING_LABEL = "still improving"
ONE_SEED_LABEL = "one seed, no error bar"

#: a fixed colour and marker per model, the same in every figure of the site. Variants of one
#: network and l_max (``nequip-l1``, ``nequip-l1-cpu``, ``nequip-l1-periodic``) share the colour
#: and differ by marker; unknown models get a colour from a hash of their name.
_BASE_STYLES: dict[str, tuple[str, str]] = {
    "nequip-l0": ("#1f77b4", "circle"),
    "nequip-l1": ("#d62728", "circle"),
    "nequip-l2": ("#2ca02c", "circle"),
    "nequip-l3": ("#9467bd", "circle"),
    "nequip": ("#9467bd", "circle"),
    "schnet": ("#ff7f0e", "square"),
    "schnetpack-schnet": ("#8c564b", "square"),
    "schnetpack-painn": ("#e377c2", "triangle-up"),
    "painn": ("#e377c2", "triangle-up"),
    "dimenet++": ("#17becf", "diamond"),
    "dimenet": ("#17becf", "diamond"),
    "sgdml": ("#7f7f7f", "cross"),
    "gap": ("#bcbd22", "cross"),
    "ace": ("#393b79", "cross"),
    "fchl19": ("#637939", "cross"),
    "deepmd": ("#843c39", "cross"),
}
#: marker by variant suffix; "features" stands for every featuresN width control (512x0e, 173x0e, ...)
_SUFFIX_MARKERS = {"": None, "cpu": None, "periodic": "diamond", "features": "triangle-down"}
_FALLBACK_COLOURS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
#: plotly marker symbol -> matplotlib marker
MPL_MARKERS = {
    "circle": "o",
    "square": "s",
    "diamond": "D",
    "triangle-up": "^",
    "triangle-down": "v",
    "cross": "P",
    "star": "*",
}


@dataclass(frozen=True)
class ModelStyle:
    colour: str
    marker: str  # plotly symbol name

    @property
    def mpl_marker(self) -> str:
        return MPL_MARKERS.get(self.marker, "o")


def model_style(model: str) -> ModelStyle:
    """The colour and marker of ``model`` (a variant name such as ``nequip-l1-cpu``) everywhere."""
    name = model.lower()
    for base in sorted(_BASE_STYLES, key=len, reverse=True):
        if name == base or name.startswith(base + "-"):
            colour, marker = _BASE_STYLES[base]
            suffix = name[len(base) + 1 :].removeprefix("cpu-")  # nequip-l0-cpu-features81 as -features81
            if suffix.startswith("features"):
                suffix = "features"
            if base.startswith("nequip") and _SUFFIX_MARKERS.get(suffix):
                marker = _SUFFIX_MARKERS[suffix]
            return ModelStyle(colour, marker)
    digest = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return ModelStyle(_FALLBACK_COLOURS[digest % len(_FALLBACK_COLOURS)], "circle")


def published_style(value: PublishedValue) -> ModelStyle:
    """Published points: the colour of the matching network (by family and l_max), a star marker."""
    key = value.family.lower()
    if key == "nequip" and value.l_max is not None:
        key = f"nequip-l{value.l_max}"
    return ModelStyle(model_style(key).colour, "star")


def curve_colour(index: int) -> str:
    """Kept for callers that colour by position; figures use :func:`model_style`."""
    return _FALLBACK_COLOURS[index % len(_FALLBACK_COLOURS)]


def nice_ticks(lo: float, hi: float) -> list[float]:
    """Tick values for a log axis spanning [lo, hi]: 1-2-5 (or 1-2-3-5) per decade, as plain numbers."""
    if not (lo > 0 and hi > 0):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    decades = math.log10(hi / lo)
    mantissas = (1.0,) if decades > 4 else (1.0, 2.0, 5.0) if decades > 1.2 else (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
    ticks = []
    for exp in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in mantissas:
            v = float(f"{m * 10**exp:.6g}")
            if lo <= v <= hi:
                ticks.append(v)
    if len(ticks) < 2:  # a narrow range: the ends, rounded to two significant figures
        ticks = sorted({float(f"{lo:.2g}"), float(f"{hi:.2g}")})
    return ticks


def tick_text(value: float) -> str:
    """A tick label that reads as a number: 300, 1,000, 0.5 (never 3 for 300, never 10^2)."""
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


def log_range(values: list[float], pad: float = 0.08) -> tuple[float, float]:
    """(low, high) bounds padded by ``pad`` decades on each side (for axis ranges)."""
    lo, hi = min(values), max(values)
    if lo == hi:
        lo, hi = lo / 1.5, hi * 1.5
    return 10 ** (math.log10(lo) - pad), 10 ** (math.log10(hi) + pad)


def published_for(figure: CurveFigure, column_key: str, published: Iterable[PublishedValue]) -> list[PublishedValue]:
    """Published numbers on the figure's dataset in the column's metric and unit (meV or meV/Å)."""
    out = []
    for v in published:
        if v.dataset != figure.dataset or v.metric != column_key:
            continue
        if v.unit not in ("meV", "meV/Å"):
            continue
        out.append(v)
    return out


#: published points further than this factor outside our training sizes are listed, not drawn
#: (SchNet at 50,000 frames would squeeze a 50-1000 curve into a corner)
PUBLISHED_SPAN = 3.0


def plotted_published(series: list["CurveSeries"], pubs: list[PublishedValue]) -> list[PublishedValue]:
    """The published points to draw: those within PUBLISHED_SPAN of our training sizes."""
    sizes = [n for s in series for n in (*s.certified, *s.improving)]
    if not sizes:
        return pubs
    lo, hi = min(sizes) / PUBLISHED_SPAN, max(sizes) * PUBLISHED_SPAN
    return [v for v in pubs if lo <= v.n_train <= hi]


def x_ticks(series: list["CurveSeries"], pubs: list[PublishedValue]) -> list[float]:
    """Our training sizes, plus published sizes not within 15 % of one (no overlapping labels)."""
    ticks = sorted({float(n) for s in series for n in (*s.certified, *s.improving)})
    for n in sorted({float(v.n_train) for v in pubs}):
        if all(abs(n - t) > 0.15 * t for t in ticks):
            ticks.append(n)
    return sorted(ticks)


def band_grid(lo: float, hi: float, n: int = 24) -> list[float]:
    """Geometric grid from lo to hi for drawing a fitted power law."""
    if hi <= lo:
        return [lo]
    step = (math.log(hi) - math.log(lo)) / (n - 1)
    return [math.exp(math.log(lo) + i * step) for i in range(n)]


@dataclass
class CurveSeries:
    """Everything one curve contributes to one learning-curve panel (shared by plotly and SVG)."""

    curve: Curve
    style: ModelStyle
    certified: dict[int, Stat]
    improving: dict[int, Stat]
    fit: SlopeFit | None
    grid: list[float]
    band: tuple[list[float], list[float], list[float]] | None


def curve_series(figure: CurveFigure, column_key: str, confidence: float = 0.95) -> list[CurveSeries]:
    out = []
    for curve in figure.curves:
        certified = curve.stats_by_n(column_key, certified=True)
        improving = curve.stats_by_n(column_key, certified=False)
        fit = curve.fit(column_key, confidence)
        grid: list[float] = []
        band = None
        if fit is not None:
            grid = band_grid(min(certified), max(certified))
            band = curve.band(column_key, grid, confidence)
        out.append(CurveSeries(curve, model_style(curve.model), certified, improving, fit, grid, band))
    return out


def panel_ranges(
    series: list[CurveSeries], published: list[PublishedValue]
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(x range, y range) covering points, bands, error bars and published values."""
    xs: list[float] = []
    ys: list[float] = []
    for s in series:
        for stats_ in (s.certified, s.improving):
            for n, st in stats_.items():
                xs.append(n)
                ys.append(st.mean)
                if st.std:
                    ys.append(st.mean + st.std)
                    if st.mean - st.std > 0:
                        ys.append(st.mean - st.std)
        if s.band:
            ys.extend(s.band[1] + s.band[2])
    for v in published:
        xs.append(v.n_train)
        ys.append(v.value)
    if not xs:
        return (10.0, 1000.0), (1.0, 100.0)
    return log_range(xs), log_range(ys)


def _err(stats_: dict[int, Stat]) -> list[float | None]:
    """Error-bar half lengths: the std, or None (no bar at all) for a one-seed point."""
    return [st.std if st.std is not None else None for st in stats_.values()]


def learning_curve_figure(
    figure: CurveFigure, column_key: str, published: Iterable[PublishedValue] = (), confidence: float = 0.95
) -> dict[str, Any]:
    """Log-log MAE vs n_train. Per curve: certified points (mean ± std over certified seeds, filled;
    one-seed points without an error bar), the fitted power law with its ``confidence`` band, and
    still-improving points (hollow, labelled, never fitted); then the published numbers on the same
    dataset (star markers, evidence tag in the name). Colours and markers are fixed per model."""
    column = COLUMNS_BY_KEY[column_key]
    unit = _safe(column.unit)
    pct = f"{confidence * 100:.0f} %"
    series = curve_series(figure, column_key, confidence)
    pubs = plotted_published(series, published_for(figure, column_key, published))
    traces: list[dict[str, Any]] = []
    for s in series:
        curve, colour = s.curve, s.style.colour
        if s.band is not None:
            fit_y, low, high = s.band
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": s.grid,
                    "y": low,
                    "line": {"width": 0, "color": colour},
                    "hoverinfo": "skip",
                    "showlegend": False,
                    "legendgroup": curve.key,
                    "meta": {"curve": curve.key, "points": "band-low"},
                }
            )
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": s.grid,
                    "y": high,
                    "fill": "tonexty",
                    "fillcolor": _rgba(colour, 0.15),
                    "line": {"width": 0, "color": colour},
                    "name": _safe(f"{curve.label}: {pct} band of the fit"),
                    "showlegend": False,
                    "hoverinfo": "skip",
                    "legendgroup": curve.key,
                    "meta": {"curve": curve.key, "points": "band"},
                }
            )
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": s.grid,
                    "y": fit_y,
                    "line": {"color": colour, "dash": "dash", "width": 1.5},
                    "showlegend": False,
                    "name": _safe(f"{curve.label}: fit {s.fit.label() if s.fit else ''}"),
                    "legendgroup": curve.key,
                    "meta": {"curve": curve.key, "points": "fit"},
                    "hovertemplate": "fit at n_train %{x:.0f}: %{y:.3g} " + unit + "<extra></extra>",
                }
            )
        if s.certified:
            name = curve.label + (f" — {s.fit.label()}" if s.fit else " — one certified size, no slope")
            seeds = [st.n for st in s.certified.values()]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": _safe(name),
                    "x": list(s.certified),
                    "y": [st.mean for st in s.certified.values()],
                    "customdata": seeds,
                    "error_y": {"type": "data", "array": _err(s.certified), "visible": True, "color": colour},
                    "marker": {"color": colour, "symbol": s.style.marker, "size": 9},
                    "legendgroup": curve.key,
                    "meta": {"curve": curve.key, "points": "certified", "model": curve.model},
                    "hovertemplate": "n_train %{x}<br>%{y:.3g} "
                    + unit
                    + " (certified, %{customdata} seed(s))<extra>%{fullData.name}</extra>",
                }
            )
        if s.improving:
            label_points = not figure.budget_study  # a budget-study figure is still improving throughout
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers+text" if label_points else "markers",
                    "name": _safe(f"{curve.label} — {STILL_IMPROVING_LABEL} (hollow, not fitted)"),
                    "x": list(s.improving),
                    "y": [st.mean for st in s.improving.values()],
                    "customdata": [st.n for st in s.improving.values()],
                    "error_y": {"type": "data", "array": _err(s.improving), "visible": True, "color": colour},
                    "marker": {
                        "color": colour,
                        "symbol": s.style.marker + "-open",
                        "size": 10,
                        "line": {"width": 2, "color": colour},
                    },
                    "text": [STILL_IMPROVING_LABEL] * len(s.improving),
                    "textposition": "top center",
                    "textfont": {"size": 10, "color": colour},
                    "legendgroup": curve.key,
                    "meta": {"curve": curve.key, "points": STILL_IMPROVING_LABEL, "model": curve.model},
                    "hovertemplate": "n_train %{x}<br>%{y:.3g} "
                    + unit
                    + " ("
                    + STILL_IMPROVING_LABEL
                    + ", %{customdata} seed(s): not certified converged, left out of the fit)"
                    + "<extra>%{fullData.name}</extra>",
                }
            )
    for v in pubs:
        style = published_style(v)
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": _safe(f"{v.method} (published, n_train {v.n_train}) [{v.evidence}]"),
                "x": [v.n_train],
                "y": [v.value],
                "marker": {"color": style.colour, "symbol": "star", "size": 13, "line": {"width": 1, "color": "#333"}},
                "meta": {"points": "published", "evidence": v.evidence, "method": v.method},
                "hovertemplate": _safe(
                    f"{v.method}, published: {v.value:.3g} {column.unit} at n_train {v.n_train} "
                    f"[{v.evidence}]; {v.source}"
                )
                + "<extra></extra>",
            }
        )
    (xlo, xhi), (ylo, yhi) = panel_ranges(series, pubs)
    xticks = x_ticks(series, pubs)
    yticks = nice_ticks(ylo, yhi)
    layout = dict(_BASE_LAYOUT)
    title = f"{column.label} vs n_train — {figure.dataset}"
    if figure.budget_study:
        title += " (budget study)"
    layout.update(
        {
            "title": {"text": _safe(title), "font": {"size": 14}},
            "xaxis": {
                "type": "log",
                "title": {"text": "training configurations n_train"},
                "range": [math.log10(xlo), math.log10(xhi)],
                "tickvals": xticks,
                "ticktext": [tick_text(v) for v in xticks],
                "tickangle": 0,
            },
            "yaxis": {
                "type": "log",
                "title": {"text": _safe(column.header)},
                "range": [math.log10(ylo), math.log10(yhi)],
                "tickvals": yticks,
                "ticktext": [tick_text(v) for v in yticks],
            },
            "height": 460,
            "showlegend": True,
            "legend": {"orientation": "h", "y": -0.22, "x": 0, "font": {"size": 11}},
            "margin": {"l": 60, "r": 10, "t": 40, "b": 60},
        }
    )
    return {"data": traces, "layout": layout}


def _rgba(colour: str, alpha: float) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


#: decimals kept in plotted samples (meV, meV/atom, meV/Å): far below what a plot resolves, and
#: it halves the size of the run pages, which embed the samples as JSON
PLOT_DECIMALS = 2


def _rounded(values: list[float]) -> list[float]:
    return [round(v, PLOT_DECIMALS) for v in values]


def parity_figure(pair: ParityPair, n_frames: int | None = None) -> dict[str, Any]:
    """Predicted vs reference scatter with the y = x line."""
    ref, pred, raw_unit = pair.display()
    ref, pred = _rounded(ref), _rounded(pred)
    lo = min(ref + pred) if ref else 0.0
    hi = max(ref + pred) if ref else 1.0
    unit = _safe(raw_unit)
    layout = dict(_BASE_LAYOUT)
    layout.update(
        {
            "title": {
                "text": _safe(f"{pair.quantity}: predicted vs reference ({pair.sample_text(n_frames)})"),
                "font": {"size": 13},
            },
            "xaxis": {"title": {"text": f"reference ({unit})"}},
            "yaxis": {"title": {"text": f"predicted ({unit})"}, "scaleanchor": "x"},
            "height": 400,
            "showlegend": False,
        }
    )
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "x": [lo, hi],
                "y": [lo, hi],
                "name": "y = x",
                "line": {"color": "#999", "dash": "dash"},
                "hoverinfo": "skip",
            },
            {
                "type": "scattergl" if len(ref) > 2000 else "scatter",
                "mode": "markers",
                "x": ref,
                "y": pred,
                "name": _safe(pair.quantity),
                "marker": {"size": 4, "opacity": 0.6},
            },
        ],
        "layout": layout,
    }


def error_histogram_figure(pair: ParityPair, n_frames: int | None = None) -> dict[str, Any]:
    """Histogram of predicted - reference."""
    errors, unit = pair.errors
    errors = _rounded(errors)
    layout = dict(_BASE_LAYOUT)
    layout.update(
        {
            "title": {
                "text": _safe(f"{pair.quantity}: error distribution ({pair.sample_text(n_frames)})"),
                "font": {"size": 13},
            },
            "xaxis": {"title": {"text": f"predicted − reference ({_safe(unit)})"}},
            "yaxis": {"title": {"text": "count"}},
            "height": 400,
            "showlegend": False,
        }
    )
    return {"data": [{"type": "histogram", "x": errors, "nbinsx": 50, "name": _safe(pair.quantity)}], "layout": layout}
