"""Coverage of a planned learning-curve grid: which cells the run records fill, certified or not.

A plan (``leaderboard/planned_curves.yaml``) names the curves a replication promises, as data:
per entry a dataset, models, training sizes, seeds, the protocol, and a sentence saying why cells
that have no record are missing (budget, cost). :func:`plan_coverage` checks every planned cell
(dataset, model, n_train, seed) against the records and says whether it is

- ``certified``: a complete run certified converged (the only kind a slope fit uses);
- ``still improving``: a complete run without a convergence certificate;
- ``failed``: only a failed run;
- ``not run``: no record at all.

The protocol matches on its base name, so a model override hashed into the protocol
(``plateau+a375e06c``) still counts as ``plateau``; a dataset matches on its stored name or the
name the site shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mlip_bench.leaderboard.tables import display_dataset
from mlip_bench.results.schema import RunRecord

CELL_STATES = ("certified", "still improving", "failed", "not run")


class PlannedCurves(BaseModel):
    """One entry of the plan: every model x n_train x seed of one dataset."""

    model_config = ConfigDict(extra="forbid")

    dataset: str
    models: list[str] = Field(min_length=1)
    n_train: list[int] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)
    protocol: str = "plateau"
    why_missing: str = ""  # shown beside cells without a record

    @field_validator("n_train")
    @classmethod
    def _positive_sizes(cls, sizes: list[int]) -> list[int]:
        if any(n < 1 for n in sizes):
            raise ValueError("training sizes must be positive integers")
        return sorted(set(sizes))

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        return sorted(set(seeds))


class CurvePlan(BaseModel):
    """The whole plan file: a title, where it comes from, and its entries."""

    model_config = ConfigDict(extra="forbid")

    title: str = "Planned learning curves"
    source: str = ""  # e.g. the issue or document that asks for these curves
    curves: list[PlannedCurves] = Field(min_length=1)


def default_plan_path() -> Path | None:
    """``leaderboard/planned_curves.yaml`` of this checkout, None when it does not exist (a wheel install)."""
    from mlip_bench.paths import CHECKOUT_ROOT

    path = CHECKOUT_ROOT / "leaderboard" / "planned_curves.yaml"
    return path if path.is_file() else None


def load_plan(path: str | Path) -> CurvePlan:
    """Read and validate a plan file; raises ``ConfigError`` naming the file and field."""
    from mlip_bench.config_files import load_yaml_model

    return load_yaml_model(path, CurvePlan, "curve plan")


@dataclass(frozen=True)
class CoverageCell:
    """One model at one training size: the state of each planned seed."""

    n_train: int
    states: dict[int, str]  # seed -> one of CELL_STATES

    def count(self, state: str) -> int:
        return sum(s == state for s in self.states.values())

    @property
    def n_planned(self) -> int:
        return len(self.states)

    @property
    def status(self) -> str:
        """``complete`` when every seed is certified, ``none`` when no seed is, else ``partial``."""
        certified = self.count("certified")
        if certified == self.n_planned:
            return "complete"
        return "none" if certified == 0 else "partial"

    def text(self) -> str:
        """e.g. ``3/3``, or ``1/3 (2 not run)``: certified of planned, then the others by state."""
        rest = [f"{self.count(s)} {s}" for s in CELL_STATES[1:] if self.count(s)]
        head = f"{self.count('certified')}/{self.n_planned}"
        return f"{head} ({', '.join(rest)})" if rest else head

    def missing_seeds(self) -> list[int]:
        return [seed for seed, s in sorted(self.states.items()) if s != "certified"]


@dataclass(frozen=True)
class CoverageRow:
    """One planned model on one dataset, across the planned sizes."""

    dataset: str
    model: str
    protocol: str
    cells: list[CoverageCell]
    why_missing: str

    def cell(self, n_train: int) -> CoverageCell | None:
        """The cell at ``n_train``, None when this row does not plan that size."""
        return next((c for c in self.cells if c.n_train == n_train), None)

    @property
    def n_planned(self) -> int:
        return sum(c.n_planned for c in self.cells)

    @property
    def n_certified(self) -> int:
        return sum(c.count("certified") for c in self.cells)


@dataclass(frozen=True)
class Coverage:
    """The plan checked against the records."""

    title: str
    source: str
    rows: list[CoverageRow]

    @property
    def n_planned(self) -> int:
        return sum(r.n_planned for r in self.rows)

    @property
    def n_certified(self) -> int:
        return sum(r.n_certified for r in self.rows)

    def count(self, state: str) -> int:
        return sum(c.count(state) for r in self.rows for c in r.cells)

    @property
    def fraction_certified(self) -> float:
        return self.n_certified / self.n_planned if self.n_planned else 0.0

    def sizes(self, dataset: str) -> list[int]:
        """Every planned n_train of ``dataset`` (the columns of its table)."""
        return sorted({c.n_train for r in self.rows if r.dataset == dataset for c in r.cells})

    def datasets(self) -> list[str]:
        return list(dict.fromkeys(r.dataset for r in self.rows))


def _cell_state(records: list[RunRecord]) -> str:
    complete = [r for r in records if r.status == "complete"]
    if any(r.certified for r in complete):
        return "certified"
    if complete:
        return "still improving"
    return "failed" if records else "not run"


def _protocol_base(protocol: str) -> str:
    return protocol.split("+", 1)[0]


def plan_coverage(plan: CurvePlan, records: Iterable[RunRecord]) -> Coverage:
    """Check every planned (dataset, model, n_train, seed) cell against ``records``."""
    by_cell: dict[tuple[str, str, str, int, int], list[RunRecord]] = {}
    for r in records:
        for dataset in {r.dataset.name, display_dataset(r)}:  # the stored or the site's name
            key = (dataset, r.model, _protocol_base(r.protocol), r.n_train, r.seed)
            by_cell.setdefault(key, []).append(r)
    rows: list[CoverageRow] = []
    for entry in plan.curves:
        for model in entry.models:
            cells = [
                CoverageCell(
                    n,
                    {
                        seed: _cell_state(by_cell.get((entry.dataset, model, entry.protocol, n, seed), []))
                        for seed in entry.seeds
                    },
                )
                for n in entry.n_train
            ]
            rows.append(CoverageRow(entry.dataset, model, entry.protocol, cells, entry.why_missing))
    return Coverage(plan.title, plan.source, rows)


def coverage_markdown(coverage: Coverage) -> str:
    """The coverage as Markdown tables, one per dataset (what REPLICATION.md quotes)."""
    lines = [
        f"{coverage.n_certified} of {coverage.n_planned} planned points certified "
        f"({100 * coverage.fraction_certified:.0f} %); "
        + ", ".join(f"{coverage.count(s)} {s}" for s in CELL_STATES[1:])
        + ".",
        "",
    ]
    for dataset in coverage.datasets():
        sizes = coverage.sizes(dataset)
        lines.append(f"| {dataset} | " + " | ".join(f"n = {n}" for n in sizes) + " | certified | why missing |")
        lines.append("|---" * (len(sizes) + 3) + "|")
        for row in (r for r in coverage.rows if r.dataset == dataset):
            cells = [cell.text() if (cell := row.cell(n)) else "" for n in sizes]
            why = row.why_missing if row.n_certified < row.n_planned else ""
            lines.append(
                f"| {row.model} [{row.protocol}] | "
                + " | ".join(cells)
                + f" | {row.n_certified} of {row.n_planned} | {why} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
