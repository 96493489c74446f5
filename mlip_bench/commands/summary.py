"""The table of run metrics that ``run``, ``results list`` and ``demo`` close with.

It fits the width it is printed in. Where the full table (model, dataset, protocol, every error
column, status) fits, that is what is shown. In a narrower terminal (an ordinary 80 columns) the
full table would cut every name to "neq…", so a compact table is shown instead: each distinct
(model, dataset, protocol) gets a one-letter key, the columns get short headers, and a legend
under the table spells out the keys and headers; failed runs are listed below it with their error.
Nothing is ever truncated.
"""

from __future__ import annotations

import string
from typing import Any

#: the full table's columns (numbers right-aligned)
FULL_COLUMNS = (
    "model",
    "dataset",
    "n_train",
    "seed",
    "protocol",
    "E MAE (meV)",
    "E MAE (meV/atom)",
    "F MAE (meV/Å)",
    "F RMSE (meV/Å)",
    "steps",
    "train (s)",
    "status",
)
#: the compact table's short headers and what they mean
COMPACT_LEGEND = (
    "E, E/at: test energy MAE (meV, meV/atom); F, F rms: test force MAE, RMSE (meV/Å); "
    "time: training (s); ✗: failed (below)"
)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _metrics(record) -> tuple[str, str, str, str]:
    m = record.metrics.get("test")
    if m is None:
        return ("-", "-", "-", "-")
    return (
        _fmt(m.energy_mae_mev),
        _fmt(m.energy_mae_mev_per_atom),
        _fmt(m.force_mae_mev_per_a),
        _fmt(m.force_rmse_mev_per_a),
    )


def _cost(record) -> tuple[str, str]:
    t = record.timings
    return (str(t.steps), f"{t.train_seconds:.0f}") if t else ("-", "-")


def full_table(records: list, title: str):
    """Every column, one row per record (names escaped: rich never reads them as markup)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    for column in FULL_COLUMNS:
        table.add_column(
            column,
            justify="right" if column[0].isupper() or column in ("n_train", "seed", "steps") else "left",
            no_wrap=column in ("model", "dataset", "protocol"),
        )
    for r in records:
        table.add_row(
            escape(r.model),
            escape(r.dataset.name),
            str(r.n_train),
            str(r.seed),
            escape(r.protocol),
            *_metrics(r),
            *_cost(r),
            escape(r.status if r.status == "complete" else f"{r.status}: {(r.error or '')[:60]}"),
        )
    return table


def _keys(records: list) -> dict[tuple[str, str, str], str]:
    """A short key per distinct (model, dataset, protocol), in order of first appearance."""
    letters = string.ascii_lowercase
    out: dict[tuple[str, str, str], str] = {}
    for r in records:
        group = (r.model, r.dataset.name, r.protocol)
        if group not in out:
            i = len(out)
            out[group] = letters[i] if i < len(letters) else f"m{i}"
    return out


def compact_parts(records: list, title: str) -> list[Any]:
    """The compact table, its legend and the failed runs' errors (renderables, in order)."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    keys = _keys(records)
    table = Table(title=escape(title), box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    for column in ("", "n", "seed", "E", "E/at", "F", "F rms", "steps", "time"):
        table.add_column(column, justify="left" if column == "" else "right", no_wrap=True)
    for r in records:
        key = keys[(r.model, r.dataset.name, r.protocol)]
        table.add_row(
            key + ("" if r.status == "complete" else " ✗"), str(r.n_train), str(r.seed), *_metrics(r), *_cost(r)
        )
    datasets = {d for _, d, _ in keys}
    protocols = {p for _, _, p in keys}
    legend = []
    for (model, dataset, protocol), key in keys.items():
        extra = [x for x, many in ((dataset, len(datasets) > 1), (protocol, len(protocols) > 1)) if many]
        legend.append(f"{key} = {model}" + (f" ({', '.join(extra)})" if extra else ""))
    common = [f"dataset {next(iter(datasets))}"] if len(datasets) == 1 else []
    common += [f"protocol {next(iter(protocols))}"] if len(protocols) == 1 else []
    parts: list[Any] = [table, Text("; ".join(legend))]
    if common:
        parts.append(Text(f"every run: {', '.join(common)}"))
    parts.append(Text(COMPACT_LEGEND, style="dim"))
    for r in records:
        if r.status != "complete":
            key = keys[(r.model, r.dataset.name, r.protocol)]
            parts.append(Text(f"✗ {key} n={r.n_train} seed {r.seed}: {r.status}: {r.error or ''}"))
    return parts


class MetricsSummary:
    """A rich renderable: the full table where it fits, otherwise the compact one with a legend."""

    def __init__(self, records: list, title: str) -> None:
        self.records = list(records)
        self.title = title

    def __rich_console__(self, console, options):
        from rich.measure import Measurement

        table = full_table(self.records, self.title)
        # its natural width: narrower, rich would cut names and numbers to "neq…"
        natural = Measurement.get(console, options.update(max_width=100_000), table).maximum
        if natural <= options.max_width:
            yield table
            return
        yield from compact_parts(self.records, self.title)


def metrics_summary(records: list, title: str) -> MetricsSummary:
    """The closing summary of ``records`` (see the module docstring)."""
    return MetricsSummary(records, title)
