"""Published numbers (``baselines/published.yaml``): pydantic schema, loader and flattening.

Values come out in the leaderboard's display units: meV per structure, meV/atom, meV/H2O for
energies, meV/Å for forces. Numbers reported in kcal/mol are converted with the factor the file
records (``kcal_per_mol_in_mev``) and keep their reported value and unit beside the converted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: evidence tags of ../shared/paper/FACTS.md
EvidenceTag = Literal["CFG", "CODE", "ISSUE", "THREAD", "PWC", "TBL", "MEM-H", "MEM-M", "MEM-L"]
#: tags that may never serve as a pass/fail target
NON_TARGET_TAGS: frozenset[str] = frozenset({"MEM-L"})

Metric = Literal["energy_mae", "energy_rmse", "force_mae", "force_rmse"]
#: reported unit -> (display unit, factor applied with the file's kcal/mol factor when True)
_UNIT_CONVERSIONS: dict[str, tuple[str, bool]] = {
    "meV": ("meV", False),
    "meV/atom": ("meV/atom", False),
    "meV/H2O": ("meV/H2O", False),
    "meV/Å": ("meV/Å", False),
    "kcal/mol": ("meV", True),
    "kcal/mol/Å": ("meV/Å", True),
}
_FORCE_UNITS = {"meV/Å", "kcal/mol/Å"}


class Cell(BaseModel):
    """One reported number, optionally overriding its group's evidence tag."""

    model_config = ConfigDict(extra="forbid")

    value: float = Field(gt=0)
    evidence: EvidenceTag | None = None
    corroboration: list[str] = Field(default_factory=list)
    note: str = ""


class Group(BaseModel):
    """One method on one dataset family at one training-set size: a column of a paper table."""

    model_config = ConfigDict(extra="forbid")

    id: str
    method: str
    family: str
    #: registered networks whose runs are compared with these numbers (default: [family])
    match_families: list[str] | None = None
    l_max: int | None = None
    dataset_family: str
    n_train: int = Field(gt=0)
    n_val: int | None = None
    source: str
    table: str
    reported_units: dict[Metric, str]
    evidence: EvidenceTag
    corroboration: list[str] = Field(default_factory=list)
    rows: dict[str, dict[Metric, Cell]]

    @field_validator("rows", mode="before")
    @classmethod
    def _bare_numbers_are_cells(cls, rows: object) -> object:
        if not isinstance(rows, dict):
            return rows
        out: dict[object, object] = {}
        for name, cells in rows.items():
            if isinstance(cells, dict):
                cells = {m: ({"value": c} if isinstance(c, (int, float)) else c) for m, c in cells.items()}
            out[name] = cells
        return out

    @model_validator(mode="after")
    def _units_known_and_used(self) -> Group:
        for metric, unit in self.reported_units.items():
            if unit not in _UNIT_CONVERSIONS:
                raise ValueError(f"unit {unit!r} of {metric} is not one of {sorted(_UNIT_CONVERSIONS)}")
            if metric.startswith("force") != (unit in _FORCE_UNITS):
                raise ValueError(f"unit {unit!r} does not fit metric {metric}")
        for row, cells in self.rows.items():
            missing = set(cells) - set(self.reported_units)
            if missing:
                raise ValueError(f"row {row!r} has {sorted(missing)} but reported_units does not name them")
        return self


class Selector(BaseModel):
    """Chooses learning curves by model family and l_max (None matches anything)."""

    model_config = ConfigDict(extra="forbid")

    families: list[str] | None = None
    exclude_families: list[str] = Field(default_factory=list)
    l_max_min: int | None = None
    l_max_max: int | None = None

    def matches(self, family: str, l_max: int | None) -> bool:
        """True when a curve of ``family`` with ``l_max`` belongs to this selection."""
        if self.families is not None and family not in self.families:
            return False
        if family in self.exclude_families:
            return False
        if self.l_max_min is not None and (l_max is None or l_max < self.l_max_min):
            return False
        if self.l_max_max is not None and (l_max is not None and l_max > self.l_max_max):
            return False
        return True

    def describe(self) -> str:
        """Short human text, e.g. ``nequip, l_max >= 1``."""
        parts: list[str] = []
        if self.families is not None:
            parts.append(" / ".join(self.families))
        if self.exclude_families:
            parts.append("all models except " + " / ".join(self.exclude_families))
        if self.l_max_min is not None:
            parts.append(f"l_max >= {self.l_max_min}")
        if self.l_max_max is not None:
            parts.append(f"l_max <= {self.l_max_max} (or invariant)")
        return ", ".join(parts) or "all models"


class Claim(BaseModel):
    """A qualitative learning-curve claim: no numeric target, checked against fitted slopes."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    source: str
    evidence: EvidenceTag
    kind: Literal["steeper", "similar"]
    metric: Literal["force_mae", "energy_mae"] = "force_mae"
    datasets: list[str]
    steeper: Selector
    than: Selector | None = None

    @model_validator(mode="after")
    def _steeper_needs_than(self) -> Claim:
        if self.kind == "steeper" and self.than is None:
            raise ValueError(f"claim {self.id!r} of kind 'steeper' needs a 'than' selector")
        return self


class Tolerance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relative: float = Field(gt=0, lt=1)
    rule: str


class PublishedFile(BaseModel):
    """The whole ``published.yaml``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1]
    paper: dict[str, str]
    kcal_per_mol_in_mev: float = Field(gt=43.0, lt=44.0)
    tolerance: Tolerance
    evidence_tags: dict[EvidenceTag, str]
    groups: list[Group]
    claims: list[Claim] = Field(default_factory=list)
    not_recovered: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_unique(self) -> PublishedFile:
        for kind, ids in (("group", [g.id for g in self.groups]), ("claim", [c.id for c in self.claims])):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                raise ValueError(f"duplicate {kind} ids: {dupes}")
        return self


class PublishedValue(BaseModel):
    """One published number in display units, with where it comes from and how sure we are."""

    model_config = ConfigDict(frozen=True)

    id: str
    method: str
    family: str
    match_families: tuple[str, ...]
    l_max: int | None
    dataset: str  # "<dataset_family>/<row>", e.g. "rmd17/aspirin"
    n_train: int
    n_val: int | None
    metric: Metric
    value: float  # in `unit`
    unit: str  # display unit: meV, meV/atom, meV/H2O or meV/Å
    reported_value: float
    reported_unit: str
    conversion_factor: float  # value = reported_value * conversion_factor
    source: str
    table: str
    evidence: EvidenceTag
    corroboration: tuple[str, ...] = ()
    note: str = ""

    @property
    def is_target(self) -> bool:
        """False for low-confidence (MEM-L) numbers: shown, never a pass/fail target."""
        return self.evidence not in NON_TARGET_TAGS


class Published(BaseModel):
    """Loaded file plus its flattened values."""

    file: PublishedFile
    values: list[PublishedValue]
    path: str = ""

    @property
    def datasets(self) -> list[str]:
        """Datasets that have published values, in file order."""
        return list(dict.fromkeys(v.dataset for v in self.values))

    def for_dataset(self, dataset: str) -> list[PublishedValue]:
        return [v for v in self.values if v.dataset == dataset]


def flatten(file: PublishedFile) -> list[PublishedValue]:
    """One :class:`PublishedValue` per table cell, converted to display units."""
    values: list[PublishedValue] = []
    for group in file.groups:
        for row, cells in group.rows.items():
            for metric, cell in cells.items():
                reported_unit = group.reported_units[metric]
                unit, is_kcal = _UNIT_CONVERSIONS[reported_unit]
                factor = file.kcal_per_mol_in_mev if is_kcal else 1.0
                values.append(
                    PublishedValue(
                        id=f"{group.id}/{row}/{metric}",
                        method=group.method,
                        family=group.family,
                        match_families=tuple(group.match_families or [group.family]),
                        l_max=group.l_max,
                        dataset=f"{group.dataset_family}/{row}",
                        n_train=group.n_train,
                        n_val=group.n_val,
                        metric=metric,
                        value=cell.value * factor,
                        unit=unit,
                        reported_value=cell.value,
                        reported_unit=reported_unit,
                        conversion_factor=factor,
                        source=group.source,
                        table=group.table,
                        evidence=cell.evidence or group.evidence,
                        corroboration=tuple(group.corroboration + cell.corroboration),
                        note=cell.note,
                    )
                )
    return values


def load_published(path: Path) -> Published:
    """Read and validate ``published.yaml``; raises ``ConfigError`` naming the file and field."""
    from mlip_bench.config_files import load_yaml_model

    path = Path(path)
    file = load_yaml_model(path, PublishedFile, "published numbers")
    return Published(file=file, values=flatten(file), path=str(path))


def default_published_path() -> Path:
    """The published-numbers file shipped with the package (``mlip_bench/configs/published.yaml``)."""
    from mlip_bench.paths import PUBLISHED_PATH

    return PUBLISHED_PATH
