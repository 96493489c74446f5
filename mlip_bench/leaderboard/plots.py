"""Plotly figure specifications (plain JSON-able dicts) for learning curves and parity plots.

The site renders them with the plotly.js bundle written beside the pages; nothing here needs the
plotly Python API. Names shown in legends are HTML-escaped because plotly.js interprets a small
subset of HTML in text.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

from mlip_bench.leaderboard.tables import COLUMNS_BY_KEY, CurveFigure

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


#: one colour per curve, shared by its certified (filled) and still-improving (hollow) points
CURVE_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
STILL_IMPROVING_LABEL = "still improving"


def curve_colour(index: int) -> str:
    return CURVE_COLOURS[index % len(CURVE_COLOURS)]


def learning_curve_figure(figure: CurveFigure, column_key: str) -> dict[str, Any]:
    """Log-log MAE vs n_train, per curve: certified points (mean ± std over certified seeds, filled,
    joined by a line, slope fit in the name) and still-improving points (hollow, labelled
    "still improving", never fitted) as a second trace of the same colour."""
    column = COLUMNS_BY_KEY[column_key]
    unit = _safe(column.unit)
    traces = []
    for index, curve in enumerate(figure.curves):
        colour = curve_colour(index)
        certified = curve.stats_by_n(column_key, certified=True)
        if certified:
            fit = curve.fit(column_key)
            name = curve.label + (f" — {fit.label()}" if fit else " — one certified size, no slope")
            traces.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": _safe(name),
                    "x": list(certified),
                    "y": [s.mean for s in certified.values()],
                    "error_y": {"type": "data", "array": [s.std or 0.0 for s in certified.values()], "visible": True},
                    "marker": {"color": colour, "symbol": "circle", "size": 8},
                    "line": {"color": colour},
                    "legendgroup": curve.key,
                    "meta": {"curve": curve.key, "points": "certified"},
                    "hovertemplate": "n_train %{x}<br>%{y:.3g} " + unit + " (certified)<extra>%{fullData.name}</extra>",
                }
            )
        improving = curve.stats_by_n(column_key, certified=False)
        if improving:
            label_points = not figure.budget_study  # a budget-study figure is still improving throughout
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers+text" if label_points else "markers",
                    "name": _safe(f"{curve.label} — {STILL_IMPROVING_LABEL} (hollow, not fitted)"),
                    "x": list(improving),
                    "y": [s.mean for s in improving.values()],
                    "error_y": {"type": "data", "array": [s.std or 0.0 for s in improving.values()], "visible": True,
                                "color": colour},
                    "marker": {"color": colour, "symbol": "circle-open", "size": 10, "line": {"width": 2, "color": colour}},
                    "text": [STILL_IMPROVING_LABEL] * len(improving),
                    "textposition": "top center",
                    "textfont": {"size": 10, "color": colour},
                    "legendgroup": curve.key,
                    "meta": {"curve": curve.key, "points": STILL_IMPROVING_LABEL},
                    "hovertemplate": "n_train %{x}<br>%{y:.3g} " + unit
                    + " (" + STILL_IMPROVING_LABEL + ": not certified converged, left out of the slope fit)"
                    + "<extra>%{fullData.name}</extra>",
                }
            )
    layout = dict(_BASE_LAYOUT)
    title = f"{column.label} vs n_train — {figure.dataset}"
    if figure.budget_study:
        title += " (budget study, every point still improving)"
    layout.update(
        {
            "title": {"text": _safe(title)},
            "xaxis": {"type": "log", "title": {"text": "training configurations n_train"}},
            "yaxis": {"type": "log", "title": {"text": _safe(f"{column.header}")}},
            "height": 420,
            "showlegend": True,
        }
    )
    return {"data": traces, "layout": layout}


#: decimals kept in plotted samples (meV, meV/atom, meV/Å): far below what a plot resolves, and
#: it halves the size of the run pages, which embed the samples as JSON
PLOT_DECIMALS = 2


def _rounded(values: list[float]) -> list[float]:
    return [round(v, PLOT_DECIMALS) for v in values]


def parity_figure(pair: ParityPair) -> dict[str, Any]:
    """Predicted vs reference scatter with the y = x line."""
    ref, pred, raw_unit = pair.display()
    ref, pred = _rounded(ref), _rounded(pred)
    lo = min(ref + pred) if ref else 0.0
    hi = max(ref + pred) if ref else 1.0
    unit = _safe(raw_unit)
    layout = dict(_BASE_LAYOUT)
    layout.update(
        {
            "title": {"text": _safe(f"{pair.quantity}: predicted vs reference")},
            "xaxis": {"title": {"text": f"reference ({unit})"}},
            "yaxis": {"title": {"text": f"predicted ({unit})"}, "scaleanchor": "x"},
            "height": 400,
            "showlegend": False,
        }
    )
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "x": [lo, hi], "y": [lo, hi], "name": "y = x",
             "line": {"color": "#999", "dash": "dash"}, "hoverinfo": "skip"},
            {"type": "scattergl" if len(ref) > 2000 else "scatter", "mode": "markers",
             "x": ref, "y": pred, "name": _safe(pair.quantity),
             "marker": {"size": 4, "opacity": 0.6}},
        ],
        "layout": layout,
    }


def error_histogram_figure(pair: ParityPair) -> dict[str, Any]:
    """Histogram of predicted - reference."""
    errors, unit = pair.errors
    errors = _rounded(errors)
    layout = dict(_BASE_LAYOUT)
    layout.update(
        {
            "title": {"text": _safe(f"{pair.quantity}: error distribution")},
            "xaxis": {"title": {"text": f"predicted − reference ({_safe(unit)})"}},
            "yaxis": {"title": {"text": "count"}},
            "height": 400,
            "showlegend": False,
        }
    )
    return {"data": [{"type": "histogram", "x": errors, "nbinsx": 50, "name": _safe(pair.quantity)}], "layout": layout}
