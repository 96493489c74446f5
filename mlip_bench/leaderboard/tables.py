"""Assemble run records into learning curves, curve figures and per-dataset leaderboard rows.

Split rule. A curve holds the runs of one (dataset, model, protocol, split name). Each seed draws
its own split, so a seed's points are nested subsets of *that* split; seeds are replicates and
give the error bars. Within one curve a split seed always maps to one split sha256: runs whose
split hash differs for the same split seed (data re-imported, other n_val, ...) go to a separate
curve. Curves share a figure only when every split seed they have in common has the same hash.

Convergence rule. Only certified points (``RunRecord.certified``: the record carries a convergence
certificate that says the run converged) enter slope fits and claim checks; the others are
"still improving" and are shown apart (hollow markers, named in claim details). A protocol none of
whose records is certified (e.g. ``short``, a fixed step budget) is a *budget study*: its curves,
figures and table rows are kept apart from the certified curves.

All error values are in meV, meV/atom or meV/Å as the column says.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mlip_bench.leaderboard.curves import SlopeFit, fit_band, fit_learning_curve, seed_slope
from mlip_bench.leaderboard.published import PublishedValue
from mlip_bench.results.schema import RunRecord

EVAL_SET = "test"
CERTIFIED = "certified"
STILL_IMPROVING = "still improving"


#: stored dataset names shown under another name, and why: the store called ``water`` here is
#: DeePMD-kit's example water (imported from ../shared/data/water_deepmd), not the paper's liquid
#: water (Cheng et al.), so the paper's water rows and claims must never point at it
DISPLAY_RENAMES: dict[str, tuple[str, str]] = {
    "water": (
        "water-deepmd",
        "DeePMD-kit's example water set (imported), not the paper's liquid water of Cheng et al.",
    ),
}


def display_dataset(record: RunRecord) -> str:
    """The name the site shows for the record's dataset. ``water`` imported from a local copy
    (provenance ``imported*``) is DeePMD-kit's example set and is shown as ``water-deepmd``;
    a downloaded ``water`` store (the card's Cheng et al. data) keeps its name."""
    name = record.dataset.name
    if name in DISPLAY_RENAMES and record.dataset.provenance.startswith("imported"):
        return DISPLAY_RENAMES[name][0]
    return name


def with_display_names(records: Iterable[RunRecord]) -> tuple[list[RunRecord], dict[str, str]]:
    """Records whose dataset name is the display name, and run id -> stored name for the renamed ones."""
    out, stored = [], {}
    for r in records:
        shown = display_dataset(r)
        if shown != r.dataset.name:
            stored[r.run_id] = r.dataset.name
            r = r.model_copy(update={"dataset": r.dataset.model_copy(update={"name": shown})})
        out.append(r)
    return out, stored


def convergence_label(record: RunRecord) -> str:
    """ "certified" for a run certified converged, "still improving" for any other run."""
    return CERTIFIED if record.certified else STILL_IMPROVING


def convergence_detail(record: RunRecord) -> str:
    """One line on how the run ended, e.g. "no-validation-gain: best epoch 812 of 1012"."""
    conv = record.convergence
    if conv is None:
        return "no convergence certificate in the record (written before certificates existed)"
    text = conv.rule
    if conv.epochs:
        text += f": best epoch {conv.best_epoch} of {conv.epochs}"
    return text + (f"; {conv.detail}" if conv.detail else "")


def convergence_summary(runs: Iterable[RunRecord]) -> str:
    """ "certified", "still improving" or "k of m certified" for a group of runs."""
    runs = list(runs)
    k = sum(r.certified for r in runs)
    if k == len(runs):
        return CERTIFIED
    if k == 0:
        return STILL_IMPROVING
    return f"{k} of {len(runs)} {CERTIFIED}"


@dataclass(frozen=True)
class Column:
    """A numeric error column of the leaderboard (lower is better)."""

    key: str
    label: str
    unit: str
    field: str  # TestMetrics attribute

    @property
    def header(self) -> str:
        return f"{self.label} ({self.unit})"


ERROR_COLUMNS: tuple[Column, ...] = (
    Column("energy_mae", "E MAE", "meV", "energy_mae_mev"),
    Column("energy_rmse", "E RMSE", "meV", "energy_rmse_mev"),
    Column("energy_mae_per_atom", "E MAE", "meV/atom", "energy_mae_mev_per_atom"),
    Column("energy_rmse_per_atom", "E RMSE", "meV/atom", "energy_rmse_mev_per_atom"),
    Column("force_mae", "F MAE", "meV/Å", "force_mae_mev_per_a"),
    Column("force_rmse", "F RMSE", "meV/Å", "force_rmse_mev_per_a"),
)
COLUMNS_BY_KEY: dict[str, Column] = {c.key: c for c in ERROR_COLUMNS}
#: atoms per molecule for the meV/H2O unit of the water/DeePMD comparison
ATOMS_PER_H2O = 3


#: the error columns shown for an extra named test set (e.g. 3BPA's test_600K)
EXTRA_SET_COLUMNS: tuple[str, ...] = ("energy_mae_per_atom", "force_mae")


def extra_set_column(base_key: str, eval_set: str) -> Column:
    """The column of ``base_key`` (e.g. "force_mae") on the extra test set ``eval_set``."""
    base = COLUMNS_BY_KEY[base_key]
    return Column(f"{base_key}@{eval_set}", f"{base.label} {eval_set}", base.unit, base.field)


def extra_set_columns(records: Iterable[RunRecord]) -> list[Column]:
    """Columns for every extra named test set the records were evaluated on, sorted by set name."""
    names = sorted({name for r in records for name in r.metrics if name != EVAL_SET})
    return [extra_set_column(key, name) for name in names for key in EXTRA_SET_COLUMNS]


def record_value(record: RunRecord, column_key: str, eval_set: str = EVAL_SET) -> float | None:
    """The record's value for a leaderboard column (None when the set or metric is missing).

    A key ``"force_mae@test_600K"`` reads that column on the extra test set ``test_600K``.
    """
    base_key, _, named_set = column_key.partition("@")
    metrics = record.metrics.get(named_set or eval_set)
    if metrics is None:
        return None
    value = getattr(metrics, COLUMNS_BY_KEY[base_key].field)
    return float(value) if value is not None and math.isfinite(value) else None


def nonfinite_metrics(record: RunRecord) -> list[str]:
    """The error columns (``"F MAE test"``, ...) whose value in the record is NaN or infinite, on
    any evaluation set. A complete run with any such value is left out of every mean, curve and
    seed list, and the page names it (see ``DatasetSection.excluded``)."""
    bad = []
    for name, metrics in sorted(record.metrics.items()):
        for col in ERROR_COLUMNS:
            value = getattr(metrics, col.field, None)
            if value is not None and not math.isfinite(value):
                bad.append(f"{col.label} ({col.unit}) {name} = {value}")
    return bad


def published_column(value: PublishedValue) -> tuple[str, float, str]:
    """(column key, value in that column's unit, note) for a published number."""
    energy_or_force, kind = value.metric.split("_")
    if value.unit == "meV/H2O":
        return (
            f"{value.metric}_per_atom",
            value.value / ATOMS_PER_H2O,
            f"reported {value.reported_value:g} meV/H2O (÷ {ATOMS_PER_H2O} atoms)",
        )
    if value.unit == "meV/atom":
        return f"{value.metric}_per_atom", value.value, ""
    note = ""
    if value.conversion_factor != 1.0:
        note = f"reported {value.reported_value:g} {value.reported_unit} × {value.conversion_factor:g}"
    return value.metric, value.value, note


def measured_for_published(record: RunRecord, value: PublishedValue) -> float | None:
    """Our record's number in the published value's unit (meV, meV/atom, meV/H2O, meV/Å)."""
    if value.unit == "meV/H2O":
        per_atom = record_value(record, f"{value.metric}_per_atom")
        return None if per_atom is None else per_atom * ATOMS_PER_H2O
    key = f"{value.metric}_per_atom" if value.unit == "meV/atom" else value.metric
    return record_value(record, key)


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation over seeds (std None for a single seed)."""

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat | None:
        vals = [v for v in values if v is not None]
        if not vals:
            return None
        return cls(
            mean=statistics.fmean(vals),
            std=statistics.stdev(vals) if len(vals) > 1 else None,
            n=len(vals),
        )


def _short(text: str, n: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


@dataclass
class Curve:
    """Runs of one model on one dataset under one protocol and split definition."""

    dataset: str
    model: str
    family: str
    l_max: int | None
    protocol: str
    split_name: str
    split_shas: dict[int, str]  # split seed -> split sha256
    version: int = 0  # >0 when the same split seed came with another hash
    runs: list[RunRecord] = field(default_factory=list)
    #: True when no record of this protocol is certified (a fixed-budget study such as ``short``)
    budget_study: bool = False

    @property
    def key(self) -> str:
        """Stable id for HTML anchors and file names."""
        shas = ",".join(f"{k}:{v}" for k, v in sorted(self.split_shas.items()))
        return "c" + _short(f"{self.dataset}|{self.model}|{self.protocol}|{self.split_name}|{shas}")

    @property
    def label(self) -> str:
        text = f"{self.model} [{self.protocol}]"
        return text + (f" (split v{self.version + 1})" if self.version else "")

    @property
    def seeds(self) -> list[int]:
        return sorted({r.seed for r in self.runs})

    @property
    def n_trains(self) -> list[int]:
        return sorted({r.n_train for r in self.runs})

    def points(self, column_key: str, certified: bool | None = None) -> list[tuple[int, float, RunRecord]]:
        """(n_train, value, run) per run that has the metric, sorted by n_train then seed.

        ``certified``: True keeps only certified runs, False only uncertified ("still improving")
        runs, None keeps every run.
        """
        out = []
        for r in sorted(self.runs, key=lambda r: (r.n_train, r.seed)):
            if certified is not None and r.certified != certified:
                continue
            v = record_value(r, column_key)
            if v is not None and v > 0:
                out.append((r.n_train, v, r))
        return out

    def stats_by_n(self, column_key: str, certified: bool | None = None) -> dict[int, Stat]:
        """Mean ± std over seeds at each n_train (of certified/uncertified runs, see ``points``)."""
        by_n: dict[int, list[float]] = {}
        for n, v, _ in self.points(column_key, certified):
            by_n.setdefault(n, []).append(v)
        return {n: Stat.of(vs) for n, vs in sorted(by_n.items())}  # type: ignore[misc]

    def fit(self, column_key: str, confidence: float = 0.95) -> SlopeFit | None:
        """Learning-curve exponent over the per-seed *certified* points; None with fewer than two
        certified sizes."""
        pts = self.points(column_key, certified=True)
        if len({n for n, _, _ in pts}) < 2:
            return None
        return fit_learning_curve([n for n, _, _ in pts], [v for _, v, _ in pts], confidence)

    def band(self, column_key: str, grid: list[float], confidence: float = 0.95):
        """(fit, low, high) of the certified points' power law at ``grid`` (see ``curves.fit_band``)."""
        pts = self.points(column_key, certified=True)
        if len({n for n, _, _ in pts}) < 2:
            return None
        return fit_band([n for n, _, _ in pts], [v for _, v, _ in pts], grid, confidence)

    def certified_sizes(self, column_key: str) -> list[int]:
        """Training sizes with at least one certified point."""
        return sorted({n for n, _, _ in self.points(column_key, certified=True)})

    def seed_slopes(self, column_key: str, sizes: Iterable[int] | None = None) -> dict[int, float]:
        """Exponent per seed over that seed's certified points (at ``sizes`` when given); seeds
        with fewer than two such sizes have none."""
        keep = None if sizes is None else set(sizes)
        by_seed: dict[int, list[tuple[int, float]]] = {}
        for n, v, r in self.points(column_key, certified=True):
            if keep is None or n in keep:
                by_seed.setdefault(r.seed, []).append((n, v))
        out = {}
        for seed, pts in sorted(by_seed.items()):
            b = seed_slope([n for n, _ in pts], [v for _, v in pts])
            if b is not None:
                out[seed] = b
        return out

    def still_improving(self, column_key: str) -> list[str]:
        """The uncertified points, e.g. ``["n=950 s1", "n=950 s2"]``."""
        return [f"n={n} s{r.seed}" for n, _, r in self.points(column_key, certified=False)]

    @property
    def n_certified(self) -> int:
        return sum(r.certified for r in self.runs)


def build_curves(records: Iterable[RunRecord]) -> list[Curve]:
    """Group complete records into curves (see the module docstring for the split rule). Runs with
    a non-finite metric (``nonfinite_metrics``) are left out."""
    groups: dict[tuple, list[RunRecord]] = {}
    for r in records:
        if r.status != "complete" or nonfinite_metrics(r):
            continue
        groups.setdefault((r.dataset.name, r.model, r.protocol, r.split.name), []).append(r)
    curves: list[Curve] = []
    for (dataset, model, protocol, split_name), runs in sorted(groups.items()):
        versions: list[Curve] = []
        for r in sorted(runs, key=lambda r: (r.created, r.run_id)):
            for curve in versions:
                sha = curve.split_shas.get(r.split.seed)
                if sha is None or sha == r.split.sha256:
                    curve.split_shas[r.split.seed] = r.split.sha256
                    curve.runs.append(r)
                    break
            else:
                versions.append(
                    Curve(
                        dataset=dataset,
                        model=model,
                        family=r.model_family,
                        l_max=r.l_max,
                        protocol=protocol,
                        split_name=split_name,
                        split_shas={r.split.seed: r.split.sha256},
                        version=len(versions),
                        runs=[r],
                    )
                )
        curves.extend(versions)
    certified_protocols = {c.protocol for c in curves if c.n_certified}
    for c in curves:
        c.budget_study = c.protocol not in certified_protocols
    return curves


def budget_study_protocols(records: Iterable[RunRecord]) -> list[str]:
    """Protocols with complete runs none of which is certified converged (fixed-budget studies)."""
    complete = [r for r in records if r.status == "complete"]
    certified = {r.protocol for r in complete if r.certified}
    return sorted({r.protocol for r in complete} - certified)


@dataclass
class CurveFigure:
    """Curves on one dataset whose shared split seeds all have the same split hash.

    Budget-study curves (see the module docstring) get figures of their own (``budget_study``).
    """

    dataset: str
    split_name: str
    curves: list[Curve]
    index: int = 0
    budget_study: bool = False

    @property
    def key(self) -> str:
        tag = "|budget" if self.budget_study else ""
        return "f" + _short(f"{self.dataset}|{self.split_name}|{self.index}{tag}")

    @property
    def has_uncertified(self) -> bool:
        return any(r.status == "complete" and not r.certified for c in self.curves for r in c.runs)

    @property
    def split_shas(self) -> dict[int, str]:
        out: dict[int, str] = {}
        for c in self.curves:
            out.update(c.split_shas)
        return dict(sorted(out.items()))


def group_figures(curves: Iterable[Curve]) -> list[CurveFigure]:
    """Put each curve in the first figure of its dataset and split name it is consistent with."""
    figures: list[CurveFigure] = []
    for curve in curves:
        for fig in figures:
            if fig.dataset != curve.dataset or fig.split_name != curve.split_name:
                continue
            if fig.budget_study != curve.budget_study:
                continue
            shas = fig.split_shas
            if all(shas.get(s, h) == h for s, h in curve.split_shas.items()):
                fig.curves.append(curve)
                break
        else:
            index = sum(
                1
                for f in figures
                if f.dataset == curve.dataset
                and f.split_name == curve.split_name
                and f.budget_study == curve.budget_study
            )
            figures.append(CurveFigure(curve.dataset, curve.split_name, [curve], index, curve.budget_study))
    return figures


@dataclass
class TableRow:
    """One leaderboard row: reproduced (our runs, aggregated over seeds) or published."""

    kind: str  # "reproduced" | "published"
    dataset: str
    model: str
    family: str
    l_max: int | None
    n_train: int
    protocol: str
    values: dict[str, Stat]
    notes: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, str] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    n_parameters: int | None = None
    train_seconds: Stat | None = None
    hardware: str = ""
    date: str = ""
    runs: list[RunRecord] = field(default_factory=list)
    source: str = ""
    curve_key: str = ""
    #: "certified", "still improving" or "k of m certified" (reproduced rows)
    convergence: str = ""
    budget_study: bool = False
    #: training cost per hardware (CPU and GPU runs never averaged together)
    costs: list[HardwareCost] = field(default_factory=list)
    #: the protocol's budget in words, e.g. "1,500 optimiser steps (50 epochs); ... still improving"
    protocol_text: str = ""
    #: n_train of the training-size group the row belongs to (★ compares rows of one group only)
    size_group: int = 0
    #: MD stability and observables of the row's runs (``leaderboard.md_data.MDSummary``), if any
    md: Any = None

    @property
    def n_certified(self) -> int:
        return sum(r.certified for r in self.runs)


def hardware_kind(record: RunRecord) -> str:
    """ "GPU" or "CPU": training costs are never averaged across the two."""
    env = record.environment
    return "GPU" if (env.device != "cpu" and env.gpu) else "CPU"


@dataclass(frozen=True)
class HardwareCost:
    """Training cost of a group of runs on one hardware kind and name."""

    kind: str  # "CPU" | "GPU"
    hardware: str  # e.g. "NVIDIA H200 (cuda)"
    n_runs: int
    train_seconds: Stat | None
    seconds_per_step: Stat | None
    steps: Stat | None


def hardware_costs(runs: Iterable[RunRecord]) -> list[HardwareCost]:
    """One entry per hardware (GPU entries first), never mixing CPU and GPU runs."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in runs:
        groups.setdefault((hardware_kind(r), hardware_of(r)), []).append(r)
    out = []
    for (kind, name), rs in sorted(groups.items(), key=lambda kv: (kv[0][0] != "GPU", kv[0][1])):
        timed = [r.timings for r in rs if r.timings is not None]
        out.append(
            HardwareCost(
                kind=kind,
                hardware=name,
                n_runs=len(rs),
                train_seconds=Stat.of(t.train_seconds for t in timed),
                seconds_per_step=Stat.of(
                    (t.seconds_per_step or (t.train_seconds / t.steps if t.steps else None)) for t in timed
                ),
                steps=Stat.of(float(t.steps) for t in timed),
            )
        )
    return out


def _range_text(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def protocol_words(runs: Iterable[RunRecord]) -> str:
    """The budget of a group of runs (one protocol) in words, e.g.
    "1,500 optimiser steps (50 epochs); ended by the step budget: still improving"."""
    runs = list(runs)
    timed = [r.timings for r in runs if r.timings is not None]
    parts = []
    if timed:
        parts.append(
            f"{_range_text([t.steps for t in timed])} optimiser steps ({_range_text([t.epochs for t in timed])} epochs)"
        )
    rules = sorted({r.convergence.rule for r in runs if r.convergence is not None})
    k = sum(r.certified for r in runs)
    if k == len(runs):
        status = "certified converged"
    elif k == 0:
        status = "still improving"
    else:
        status = f"{k} of {len(runs)} certified converged, the others still improving"
    if rules:
        ended = "ended by " + ", ".join(RULE_WORDS.get(rule, rule) for rule in rules)
    else:
        ended = "no convergence certificate (record predates them)"
    parts.append(f"{ended}: {status}")
    return "; ".join(parts)


#: the convergence rules of ``Convergence.rule`` in words
RULE_WORDS = {
    "lr-floor": "the learning-rate floor",
    "no-validation-gain": "no validation gain",
    "budget-check": "a budget check",
    "budget": "the step budget",
    "unknown": "an unknown rule",
}


def hardware_of(record: RunRecord) -> str:
    """'NVIDIA H100 (cuda)' or 'cpu name, N threads' from the record's environment."""
    env = record.environment
    if env.device != "cpu" and env.gpu:
        return f"{env.gpu} ({env.device})"
    cpu = env.cpu or env.platform or "cpu"
    return f"{cpu}, {env.threads} threads" if env.threads else cpu


def reproduced_rows(curves: Iterable[Curve]) -> list[TableRow]:
    """One row per (curve, n_train): metrics as mean ± std over seeds."""
    rows: list[TableRow] = []
    for curve in curves:
        by_n: dict[int, list[RunRecord]] = {}
        for r in curve.runs:
            by_n.setdefault(r.n_train, []).append(r)
        for n, runs in sorted(by_n.items()):
            runs = sorted(runs, key=lambda r: r.seed)
            values = {}
            for col in (*ERROR_COLUMNS, *extra_set_columns(runs)):
                stat = Stat.of(record_value(r, col.key) for r in runs)
                if stat is not None:
                    values[col.key] = stat
            times = [r.timings.train_seconds for r in runs if r.timings is not None]
            params = {r.n_parameters for r in runs}
            costs = hardware_costs(runs)
            rows.append(
                TableRow(
                    kind="reproduced",
                    dataset=curve.dataset,
                    model=curve.model,
                    family=curve.family,
                    l_max=curve.l_max,
                    n_train=n,
                    protocol=curve.protocol,
                    values=values,
                    seeds=[r.seed for r in runs],
                    n_parameters=max(params) if params else None,
                    # a mean over CPU and GPU runs means nothing: only for one hardware kind
                    train_seconds=Stat.of(times) if len({c.kind for c in costs}) <= 1 else None,
                    costs=costs,
                    protocol_text=protocol_words(runs),
                    hardware="; ".join(sorted({hardware_of(r) for r in runs})),
                    date=max(r.created for r in runs)[:10],
                    runs=runs,
                    curve_key=curve.key,
                    convergence=convergence_summary(runs),
                    budget_study=curve.budget_study,
                )
            )
    return rows


def published_rows(values: Iterable[PublishedValue]) -> list[TableRow]:
    """One row per published (dataset, method, l_max, n_train): each cell keeps its evidence tag."""
    rows: dict[tuple, TableRow] = {}
    for v in values:
        key = (v.dataset, v.method, v.l_max, v.n_train)
        row = rows.get(key)
        if row is None:
            row = rows[key] = TableRow(
                kind="published",
                dataset=v.dataset,
                model=v.method,
                family=v.family,
                l_max=v.l_max,
                n_train=v.n_train,
                protocol="published",
                values={},
                source=f"{v.source}; {v.table}",
            )
        col, number, note = published_column(v)
        row.values[col] = Stat(mean=number, std=None, n=1)
        row.evidence[col] = v.evidence
        notes = [n for n in (note, v.note) if n]
        if notes:
            row.notes[col] = "; ".join(notes)
    return list(rows.values())


def best_per_column(rows: Iterable[TableRow]) -> dict[str, float]:
    """Lowest mean of each error column over all rows (published and reproduced)."""
    best: dict[str, float] = {}
    for row in rows:
        for key, stat in row.values.items():
            if key not in best or stat.mean < best[key]:
                best[key] = stat.mean
    return best


#: training sizes within this relative distance count as one size for ★ (the paper's 1000
#: configurations are 950 train + 50 validation)
SIZE_TOLERANCE = 0.10


def assign_size_groups(rows: list[TableRow]) -> None:
    """Set ``row.size_group``: sizes within ``SIZE_TOLERANCE`` of a group's smallest size join it."""
    groups: list[int] = []
    for n in sorted({r.n_train for r in rows}):
        if groups and n <= groups[-1] * (1 + SIZE_TOLERANCE):
            continue
        groups.append(n)
    for row in rows:
        row.size_group = max(g for g in groups if g <= row.n_train)


def best_per_size(rows: Iterable[TableRow]) -> dict[int, dict[str, float]]:
    """Lowest mean of each error column within each training-size group (see ``assign_size_groups``)."""
    by_group: dict[int, list[TableRow]] = {}
    for row in rows:
        by_group.setdefault(row.size_group, []).append(row)
    return {g: best_per_column(rs) for g, rs in sorted(by_group.items())}


@dataclass
class DatasetSection:
    """Everything the index page shows for one dataset (variant, e.g. ``rmd17/aspirin``)."""

    dataset: str
    rows: list[TableRow]
    best: dict[str, float]
    columns: list[Column]
    failed: list[RunRecord]
    #: rows of budget-study protocols (every run still improving), shown in a table of their own
    budget_rows: list[TableRow] = field(default_factory=list)
    #: best value per training-size group and column (★ compares rows of one size only)
    best_by_size: dict[int, dict[str, float]] = field(default_factory=dict)
    #: complete runs left out of every mean and seed list because a metric is NaN or infinite,
    #: each with the reason (see ``nonfinite_metrics``)
    excluded: list[tuple[RunRecord, str]] = field(default_factory=list)
    #: the MD setting whose records the MD columns show ("" without MD records), and how many
    #: MD records of this dataset were left out (see ``leaderboard.md_data``)
    md_setting: str = ""
    md_left_out: int = 0
    #: some row's MD gives a Li diffusivity (periodic Li systems such as LiPS): show its column
    md_li_diffusivity: bool = False

    def is_best(self, row: TableRow, column_key: str) -> bool:
        """True when ``row`` holds the lowest value of the column among rows of its training size."""
        if row.budget_study:
            return False
        stat = row.values.get(column_key)
        best = self.best_by_size.get(row.size_group, {}).get(column_key)
        return stat is not None and best is not None and stat.mean == best

    @property
    def unconverged_runs(self) -> int:
        """Complete runs shown in this section that are not certified converged."""
        return sum(len(r.runs) - r.n_certified for r in (*self.rows, *self.budget_rows) if r.kind == "reproduced")

    @property
    def anchor(self) -> str:
        return "ds-" + "".join(ch if ch.isalnum() else "-" for ch in self.dataset)


def dataset_sections(records: list[RunRecord], published: Iterable[PublishedValue] = ()) -> list[DatasetSection]:
    """One section per dataset: our datasets first (sorted), then published-only ones in file order.

    Rows of budget-study protocols go to ``budget_rows``; the best-value marks come from the
    other rows (certified curves and published numbers) only.
    """
    curves = build_curves(records)
    ours = reproduced_rows(curves)
    theirs = published_rows(published)
    names = sorted({r.dataset.name for r in records})
    names += [d for d in dict.fromkeys(r.dataset for r in theirs) if d not in names]
    sections = []
    for name in names:
        mine = sorted((r for r in ours if r.dataset == name), key=lambda r: (r.model, r.protocol, r.n_train))
        rows = [r for r in mine if not r.budget_study] + [r for r in theirs if r.dataset == name]
        budget = [r for r in mine if r.budget_study]
        candidates = [*ERROR_COLUMNS, *extra_set_columns(r for r in records if r.dataset.name == name)]
        used = [c for c in candidates if any(c.key in r.values for r in rows + budget)]
        failed = [r for r in records if r.dataset.name == name and r.status != "complete"]
        excluded = [
            (r, "; ".join(bad))
            for r in sorted(records, key=lambda r: (r.model, r.protocol, r.n_train, r.seed))
            if r.dataset.name == name and r.status == "complete" and (bad := nonfinite_metrics(r))
        ]
        assign_size_groups(rows)
        assign_size_groups(budget)
        sections.append(
            DatasetSection(
                name,
                rows,
                best_per_column(rows),
                used,
                failed,
                budget,
                best_by_size=best_per_size(rows),
                excluded=excluded,
            )
        )
    return sections
