"""The paper's claims beside our measurements, with a plain status.

Numbers: a published value is compared with the mean over seeds of our runs at the *same setting*
(same dataset, model family and l_max, n_train within 10 %, protocol ``paper``). Without such runs
the nearest run we have is shown and the status is "not run". Low-confidence (MEM-L) numbers are
shown but get the status "shown only". Units are those of the published value (meV, meV/atom,
meV/H2O or meV/Å).

Learning-curve claims have no numeric target; they are checked against our fitted slopes and
their confidence intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from mlip_bench.leaderboard.curves import SlopeFit
from mlip_bench.leaderboard.published import Claim, Published, PublishedValue
from mlip_bench.leaderboard.tables import Curve, CurveFigure, Stat, measured_for_published
from mlip_bench.results.schema import RunRecord

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run"
SHOWN_ONLY = "shown only (low confidence)"
INCONCLUSIVE = "inconclusive"

PAPER_PROTOCOL = "paper"
#: relative n_train difference still counted as the same setting (950 vs 1000 configurations)
SAME_N_TRAIN_RELATIVE = 0.10


@dataclass
class NumberCheck:
    """One published number and what we measured at the same or nearest setting."""

    value: PublishedValue
    status: str
    measured: Stat | None = None
    setting: str = ""  # "same setting" or what differs from it
    relative_difference: float | None = None  # (ours - published) / published
    runs: list[RunRecord] = field(default_factory=list)


def _same_model(record: RunRecord, value: PublishedValue) -> bool:
    if record.status != "complete" or record.dataset.name != value.dataset:
        return False
    if record.model_family not in value.match_families:
        return False
    return value.l_max is None or record.l_max == value.l_max


def _is_same_setting(n_train: int, protocol: str, value: PublishedValue) -> bool:
    close = abs(n_train - value.n_train) <= SAME_N_TRAIN_RELATIVE * value.n_train
    return close and protocol == PAPER_PROTOCOL


def check_number(value: PublishedValue, records: Iterable[RunRecord], tolerance: float) -> NumberCheck:
    """Status of one published number against our records (tolerance: relative, e.g. 0.15)."""
    groups: dict[tuple[str, int, str], list[RunRecord]] = {}
    for r in records:
        if _same_model(r, value) and measured_for_published(r, value) is not None:
            groups.setdefault((r.model, r.n_train, r.protocol), []).append(r)
    if not groups:
        return NumberCheck(value=value, status=NOT_RUN)

    def distance(key: tuple[str, int, str]) -> tuple[int, float, int]:
        _, n, protocol = key
        return (
            0 if _is_same_setting(n, protocol, value) else 1,
            abs(math.log(n / value.n_train)) + (0 if protocol == PAPER_PROTOCOL else 10),
            -len(groups[key]),
        )

    key = min(groups, key=distance)
    runs = sorted(groups[key], key=lambda r: r.seed)
    measured = Stat.of(measured_for_published(r, value) for r in runs)
    assert measured is not None
    _, n, protocol = key
    rel = (measured.mean - value.value) / value.value
    if not _is_same_setting(n, protocol, value):
        differs = []
        if abs(n - value.n_train) > SAME_N_TRAIN_RELATIVE * value.n_train:
            differs.append(f"n_train {n} (published {value.n_train})")
        if protocol != PAPER_PROTOCOL:
            differs.append(f"protocol {protocol!r} (paper protocol needed)")
        return NumberCheck(
            value=value, status=NOT_RUN, measured=measured, setting="nearest: " + ", ".join(differs),
            relative_difference=rel, runs=runs,
        )
    if not value.is_target:
        status = SHOWN_ONLY
    else:
        status = REPRODUCED if abs(rel) <= tolerance else NOT_REPRODUCED
    return NumberCheck(
        value=value, status=status, measured=measured, setting=f"same setting (n_train {n}, {protocol})",
        relative_difference=rel, runs=runs,
    )


@dataclass
class ClaimCheck:
    """A learning-curve claim on one dataset (and split figure) against our fitted slopes."""

    claim: Claim
    dataset: str
    status: str
    detail: str
    first: list[tuple[Curve, SlopeFit]] = field(default_factory=list)
    second: list[tuple[Curve, SlopeFit]] = field(default_factory=list)
    figure_key: str = ""


def _fits(curves: Iterable[Curve], metric: str) -> list[tuple[Curve, SlopeFit]]:
    out = []
    for c in curves:
        fit = c.fit(metric)
        if fit is not None:
            out.append((c, fit))
    return out


def _check_steeper(first: list[tuple[Curve, SlopeFit]], second: list[tuple[Curve, SlopeFit]]) -> tuple[str, str]:
    if not first or not second:
        return NOT_RUN, "needs fitted curves in both groups"
    if not all(f.has_interval for _, f in first + second):
        return INCONCLUSIVE, "a curve has fewer than three points, so no confidence interval"
    worst_steep = max(f.ci_high for _, f in first)  # type: ignore[type-var]
    best_shallow = min(f.ci_low for _, f in second)  # type: ignore[type-var]
    if worst_steep < best_shallow:
        return REPRODUCED, f"every interval of the first group lies below every interval of the second ({worst_steep:.2f} < {best_shallow:.2f})"
    if min(f.ci_low for _, f in first) > max(f.ci_high for _, f in second):  # type: ignore[type-var]
        return NOT_REPRODUCED, "the first group is significantly shallower"
    return INCONCLUSIVE, "confidence intervals overlap"


def _check_similar(first: list[tuple[Curve, SlopeFit]]) -> tuple[str, str]:
    if len(first) < 2:
        return NOT_RUN, "needs at least two fitted curves"
    if not all(f.has_interval for _, f in first):
        return INCONCLUSIVE, "a curve has fewer than three points, so no confidence interval"
    lo = max(f.ci_low for _, f in first)  # type: ignore[type-var]
    hi = min(f.ci_high for _, f in first)  # type: ignore[type-var]
    if lo <= hi:
        return REPRODUCED, "all confidence intervals share a common range"
    return NOT_REPRODUCED, "some confidence intervals do not overlap"


def _with_interval(fits: list[tuple[Curve, SlopeFit]]) -> tuple[list[tuple[Curve, SlopeFit]], list[Curve]]:
    """The fits that have a confidence interval, and the curves left out (fewer than three points)."""
    kept = [(c, f) for c, f in fits if f.has_interval]
    return kept, [c for c, f in fits if not f.has_interval]


def check_claim(claim: Claim, figures: list[CurveFigure]) -> list[ClaimCheck]:
    """One check per dataset of the claim and per split figure on it (``not run`` when none).

    A curve with fewer than three points has no confidence interval; it is left out of the
    check (and named in the detail) rather than making every claim it touches inconclusive.
    """
    out: list[ClaimCheck] = []
    for dataset in claim.datasets:
        figs = [f for f in figures if f.dataset == dataset]
        if not figs:
            out.append(ClaimCheck(claim, dataset, NOT_RUN, "no learning curves on this dataset"))
            continue
        for fig in figs:
            first, short = _with_interval(
                _fits((c for c in fig.curves if claim.steeper.matches(c.family, c.l_max)), claim.metric)
            )
            if claim.kind == "steeper":
                assert claim.than is not None
                second, short_second = _with_interval(
                    _fits((c for c in fig.curves if claim.than.matches(c.family, c.l_max)), claim.metric)
                )
                short += short_second
                status, detail = _check_steeper(first, second)
            else:
                second = []
                status, detail = _check_similar(first)
            if short:
                if status == NOT_RUN:  # curves exist, but too short to decide
                    status = INCONCLUSIVE
                names = ", ".join(sorted(c.model for c in short))
                detail += f"; left out (no confidence interval, fewer than three points): {names}"
            out.append(ClaimCheck(claim, dataset, status, detail, first, second, fig.key))
    return out


@dataclass
class Replication:
    numbers: list[NumberCheck]
    claims: list[ClaimCheck]
    tolerance: float
    rule: str
    not_recovered: list[str]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.numbers:
            counts[n.status] = counts.get(n.status, 0) + 1
        return counts


def replicate(published: Published, records: list[RunRecord], figures: list[CurveFigure]) -> Replication:
    """Every numeric value and every claim of ``published`` with a status."""
    tol = published.file.tolerance.relative
    return Replication(
        numbers=[check_number(v, records, tol) for v in published.values],
        claims=[c for claim in published.file.claims for c in check_claim(claim, figures)],
        tolerance=tol,
        rule=published.file.tolerance.rule,
        not_recovered=list(published.file.not_recovered),
    )
