"""Static SVG fallbacks of the site's plots (for papers and for browsers without JavaScript).

Rendered with matplotlib's Agg/SVG backend; text is written as text, never parsed as mathtext, and
matplotlib escapes it for XML, so names from run records cannot inject markup.
"""

from __future__ import annotations

import io
from typing import Iterable

from mlip_bench.leaderboard.plots import STILL_IMPROVING_LABEL, ParityPair, curve_colour
from mlip_bench.leaderboard.tables import COLUMNS_BY_KEY, CurveFigure

_RC = {
    "text.parse_math": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "mlip-bench",
    "font.size": 9,
}


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def learning_curve_svg(figure: CurveFigure, column_keys: Iterable[str]) -> str:
    """Log-log MAE vs n_train, one panel per column, error bars over seeds, slope in the legend;
    still-improving points hollow and labelled, left out of the fit."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    keys = list(column_keys)
    with matplotlib.rc_context(_RC):
        fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.0), squeeze=False)
        for ax, key in zip(axes[0], keys):
            column = COLUMNS_BY_KEY[key]
            for index, curve in enumerate(figure.curves):
                colour = curve_colour(index)
                certified = curve.stats_by_n(key, certified=True)
                if certified:
                    fit = curve.fit(key)
                    ax.errorbar(
                        list(certified),
                        [s.mean for s in certified.values()],
                        yerr=[s.std or 0.0 for s in certified.values()],
                        marker="o",
                        color=colour,
                        capsize=3,
                        label=curve.label + (f"\n{fit.label()}" if fit else ""),
                    )
                improving = curve.stats_by_n(key, certified=False)
                if improving:
                    xs, ys = list(improving), [s.mean for s in improving.values()]
                    ax.errorbar(
                        xs,
                        ys,
                        yerr=[s.std or 0.0 for s in improving.values()],
                        marker="o",
                        markerfacecolor="none",
                        markeredgecolor=colour,
                        color=colour,
                        linestyle="none",
                        capsize=3,
                        label=f"{curve.label}: {STILL_IMPROVING_LABEL} (hollow, not fitted)",
                    )
                    if not figure.budget_study:
                        for x, y in zip(xs, ys):
                            ax.annotate(STILL_IMPROVING_LABEL, (x, y), textcoords="offset points", xytext=(0, 7),
                                        ha="center", fontsize=6, color=colour)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("training configurations n_train")
            ax.set_ylabel(column.header)
            ax.set_title(f"{figure.dataset}" + (" (budget study: still improving)" if figure.budget_study else ""))
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
        fig.tight_layout()
        text = _svg(fig)
        plt.close(fig)
    return text


def parity_svg(pairs: list[ParityPair]) -> str:
    """Parity scatter (top) and error histogram (bottom) for each quantity."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(_RC):
        fig, axes = plt.subplots(2, len(pairs), figsize=(4.2 * len(pairs), 7.5), squeeze=False)
        for i, pair in enumerate(pairs):
            ax = axes[0][i]
            ref, pred, unit = pair.display()
            ax.scatter(ref, pred, s=4, alpha=0.6, rasterized=True)  # thousands of points: one bitmap, not one SVG node each
            if ref:
                lo, hi = min(ref + pred), max(ref + pred)
                ax.plot([lo, hi], [lo, hi], color="0.6", linestyle="--", linewidth=1)
            ax.set_xlabel(f"reference ({unit})")
            ax.set_ylabel(f"predicted ({unit})")
            ax.set_title(f"{pair.quantity}: predicted vs reference")
            errors, err_unit = pair.errors
            axes[1][i].hist(errors, bins=50)
            axes[1][i].set_xlabel(f"predicted - reference ({err_unit})")
            axes[1][i].set_ylabel("count")
        fig.tight_layout()
        text = _svg(fig)
        plt.close(fig)
    return text
