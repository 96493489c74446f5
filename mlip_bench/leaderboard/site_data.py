"""What the site's pages show besides the main tables: downloads (CSV and JSON of every table),
protocol summaries, per-model information, test-set descriptions and the replication summary.

Everything here is computed from validated run records and the published-numbers file; nothing
reads the network.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlip_bench.leaderboard.plots import published_for
from mlip_bench.leaderboard.published import PublishedValue
from mlip_bench.leaderboard.tables import (
    CERTIFIED,
    EVAL_SET,
    RULE_WORDS,
    CurveFigure,
    DatasetSection,
    HardwareCost,
    Stat,
    TableRow,
    hardware_costs,
    with_display_names,
)
from mlip_bench.results.schema import RunRecord

display_records = with_display_names


def _safe_name(text: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".") or "x"
    if safe != text or len(safe) > 100:
        safe = f"{safe[:80]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return safe


def model_page_name(model: str) -> str:
    """File name of a model's page under ``models/``."""
    return f"{_safe_name(model)}.html"


def protocol_anchor(protocol: str) -> str:
    """Anchor of a protocol's section on ``protocols.html``."""
    return "protocol-" + re.sub(r"[^A-Za-z0-9_-]", "-", protocol)


# -- downloads ---------------------------------------------------------------------------------


@dataclass
class DownloadFile:
    name: str
    csv: str  # path relative to the site root
    json: str
    n_rows: int
    title: str = ""


@dataclass
class Downloads:
    """Writes each table as ``<folder>/<name>.csv`` and ``<name>.json`` (UTF-8) and lists them."""

    folder: Path
    files: list[DownloadFile] = field(default_factory=list)

    def add(self, name: str, header: list[str], rows: list[list[Any]], title: str = "") -> DownloadFile:
        self.folder.mkdir(parents=True, exist_ok=True)
        safe = _safe_name(name)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
        (self.folder / f"{safe}.csv").write_text(buf.getvalue(), encoding="utf-8")
        objects = [dict(zip(header, row)) for row in rows]
        (self.folder / f"{safe}.json").write_text(
            json.dumps({"columns": header, "rows": objects}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        entry = DownloadFile(name, f"data/{safe}.csv", f"data/{safe}.json", len(rows), title or name)
        self.files.append(entry)
        return entry


def _num(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else float(f"{value:.{digits}g}")


def cost_text(costs: list[HardwareCost]) -> str:
    """ "GPU NVIDIA H200 (cuda): 0.021 s/step, 63 s (2 runs); CPU ...: ..." (never a mixed mean)."""
    parts = []
    for c in costs:
        bits = []
        if c.seconds_per_step:
            bits.append(f"{c.seconds_per_step.mean:.3g} s/step")
        if c.train_seconds:
            bits.append(f"{c.train_seconds.mean:.3g} s wall")
        parts.append(
            f"{c.kind} {c.hardware}: {', '.join(bits) or 'no timings'} ({c.n_runs} run{'s' if c.n_runs != 1 else ''})"
        )
    return "; ".join(parts)


def leaderboard_table(
    section: DatasetSection | None, rows: list[TableRow], sections: list[DatasetSection] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a leaderboard table in page order; all sections when ``section`` is None."""
    if section is not None:
        columns = list(section.columns)
    else:
        seen: dict[str, Any] = {}
        for s in sections or []:
            for c in s.columns:
                seen.setdefault(c.key, c)
        columns = list(seen.values())
    header = ["dataset", "source", "model", "l_max", "n_train", "protocol", "budget", "convergence"]
    for c in columns:
        header += [f"{c.key} mean ({c.unit})", f"{c.key} std ({c.unit})", f"{c.key} evidence"]
    header += ["n_seeds", "seeds", "n_parameters", "training_cost_by_hardware", "run_ids", "date", "published_source"]
    mds = [getattr(r, "md", None) for r in rows]
    with_md = any(md is not None for md in mds)
    if with_md:
        header += ["md_stable_replicas", "md_time_to_failure_ps", "md_time_to_failure_std_ps", "md_length_ps"]
        header += ["md_observable", "md_observable_value", "md_ids"]
    with_diffusivity = any(md is not None and md.li_diffusivity is not None for md in mds)
    if with_diffusivity:
        header += ["md_li_diffusivity_cm2_per_s", "md_li_diffusivity_std_cm2_per_s"]
    out = []
    for r in rows:
        line: list[Any] = [
            r.dataset,
            "ours" if r.kind == "reproduced" else "published",
            r.model,
            r.l_max,
            r.n_train,
            r.protocol,
            r.protocol_text,
            r.convergence or ("as published" if r.kind == "published" else ""),
        ]
        for c in columns:
            st = r.values.get(c.key)
            line += [
                _num(st.mean) if st else None,
                _num(st.std) if st and st.std is not None else None,
                r.evidence.get(c.key, ""),
            ]
        line += [
            len(r.seeds) if r.kind == "reproduced" else None,
            " ".join(str(s) for s in r.seeds),
            r.n_parameters,
            cost_text(r.costs),
            " ".join(run.run_id for run in r.runs),
            r.date,
            r.source,
        ]
        if with_md:
            md = r.md
            ttf = md.time_to_failure if md else None
            line += [
                md.stable_text if md else None,
                _num(ttf.mean) if ttf else None,
                _num(ttf.std) if ttf and ttf.std is not None else None,
                md.length_ps if md else None,
                md.observable_label if md else None,
                _num(md.observable.mean) if md and md.observable else None,
                " ".join(md.md_ids) if md else "",
            ]
            if with_diffusivity:
                d = md.li_diffusivity if md else None
                line += [_num(d.mean) if d else None, _num(d.std) if d and d.std is not None else None]
        out.append(line)
    return header, out


def slopes_table(figures: list[CurveFigure], fits: dict[str, dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "dataset",
        "figure",
        "budget_study",
        "model",
        "l_max",
        "protocol",
        "seeds",
        "n_train",
        "force_slope",
        "force_ci_low",
        "force_ci_high",
        "energy_slope",
        "energy_ci_low",
        "energy_ci_high",
        "certified_runs",
        "runs",
    ]
    rows = []
    for f in figures:
        for c in f.curves:
            line: list[Any] = [
                f.dataset,
                f.key,
                f.budget_study,
                c.model,
                c.l_max,
                c.protocol,
                " ".join(map(str, c.seeds)),
                " ".join(map(str, c.n_trains)),
            ]
            for col in ("force_mae", "energy_mae"):
                fit = fits.get(c.key, {}).get(col)
                line += [
                    _num(fit.slope) if fit else None,
                    _num(fit.ci_low) if fit else None,
                    _num(fit.ci_high) if fit else None,
                ]
            line += [c.n_certified, len(c.runs)]
            rows.append(line)
    return header, rows


def numbers_table(rep) -> tuple[list[str], list[list[Any]]]:
    header = [
        "dataset",
        "method",
        "n_train",
        "metric",
        "published",
        "unit",
        "evidence",
        "ours_mean",
        "ours_std",
        "ours_seeds",
        "relative_difference",
        "setting",
        "status",
        "source",
        "run_ids",
    ]
    rows = []
    for n in rep.numbers:
        v = n.value
        m = n.measured
        rows.append(
            [
                v.dataset,
                v.method,
                v.n_train,
                v.metric,
                _num(v.value),
                v.unit,
                v.evidence,
                _num(m.mean) if m else None,
                _num(m.std) if m and m.std is not None else None,
                m.n if m else None,
                _num(n.relative_difference) if n.relative_difference is not None else None,
                n.setting,
                n.status,
                f"{v.source}; {v.table}",
                " ".join(r.run_id for r in n.runs),
            ]
        )
    return header, rows


def claims_table(rep) -> tuple[list[str], list[list[Any]]]:
    header = ["claim", "text", "evidence", "dataset", "status", "comparisons", "still_improving", "notes"]
    rows = []
    for c in rep.claims:
        rows.append(
            [
                c.claim.id,
                c.claim.text,
                c.claim.evidence,
                c.dataset,
                c.status,
                " | ".join(cmp.describe() for cmp in c.comparisons),
                " | ".join(c.still_improving),
                " | ".join(c.notes),
            ]
        )
    return header, rows


# -- curves ------------------------------------------------------------------------------------


def single_size(figure: CurveFigure) -> bool:
    """True when every curve of the figure has one training size: a table, not a one-point plot."""
    return len({n for c in figure.curves for n in c.n_trains}) <= 1


def single_size_rows(figure: CurveFigure) -> list[dict[str, Any]]:
    """Rows for a single-size figure's table: per curve, force and energy MAE (mean ± std)."""
    out = []
    for c in figure.curves:
        row: dict[str, Any] = {"curve": c, "n_train": c.n_trains[0] if c.n_trains else None}
        for col in ("force_mae", "energy_mae"):
            row[col] = Stat.of(v for _, v, _ in c.points(col))
        row["certified"] = c.n_certified
        out.append(row)
    return out


def published_on(figure: CurveFigure, column_key: str, published: Iterable[PublishedValue]) -> list[PublishedValue]:
    return published_for(figure, column_key, published)


# -- test sets ---------------------------------------------------------------------------------


def test_set_text(dataset: str, records: Iterable[RunRecord]) -> str:
    """What the dataset's test set is, from its records: split name, frames per seed, extra sets."""
    runs = [r for r in records if r.dataset.name == dataset and r.status == "complete"]
    if not runs:
        return "published numbers only: no run of ours on this dataset"
    splits = sorted({r.split.name for r in runs})
    frames = sorted({m.n_frames for r in runs for name, m in r.metrics.items() if name == EVAL_SET})
    n_test = sorted({r.split.n_test for r in runs})
    n_val = sorted({r.split.n_val for r in runs})
    frames_text = ", ".join(f"{f:,}" for f in frames) or ", ".join(f"{n:,}" for n in n_test)
    text = (
        f"test set: {frames_text} frames per seed, held out from split “{', '.join(splits)}” "
        f"(validation {', '.join(map(str, n_val))} frames; each seed draws its own split)"
    )
    if frames and n_test and max(frames) < max(n_test):
        text += f"; evaluated on at most {max(frames):,} of the {max(n_test):,} held-out frames"
    extra = sorted({name for r in runs for name in r.metrics if name != EVAL_SET})
    for name in extra:
        k = sorted({r.metrics[name].n_frames for r in runs if name in r.metrics})
        text += f"; extra test set “{name}”: {', '.join(f'{x:,}' for x in k)} frames"
    card_note = _card_split_note(dataset)
    if card_note:
        text += f". The paper's split: {card_note}"
    return text


def _card_split_note(dataset: str) -> str:
    """The dataset card's note on the paper's split (how the paper tested), when it has one."""
    try:
        from mlip_bench.data.cards import load_card

        card = load_card(dataset.split("/")[0])
        note = getattr(getattr(card, "splits", None), "note", None)
        return str(note).strip() if note else ""
    except Exception:  # noqa: BLE001 - a card that cannot be read just gives no note
        return ""


# -- protocols ---------------------------------------------------------------------------------


@dataclass
class ProtocolRow:
    dataset: str
    model: str
    n_train: int
    n_runs: int
    steps: str
    epochs: str
    budget_steps: str
    status: str


@dataclass
class ProtocolSummary:
    name: str
    description: str
    budget: str
    n_runs: int
    n_certified: int
    rules: dict[str, int]
    rows: list[ProtocolRow]
    budget_study: bool

    @property
    def status(self) -> str:
        if self.n_certified == self.n_runs:
            return CERTIFIED
        if self.n_certified == 0:
            return "still improving"
        return f"{self.n_certified} of {self.n_runs} {CERTIFIED}"


def _range(values: list[int]) -> str:
    if not values:
        return "—"
    lo, hi = min(values), max(values)
    return f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}"


def _budget_text(config: dict[str, Any]) -> str:
    parts = []
    steps = config.get("steps_by_n_train")
    if isinstance(steps, dict) and steps:
        ladder = ", ".join(f"{int(v):,} at {k}" for k, v in sorted(steps.items(), key=lambda kv: int(kv[0])))
        parts.append(f"fixed optimiser-step budget per training size ({ladder} frames)")
    if config.get("max_steps"):
        parts.append(f"at most {int(config['max_steps']):,} optimiser steps")
    max_epochs = config.get("max_epochs")
    if max_epochs and int(max_epochs) < 100_000:
        parts.append(f"at most {int(max_epochs):,} epochs")
    if config.get("max_wall_seconds"):
        parts.append(f"at most {float(config['max_wall_seconds']):,.0f} s wall time")
    patience = config.get("early_stopping_patience")
    if patience and int(patience) < 100_000:
        parts.append(f"stops after {int(patience)} validations without gain")
    return "; ".join(parts) or "no budget recorded"


def protocol_summaries(records: Iterable[RunRecord]) -> list[ProtocolSummary]:
    """One summary per protocol of the complete records: its budget and how its runs ended."""
    complete = [r for r in records if r.status == "complete"]
    by_protocol: dict[str, list[RunRecord]] = {}
    for r in complete:
        by_protocol.setdefault(r.protocol, []).append(r)
    certified_protocols = {r.protocol for r in complete if r.certified}
    out = []
    for name, runs in sorted(by_protocol.items()):
        # the newest record's budget: a preset's cap may have been raised since its first runs
        # (runs its old cap ended then train on; runs a plateau rule ended are the same under either)
        configured = [r for r in runs if r.protocol_config]
        config = max(configured, key=lambda r: str(r.created)).protocol_config if configured else {}
        rules: dict[str, int] = {}
        for r in runs:
            rule = r.convergence.rule if r.convergence else "no certificate (records predate them)"
            rule = RULE_WORDS.get(rule, rule)
            rules[rule] = rules.get(rule, 0) + 1
        groups: dict[tuple[str, str, int], list[RunRecord]] = {}
        for r in runs:
            groups.setdefault((r.dataset.name, r.model, r.n_train), []).append(r)
        rows = []
        for (dataset, model, n), rs in sorted(groups.items()):
            timed = [r.timings for r in rs if r.timings]
            steps_cfg = (rs[0].protocol_config or {}).get("steps_by_n_train") or {}
            budget = steps_cfg.get(str(n)) or steps_cfg.get(n) or (rs[0].protocol_config or {}).get("max_steps")
            k = sum(r.certified for r in rs)
            rows.append(
                ProtocolRow(
                    dataset,
                    model,
                    n,
                    len(rs),
                    _range([t.steps for t in timed]),
                    _range([t.epochs for t in timed]),
                    f"{int(budget):,}" if budget else "—",
                    CERTIFIED if k == len(rs) else "still improving" if k == 0 else f"{k} of {len(rs)} {CERTIFIED}",
                )
            )
        out.append(
            ProtocolSummary(
                name=name,
                description=str(config.get("description", "")),
                budget=_budget_text(config),
                n_runs=len(runs),
                n_certified=sum(r.certified for r in runs),
                rules=rules,
                rows=rows,
                budget_study=name not in certified_protocols,
            )
        )
    return out


# -- replication summary -----------------------------------------------------------------------


@dataclass
class RanLine:
    dataset: str
    protocol: str
    models: list[str]
    n_trains: list[int]
    seeds: list[int]
    n_runs: int
    n_certified: int


def what_we_ran(records: Iterable[RunRecord]) -> list[RanLine]:
    """Per (dataset, protocol): models, sizes, seeds and how many runs are certified converged."""
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in records:
        if r.status == "complete":
            groups.setdefault((r.dataset.name, r.protocol), []).append(r)
    return [
        RanLine(
            d,
            p,
            sorted({r.model for r in rs}),
            sorted({r.n_train for r in rs}),
            sorted({r.seed for r in rs}),
            len(rs),
            sum(r.certified for r in rs),
        )
        for (d, p), rs in sorted(groups.items())
    ]


# -- models ------------------------------------------------------------------------------------

#: per network: one paragraph on the architecture, and the paper that introduced it
FAMILY_INFO: dict[str, tuple[str, str, str]] = {
    "nequip": (
        "NequIP is an E(3)-equivariant message-passing network. Each atom carries features that are "
        "irreducible representations of O(3) up to rotation order l_max; an interaction block combines a "
        "neighbour's features with the spherical harmonics of the bond direction by tensor products, "
        "weighted by a small MLP of a Bessel expansion of the bond length (inside the cutoff r_max), and "
        "adds a self-interaction and gated nonlinearity. The scalar output of the last layer is an atomic "
        "energy; the total energy is their sum and the forces are its negative gradient. l_max = 0 keeps "
        "only scalars (an invariant model).",
        "Batzner et al., E(3)-equivariant graph neural networks for data-efficient and accurate interatomic potentials, Nat. Commun. 13, 2453 (2022)",
        "https://doi.org/10.1038/s41467-022-29939-5",
    ),
    "schnet": (
        "SchNet is an invariant message-passing network: atom embeddings are updated by interaction blocks "
        "whose continuous filters are MLPs of a Gaussian expansion of interatomic distances (smooth cosine "
        "cutoff). Atomic outputs sum to the energy; forces are its negative gradient.",
        "Schütt et al., SchNet – A deep learning architecture for molecules and materials, J. Chem. Phys. 148, 241722 (2018)",
        "https://doi.org/10.1063/1.5019779",
    ),
    "schnetpack-schnet": (
        "SchNet as implemented in SchNetPack: invariant continuous-filter convolutions over Gaussian-expanded "
        "distances, atomic energies summed, forces by automatic differentiation.",
        "Schütt et al., SchNet – A deep learning architecture for molecules and materials, J. Chem. Phys. 148, 241722 (2018)",
        "https://doi.org/10.1063/1.5019779",
    ),
    "schnetpack-painn": (
        "PaiNN (SchNetPack implementation) passes scalar and vector (l = 1) features between atoms: "
        "messages depend on distances through radial filters and on bond directions through the vector "
        "channel, which keeps the model rotation-equivariant at low cost.",
        "Schütt, Unke, Gastegger, Equivariant message passing for the prediction of tensorial properties and molecular spectra, ICML 2021",
        "https://arxiv.org/abs/2102.03150",
    ),
    "dimenet++": (
        "DimeNet++ passes messages along directed bonds; each message update uses the angle between "
        "neighbouring bonds and the distances, expanded in spherical Bessel functions and spherical "
        "harmonics (directional message passing), with cheaper interaction blocks than DimeNet.",
        "Gasteiger et al., Fast and uncertainty-aware directional message passing for non-equilibrium molecules, arXiv:2011.14115 (2020)",
        "https://arxiv.org/abs/2011.14115",
    ),
}


@dataclass
class DatasetParams:
    dataset: str
    n_parameters: list[int]
    n_parameters_effective: list[int]


@dataclass
class CostLine:
    dataset: str
    protocol: str
    n_train: int
    cost: HardwareCost


@dataclass
class ModelInfo:
    model: str
    family: str
    l_max: int | None
    architecture: str
    description: str
    hyperparameters: dict[str, Any]
    config_path: str
    config_text: str
    paper: str
    paper_url: str
    params: list[DatasetParams]
    costs: list[CostLine]
    runs: list[RunRecord]
    datasets: list[str]


def _config_file(model: str) -> tuple[str, str]:
    """(path relative to the checkout, text) of the packaged config file of ``model``, if any."""
    try:
        from mlip_bench.paths import model_config_path

        path = model_config_path(model)
        if path.is_file():
            return f"mlip_bench/configs/models/{path.name}", path.read_text(encoding="utf-8")
    except Exception:  # noqa: BLE001 - a model YAML given by path is not packaged
        pass
    return "", ""


def model_infos(records: Iterable[RunRecord]) -> list[ModelInfo]:
    """One entry per model variant in the records."""
    by_model: dict[str, list[RunRecord]] = {}
    for r in records:
        by_model.setdefault(r.model, []).append(r)
    out = []
    for model, runs in sorted(by_model.items()):
        first = runs[0]
        config = first.model_config_full or {}
        family = first.model_family
        arch, paper, url = FAMILY_INFO.get(family, (f"The {family} network (no description on file).", "", ""))
        params = []
        for dataset in sorted({r.dataset.name for r in runs}):
            rs = [r for r in runs if r.dataset.name == dataset]
            params.append(
                DatasetParams(
                    dataset,
                    sorted({r.n_parameters for r in rs if r.n_parameters}),
                    sorted({r.n_parameters_effective for r in rs if r.n_parameters_effective}),
                )
            )
        costs = []
        groups: dict[tuple[str, str, int], list[RunRecord]] = {}
        for r in runs:
            if r.status == "complete":
                groups.setdefault((r.dataset.name, r.protocol, r.n_train), []).append(r)
        for (dataset, protocol, n), rs in sorted(groups.items()):
            for cost in hardware_costs(rs):
                costs.append(CostLine(dataset, protocol, n, cost))
        path, text = _config_file(model)
        hyper = config.get("hyperparameters") if isinstance(config.get("hyperparameters"), dict) else {}
        if "r_max" in config:
            hyper = {"r_max": config["r_max"], **hyper}
        out.append(
            ModelInfo(
                model=model,
                family=family,
                l_max=first.l_max,
                architecture=arch,
                description=str(config.get("description", "")),
                hyperparameters=hyper,
                config_path=path,
                config_text=text or json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False, default=str),
                paper=paper,
                paper_url=url,
                params=params,
                costs=costs,
                runs=runs,
                datasets=sorted({r.dataset.name for r in runs}),
            )
        )
    return out


def models_table(infos: list[ModelInfo]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "model",
        "family",
        "l_max",
        "dataset",
        "protocol",
        "n_train",
        "hardware_kind",
        "hardware",
        "runs",
        "seconds_per_step_mean",
        "train_seconds_mean",
        "n_parameters",
        "n_parameters_effective",
    ]
    rows = []
    for m in infos:
        params = {p.dataset: p for p in m.params}
        for c in m.costs:
            p = params.get(c.dataset)
            rows.append(
                [
                    m.model,
                    m.family,
                    m.l_max,
                    c.dataset,
                    c.protocol,
                    c.n_train,
                    c.cost.kind,
                    c.cost.hardware,
                    c.cost.n_runs,
                    _num(c.cost.seconds_per_step.mean) if c.cost.seconds_per_step else None,
                    _num(c.cost.train_seconds.mean) if c.cost.train_seconds else None,
                    " ".join(map(str, p.n_parameters)) if p else "",
                    " ".join(map(str, p.n_parameters_effective)) if p else "",
                ]
            )
    return header, rows


def citation_text(root: Path) -> str:
    """The checkout's CITATION.cff, shown on the cite page ("" when absent, e.g. a wheel install)."""
    path = root / "CITATION.cff"
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
