"""The paper's claims beside our measurements, with a plain status.

Numbers. A published value is compared with the mean over seeds of our *certified* runs at the
*same setting*: same dataset, model family, l_max and model size (when the published group names
one), n_train within 10 %, protocol ``paper``. The status is then "reproduced" (within the
tolerance) or "not reproduced". When our nearest runs differ in budget (another protocol, or no
run certified converged), l_max or model size, the status is "not comparable", never "not
reproduced", and the nearest measurement is shown; when they differ only in n_train, "not run".
Low-confidence (MEM-L) numbers are shown but get the status "shown only". Units are those of the
published value (meV, meV/atom, meV/H2O or meV/Å).

Learning-curve claims have no numeric target. They are judged on certified points only (see
:data:`CLAIM_RULES`): "steeper" on the interval of the slope *difference* at the seed level,
"same slope" on an equivalence margin for that difference.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlip_bench.leaderboard.curves import (
    EQUIVALENCE_MARGIN,
    ONE_SEED,
    SlopeDifference,
    SlopeFit,
    slope_difference,
)
from mlip_bench.leaderboard.published import Claim, Published, PublishedValue
from mlip_bench.leaderboard.tables import Curve, CurveFigure, Stat, measured_for_published
from mlip_bench.results.schema import RunRecord

# -- number statuses -------------------------------------------------------------------------
REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
NOT_RUN = "not run"
NOT_COMPARABLE = "not comparable"
SHOWN_ONLY = "shown only (low confidence)"
# -- claim statuses (NOT_REPRODUCED, NOT_RUN and NOT_COMPARABLE are shared) ---------------------
HOLDS = "holds"
INCONCLUSIVE = "inconclusive"
PROVISIONAL = "provisional"

CONFIDENCE = 0.95
PAPER_PROTOCOL = "paper"
#: relative n_train difference still counted as the same setting (950 vs 1000 configurations)
SAME_N_TRAIN_RELATIVE = 0.10

#: the rule behind each claim status, quoted on the replication page and by
#: scripts/learning_curve_summary.py (so REPLICATION.md and the site use the same words)
CLAIM_RULES: dict[str, str] = {
    HOLDS: (
        "'steeper': for every pair of curves the claim compares, the 95 % interval of the slope "
        "difference Δb = b(claimed steeper) − b(other), computed at the seed level, lies below zero; "
        f"'same slope' / 'only shifts the curve': that interval lies inside ±{EQUIVALENCE_MARGIN:.2f}"
    ),
    NOT_REPRODUCED: (
        "'steeper': the interval of Δb lies above zero for some pair (significantly shallower); "
        f"'same slope': the interval lies wholly beyond ±{EQUIVALENCE_MARGIN:.2f} for some pair"
    ),
    INCONCLUSIVE: (
        "the interval of Δb neither decides for nor against the claim (it contains zero, or for "
        f"'same slope' it crosses ±{EQUIVALENCE_MARGIN:.2f}), or fewer than two certified sizes in common"
    ),
    PROVISIONAL: (
        "a compared curve has certified slopes for one seed only: the point estimate is shown, no interval, no verdict"
    ),
    NOT_COMPARABLE: (
        "the compared curves were run at another budget than converged training: every point is still "
        "improving (e.g. the fixed-step 'short' budget study), so no slope is fitted; never counted as "
        "'not reproduced'"
    ),
    NOT_RUN: "no learning curve of a compared group on this dataset",
}
#: how the seed-level interval of Δb is computed, in one paragraph
SLOPE_DIFFERENCE_RULE = (
    "Only certified points (runs that carry a convergence certificate) are fitted; uncertified points "
    "are named 'still improving'. Each seed's exponent b is fitted by least squares of log MAE on "
    "log n_train over the training sizes at which both curves have certified points. When both curves "
    "have slopes for the same seeds, the design is balanced: every seed is fitted over the same sizes, "
    "those certified for all compared seeds in both curves (the most seeds that keep two or more sizes, "
    "then the most sizes), and with at least two seeds the interval is a t-interval on the per-seed "
    "differences (k − 1 degrees of freedom); otherwise it is a Welch interval on the difference of the "
    "mean per-seed slopes. A curve with one seed gives a point estimate only ('provisional'). "
    f"Confidence {CONFIDENCE:.0%}; equivalence margin ±{EQUIVALENCE_MARGIN:.2f}."
)
#: worst status first: a claim's status is the worst over its curve pairs
_CLAIM_ORDER = (NOT_REPRODUCED, INCONCLUSIVE, PROVISIONAL, HOLDS)


#: network hyperparameters that fix the size of the published model, by model family: the paper's
#: NequIP molecule model has 5 layers x 64 features (``nequip-l3``); a run of another size (e.g. the
#: CPU-size ``nequip-l1-cpu``, 4 x 32) is "not comparable" with the published numbers
PAPER_MODEL_SIZES: dict[str, dict[str, int]] = {
    "nequip": {"num_layers": 5, "num_features": 64},
}


def _model_size_difference(record: RunRecord, value: PublishedValue) -> str:
    """'' when the record's network has the published model's size, else what differs."""
    size = PAPER_MODEL_SIZES.get(value.family)
    if not size or record.model_family != value.family:
        return ""
    hyper = record.model_config_full.get("hyperparameters", {}) or {}
    diffs = [f"{k} {hyper.get(k, '?')} (published {v})" for k, v in size.items() if hyper.get(k) != v]
    return ", ".join(diffs)


@dataclass
class NumberCheck:
    """One published number and what we measured at the same or nearest setting."""

    value: PublishedValue
    status: str
    measured: Stat | None = None
    setting: str = ""  # "same setting ..." or what differs from it
    relative_difference: float | None = None  # (ours - published) / published
    runs: list[RunRecord] = field(default_factory=list)
    #: runs at the chosen setting left out of ``measured`` because they are still improving
    still_improving: list[RunRecord] = field(default_factory=list)


def _candidate(record: RunRecord, value: PublishedValue) -> bool:
    return (
        record.status == "complete"
        and record.dataset.name == value.dataset
        and record.model_family in value.match_families
    )


def _differences(
    key: tuple[str, int, str, int | None], runs: list[RunRecord], value: PublishedValue
) -> tuple[list[str], list[str]]:
    """(budget/model differences that make it not comparable, n_train difference) of one group."""
    _, n, protocol, l_max = key
    model: list[str] = []
    if value.l_max is not None and l_max != value.l_max:
        model.append(f"l_max {l_max} (published {value.l_max})")
    size = _model_size_difference(runs[0], value)
    if size:
        model.append(f"model size: {size}")
    if protocol != PAPER_PROTOCOL:
        model.append(f"protocol {protocol!r} (paper protocol needed)")
    if not any(r.certified for r in runs):
        model.append(f"{'every' if len(runs) > 1 else 'the'} run still improving (no convergence certificate)")
    n_diff = []
    if abs(n - value.n_train) > SAME_N_TRAIN_RELATIVE * value.n_train:
        n_diff.append(f"n_train {n} (published {value.n_train})")
    return model, n_diff


def check_number(value: PublishedValue, records: Iterable[RunRecord], tolerance: float) -> NumberCheck:
    """Status of one published number against our records (tolerance: relative, e.g. 0.15)."""
    groups: dict[tuple[str, int, str, int | None], list[RunRecord]] = {}
    for r in records:
        if _candidate(r, value) and measured_for_published(r, value) is not None:
            groups.setdefault((r.model, r.n_train, r.protocol, r.l_max), []).append(r)
    if not groups:
        return NumberCheck(value=value, status=NOT_RUN)

    def rank(key: tuple[str, int, str, int | None]) -> tuple:
        model_diff, n_diff = _differences(key, groups[key], value)
        l_max_distance = abs(key[3] - value.l_max) if value.l_max is not None and key[3] is not None else 0
        return (
            len(model_diff) + len(n_diff) > 0,
            len(model_diff),
            l_max_distance,
            abs(math.log(key[1] / value.n_train)),
            -sum(r.certified for r in groups[key]),
            -len(groups[key]),
            key[0],
        )

    key = min(groups, key=rank)
    runs = sorted(groups[key], key=lambda r: r.seed)
    model_diff, n_diff = _differences(key, runs, value)
    certified = [r for r in runs if r.certified]
    used = certified or runs
    measured = Stat.of(measured_for_published(r, value) for r in used)
    assert measured is not None
    rel = (measured.mean - value.value) / value.value
    left_out = [r for r in runs if not r.certified] if certified else []
    common = dict(measured=measured, relative_difference=rel, runs=used, still_improving=left_out)
    if model_diff:
        setting = "not comparable: " + ", ".join(model_diff + n_diff)
        return NumberCheck(value=value, status=NOT_COMPARABLE, setting=setting, **common)
    if n_diff:
        return NumberCheck(value=value, status=NOT_RUN, setting="nearest: " + ", ".join(n_diff), **common)
    status = SHOWN_ONLY if not value.is_target else (REPRODUCED if abs(rel) <= tolerance else NOT_REPRODUCED)
    setting = f"same setting (n_train {key[1]}, {key[2]}, certified runs)"
    if left_out:
        setting += f"; left out, still improving: seed {', '.join(str(r.seed) for r in left_out)}"
    return NumberCheck(value=value, status=status, setting=setting, **common)


# -- learning-curve claims -------------------------------------------------------------------


@dataclass
class SlopeComparison:
    """Δb between two curves (first minus second) and its verdict under the claim's rule."""

    first: Curve
    second: Curve
    sizes: list[int]
    difference: SlopeDifference | None
    status: str

    def describe(self) -> str:
        head = f"{self.first.label} − {self.second.label}"
        if self.difference is None:
            return f"{head}: fewer than two certified sizes in common → {self.status}"
        span = f"n = {self.sizes[0]}–{self.sizes[-1]}" if self.sizes else ""
        return f"{head}: {self.difference.label()} on {span} → {self.status}"


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
    comparisons: list[SlopeComparison] = field(default_factory=list)
    #: "curve label: n=950 s1, ..." for every matched curve with uncertified points
    still_improving: list[str] = field(default_factory=list)
    #: the parts of ``detail`` that are not pair comparisons or still-improving points
    notes: list[str] = field(default_factory=list)


def compare_curves(
    first: Curve, second: Curve, metric: str, confidence: float = CONFIDENCE
) -> tuple[list[int], SlopeDifference | None]:
    """Seed-level Δb = b(first) − b(second) over the sizes where both have certified points.

    When both curves have slopes for the same seeds, the comparison is balanced: every seed's two
    slopes are fitted over the same sizes, those at which all the compared seeds have certified
    points in both curves (as many seeds as keep at least two such sizes, then as many sizes as
    possible), and the per-seed differences are paired. A slope over 50-950 frames and one over
    50-150 estimate different things when a curve bends, so they are never mixed. Otherwise a
    Welch interval compares the per-seed slopes. Returns the sizes used and the difference (None
    with fewer than two common sizes).
    """
    sizes = sorted(set(first.certified_sizes(metric)) & set(second.certified_sizes(metric)))
    if len(sizes) < 2:
        return sizes, None
    a = first.seed_slopes(metric, sizes)
    b = second.seed_slopes(metric, sizes)
    if set(a) == set(b):
        seeds, sizes = _balanced_design(first, second, metric, sizes, sorted(a))
        if not seeds:
            return sizes, None
        a = {s: v for s, v in first.seed_slopes(metric, sizes).items() if s in seeds}
        b = {s: v for s, v in second.seed_slopes(metric, sizes).items() if s in seeds}
    if not a or not b:
        return sizes, None
    return sizes, slope_difference(a, b, confidence)


def _balanced_design(
    first: Curve, second: Curve, metric: str, sizes: list[int], seeds: list[int]
) -> tuple[list[int], list[int]]:
    """(seeds, sizes) such that every chosen seed has a certified point at every chosen size in
    both curves: the most seeds that keep at least two sizes, then the most sizes."""
    own = {
        seed: set(_seed_sizes(first, metric, seed)) & set(_seed_sizes(second, metric, seed)) & set(sizes)
        for seed in seeds
    }
    for k in range(len(seeds), 0, -1):
        best: tuple[list[int], list[int]] = ([], [])
        for subset in itertools.combinations(seeds, k):
            common = sorted(set.intersection(*(own[s] for s in subset)))
            if len(common) >= 2 and len(common) > len(best[1]):
                best = (list(subset), common)
        if best[0]:
            return best
    return [], sizes


def _seed_sizes(curve: Curve, metric: str, seed: int) -> list[int]:
    return [n for n, _, r in curve.points(metric, certified=True) if r.seed == seed]


def _steeper_verdict(diff: SlopeDifference | None) -> str:
    if diff is None:
        return INCONCLUSIVE
    if diff.method == ONE_SEED:
        return PROVISIONAL
    side = diff.excludes_zero()
    return HOLDS if side < 0 else NOT_REPRODUCED if side > 0 else INCONCLUSIVE


def _similar_verdict(diff: SlopeDifference | None) -> str:
    if diff is None:
        return INCONCLUSIVE
    if diff.method == ONE_SEED:
        return PROVISIONAL
    if diff.within(EQUIVALENCE_MARGIN):
        return HOLDS
    return NOT_REPRODUCED if diff.beyond(EQUIVALENCE_MARGIN) else INCONCLUSIVE


def _worst(statuses: Iterable[str]) -> str:
    found = set(statuses)
    for status in _CLAIM_ORDER:
        if status in found:
            return status
    return NOT_RUN


def _fitted(curves: list[Curve], metric: str) -> tuple[list[tuple[Curve, SlopeFit]], list[Curve]]:
    """Curves with a certified fit, and the matched curves without one (fewer than two certified sizes)."""
    kept, out = [], []
    for c in curves:
        fit = c.fit(metric)
        if fit is None:
            out.append(c)
        else:
            kept.append((c, fit))
    return kept, out


def _unfitted_status(curves: list[Curve]) -> str:
    """Why a group has no usable curve: every point still improving -> not comparable."""
    return NOT_COMPARABLE if all(c.n_certified == 0 for c in curves) else INCONCLUSIVE


def _check_figure(claim: Claim, fig: CurveFigure) -> ClaimCheck:
    metric = claim.metric
    first_curves = [c for c in fig.curves if claim.steeper.matches(c.family, c.l_max)]
    second_curves: list[Curve] = []
    if claim.kind == "steeper":
        assert claim.than is not None
        second_curves = [c for c in fig.curves if claim.than.matches(c.family, c.l_max)]
    first, first_out = _fitted(first_curves, metric)
    second, second_out = _fitted(second_curves, metric)
    still = [f"{c.label}: {', '.join(pts)}" for c in first_curves + second_curves if (pts := c.still_improving(metric))]
    notes: list[str] = []
    left_out = first_out + second_out
    if left_out:
        notes.append("left out (fewer than two certified sizes): " + ", ".join(sorted(c.label for c in left_out)))

    comparisons: list[SlopeComparison] = []
    if claim.kind == "steeper":
        if not first_curves or not second_curves:
            status, head = NOT_RUN, "needs learning curves in both groups"
        elif not first or not second:
            status = _unfitted_status(first_out if not first else second_out)
            head = "no certified learning curve in " + ("the first group" if not first else "the second group")
        else:
            for c1, _ in first:
                for c2, _ in second:
                    sizes, diff = compare_curves(c1, c2, metric)
                    comparisons.append(SlopeComparison(c1, c2, sizes, diff, _steeper_verdict(diff)))
            status, head = _worst(c.status for c in comparisons), ""
    else:
        if len(first_curves) < 2:
            status, head = NOT_RUN, "needs at least two learning curves"
        elif len(first) < 2:
            status = _unfitted_status(first_out) if not first else INCONCLUSIVE
            head = "fewer than two certified learning curves"
        else:
            for i, (c1, _) in enumerate(first):
                for c2, _ in first[i + 1 :]:
                    sizes, diff = compare_curves(c1, c2, metric)
                    comparisons.append(SlopeComparison(c1, c2, sizes, diff, _similar_verdict(diff)))
            status, head = _worst(c.status for c in comparisons), ""
    notes = ([head] if head else []) + notes
    parts = notes[:1] + [c.describe() for c in comparisons] + notes[1:]
    if still:
        parts.append("still improving, not fitted: " + "; ".join(still))
    return ClaimCheck(claim, fig.dataset, status, "; ".join(parts), first, second, fig.key, comparisons, still, notes)


def _budget_only(claim: Claim, figs: list[CurveFigure]) -> tuple[list[Curve], str]:
    """The budget-study curves a claim would compare, and the note naming them."""
    matched = [
        c
        for f in figs
        if f.budget_study
        for c in f.curves
        if claim.steeper.matches(c.family, c.l_max)
        or (claim.than is not None and claim.than.matches(c.family, c.l_max))
    ]
    if not matched:
        return [], ""
    protocols = ", ".join(sorted({c.protocol for c in matched}))
    note = (
        f"budget-study curves, not judged (protocol {protocols}: every point still improving, so no slope "
        f"is fitted): " + ", ".join(sorted(c.label for c in matched))
    )
    return matched, note


def check_claim(claim: Claim, figures: list[CurveFigure]) -> list[ClaimCheck]:
    """One check per dataset of the claim and per certified split figure on it.

    Budget-study figures (every point still improving) never decide a claim: a dataset that has
    only those gets one "not comparable" check naming them ("not run" when no curve matches), and a
    certified figure that cannot be checked ("not run") while budget-study curves exist on the
    dataset is "not comparable" too.
    """
    out: list[ClaimCheck] = []
    for dataset in claim.datasets:
        figs = [f for f in figures if f.dataset == dataset]
        main = [f for f in figs if not f.budget_study]
        budget_curves, budget_note = _budget_only(claim, figs)
        if main:
            for fig in main:
                check = _check_figure(claim, fig)
                if check.status == NOT_RUN and budget_curves:
                    check.status = NOT_COMPARABLE
                    check.notes.append(budget_note)
                    check.detail += "; " + budget_note
                out.append(check)
            continue
        if not budget_curves:
            out.append(
                ClaimCheck(
                    claim,
                    dataset,
                    NOT_RUN,
                    "no learning curves on this dataset",
                    notes=["no learning curves on this dataset"],
                )
            )
            continue
        first_budget = next(f for f in figs if f.budget_study)
        note = "only " + budget_note
        out.append(ClaimCheck(claim, dataset, NOT_COMPARABLE, note, figure_key=first_budget.key, notes=[note]))
    return out


@dataclass
class Replication:
    numbers: list[NumberCheck]
    claims: list[ClaimCheck]
    tolerance: float
    rule: str
    not_recovered: list[str]
    claim_rules: dict[str, str] = field(default_factory=lambda: dict(CLAIM_RULES))
    slope_rule: str = SLOPE_DIFFERENCE_RULE

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for n in self.numbers:
            counts[n.status] = counts.get(n.status, 0) + 1
        return counts

    def claim_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.claims:
            counts[c.status] = counts.get(c.status, 0) + 1
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
