"""Static SVG fallbacks of the site's plots (for papers and for browsers without JavaScript).

Rendered with matplotlib's Agg/SVG backend; text is written as text, never parsed as mathtext, and
matplotlib escapes it for XML, so names from run records cannot inject markup.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from mlip_bench.leaderboard.plots import (
    STILL_IMPROVING_LABEL,
    ParityPair,
    curve_series,
    nice_ticks,
    panel_ranges,
    plotted_published,
    published_for,
    published_style,
    tick_text,
    x_ticks,
)
from mlip_bench.leaderboard.published import PublishedValue
from mlip_bench.leaderboard.tables import COLUMNS_BY_KEY, CurveFigure

_RC = {
    "text.parse_math": False,
    # plain tick labels: with parse_math off, mathtext labels would print as raw "$\\mathdefault{10^{2}}$"
    "axes.formatter.use_mathtext": False,
    "svg.fonttype": "none",
    "svg.hashsalt": "mlip-bench",
    "font.size": 9,
}


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return buf.getvalue()


def _fixed_log_ticks(axis, ticks: list[float]) -> None:
    """Ticks at ``ticks`` labelled as plain numbers; no minor labels."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FixedFormatter([tick_text(t) for t in ticks]))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def learning_curve_svg(
    figure: CurveFigure, column_key: str, published: Iterable[PublishedValue] = (), confidence: float = 0.95
) -> str:
    """One panel (one error column): per curve the certified means (± std; one-seed points without
    a bar), the fitted power law with its band, still-improving points hollow and labelled; the
    published numbers as stars with their evidence tags. Legend below the axes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    column = COLUMNS_BY_KEY[column_key]
    series = curve_series(figure, column_key, confidence)
    pubs = plotted_published(series, published_for(figure, column_key, published))
    with matplotlib.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for s in series:
            colour, marker = s.style.colour, s.style.mpl_marker
            if s.band is not None:
                fit_y, low, high = s.band
                ax.fill_between(
                    s.grid,
                    low,
                    high,
                    color=colour,
                    alpha=0.15,
                    linewidth=0,
                    label=f"{s.curve.label}: {confidence * 100:.0f} % band",
                    gid=f"band-{s.curve.key}",
                )
                ax.plot(s.grid, fit_y, color=colour, linestyle="--", linewidth=1.2, gid=f"fit-{s.curve.key}")
            for stats_, hollow in ((s.certified, False), (s.improving, True)):
                if not stats_:
                    continue
                xs, ys = list(stats_), [st.mean for st in stats_.values()]
                errs = [st.std if st.std is not None else float("nan") for st in stats_.values()]
                if hollow:
                    label = f"{s.curve.label}: {STILL_IMPROVING_LABEL} (hollow, not fitted)"
                else:
                    label = s.curve.label + (f" ({s.fit.label()})" if s.fit else "")
                ax.errorbar(
                    xs,
                    ys,
                    yerr=errs,
                    marker=marker,
                    color=colour,
                    linestyle="none",
                    capsize=3,
                    markersize=6,
                    markerfacecolor="none" if hollow else colour,
                    markeredgecolor=colour,
                    label=label,
                )
                if hollow and not figure.budget_study:
                    for x, y in zip(xs, ys):
                        ax.annotate(
                            STILL_IMPROVING_LABEL,
                            (x, y),
                            textcoords="offset points",
                            xytext=(0, 7),
                            ha="center",
                            fontsize=6,
                            color=colour,
                        )
        for v in pubs:
            style = published_style(v)
            ax.plot(
                [v.n_train],
                [v.value],
                marker="*",
                markersize=12,
                color=style.colour,
                markeredgecolor="#333",
                linestyle="none",
                label=f"{v.method} (published, n_train {v.n_train}) [{v.evidence}]",
                gid=f"published-{v.id}",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        (xlo, xhi), (ylo, yhi) = panel_ranges(series, pubs)
        ax.set_xlim(xlo, xhi)
        ax.set_ylim(ylo, yhi)
        _fixed_log_ticks(ax.xaxis, x_ticks(series, pubs))
        _fixed_log_ticks(ax.yaxis, nice_ticks(ylo, yhi))
        ax.set_xlabel("training configurations n_train")
        ax.set_ylabel(column.header)
        title = f"{column.label} vs n_train, {figure.dataset}" + (
            " (budget study: still improving)" if figure.budget_study else ""
        )
        ax.set_title(title)
        ax.grid(True, which="major", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=1, frameon=False)
        text = _svg(fig)
        plt.close(fig)
    return text


def parity_svg(pairs: list[ParityPair], n_frames: int | None = None) -> str:
    """Parity scatter (top) and error histogram (bottom) for each quantity."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(_RC):
        fig, axes = plt.subplots(2, len(pairs), figsize=(4.2 * len(pairs), 7.5), squeeze=False)
        for i, pair in enumerate(pairs):
            ax = axes[0][i]
            ref, pred, unit = pair.display()
            ax.scatter(
                ref, pred, s=4, alpha=0.6, rasterized=True
            )  # thousands of points: one bitmap, not one SVG node each
            if ref:
                lo, hi = min(ref + pred), max(ref + pred)
                ax.plot([lo, hi], [lo, hi], color="0.6", linestyle="--", linewidth=1)
            ax.set_xlabel(f"reference ({unit})")
            ax.set_ylabel(f"predicted ({unit})")
            ax.set_title(f"{pair.quantity}: predicted vs reference\n{pair.sample_text(n_frames)}")
            errors, err_unit = pair.errors
            axes[1][i].hist(errors, bins=50, histtype="stepfilled")  # one path, not 50 bars
            axes[1][i].set_xlabel(f"predicted - reference ({err_unit})")
            axes[1][i].set_ylabel("count")
        fig.tight_layout()
        text = _svg(fig)
        plt.close(fig)
    return text


def stability_svg(figure: CurveFigure, view, setting: str = "") -> str | None:
    """MD stability against n_train (log x), one line per model: mean time to failure (ps; mean ±
    std over seeds, no bar for one seed). A filled marker: every replica ran to the end (the point
    sits on the dotted trajectory-length line, a lower bound); a hollow marker, labelled "k/N
    stable": fewer than all replicas ran to the end. None when no curve of ``figure`` has MD."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from mlip_bench.leaderboard.md_data import stability_summaries
    from mlip_bench.leaderboard.plots import model_style

    points = stability_summaries(figure, view)
    if not points:
        return None
    length = max(s.length_ps for _, summaries in points for s in summaries.values())
    xs_all = sorted({n for _, summaries in points for n in summaries})
    any_hollow = False
    legend: list[tuple[Any, str]] = []
    with matplotlib.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.0, 4.2))
        for curve, summaries in points:
            style = model_style(curve.model)
            colour, marker = style.colour, style.mpl_marker
            xs = list(summaries)
            ys = [s.time_to_failure.mean for s in summaries.values()]
            ax.plot(xs, ys, color=colour, linewidth=1, gid=f"md-line-{curve.key}")
            legend.append((Line2D([], [], color=colour, linewidth=1, marker=marker, markersize=7), curve.label))
            for x, s in summaries.items():
                st = s.time_to_failure
                hollow = s.n_stable < s.n_replicas
                any_hollow = any_hollow or hollow
                ax.errorbar(
                    [x],
                    [st.mean],
                    yerr=[st.std if st.std is not None else float("nan")],
                    marker=marker,
                    color=colour,
                    linestyle="none",
                    capsize=3,
                    markersize=7,
                    markerfacecolor="white" if hollow else colour,  # white: the line does not show through
                    markeredgecolor=colour,
                    gid=f"md-point-{curve.key}-{x}",
                )
                if hollow:
                    ax.annotate(
                        f"{s.stable_text} stable",
                        (x, st.mean),
                        textcoords="offset points",
                        xytext=(7, -3),
                        ha="left",
                        fontsize=6,
                        color=colour,
                    )
        ax.plot(
            [xs_all[0], xs_all[-1]],
            [length, length],
            color="#888",
            linestyle=":",
            linewidth=1,
            label=f"trajectory length ({length:g} ps): stable throughout",
            gid="md-length",
        )
        ax.set_xscale("log")
        lo, hi = xs_all[0], xs_all[-1]
        ax.set_xlim(lo / 1.3, hi * 1.3)
        top = max(
            [length] + [s.time_to_failure.mean + (s.time_to_failure.std or 0) for _, ss in points for s in ss.values()]
        )
        ax.set_ylim(0, top * 1.15)
        _fixed_log_ticks(ax.xaxis, [float(x) for x in xs_all])
        ax.set_xlabel("training configurations n_train")
        ax.set_ylabel("mean time to failure (ps)")
        ax.set_title(f"MD stability vs n_train, {figure.dataset}" + (f"\n{setting}" if setting else ""))
        ax.grid(True, which="major", alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        handles, labels = [h for h, _ in legend] + handles, [t for _, t in legend] + labels
        if any_hollow:
            handles.append(
                Line2D([], [], marker="o", color="0.3", markerfacecolor="none", linestyle="none", markersize=7)
            )
            labels.append("hollow: fewer than all replicas ran to the end (k/N stable)")
        ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=1, frameon=False)
        text = _svg(fig)
        plt.close(fig)
    return text
