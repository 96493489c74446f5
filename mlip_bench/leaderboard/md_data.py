"""MD records on the leaderboard: stability and observable columns, and time to failure against n_train.

Where they are read from. Each results folder ``R`` given to ``leaderboard build`` may hold an
``md/`` folder, ``R/md/<md_id>.json``, which is where ``mlip-bench md --out R/md`` (and
``mlip-bench md --sweep``) write them; ``--md DIR`` adds other folders. Run-record loading never
reads ``R/md/``. Without MD records the site is built exactly as before.

Which records count. An MD record joins the run whose ``run_id`` it links to. On one dataset
only the MD setting most records share (ensemble, temperature, time step, steps, replicas, seed
and starting frames from the run's own test split, not ``--dataset``/``--structure`` runs) is
shown, so that every time to failure in a column or figure has the same length. The section
names that setting; records of other settings are counted in a note.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mlip_bench.errors import ResultsError, describe_validation_error
from mlip_bench.leaderboard.tables import CurveFigure, DatasetSection, Stat
from mlip_bench.results.io import MD_RECORDS_DIR
from mlip_bench.results.md_schema import MDRecord

#: the folder inside a results folder that holds its MD records
MD_DIR = MD_RECORDS_DIR


def md_folders(results_dirs: Iterable[Path], extra: Iterable[Path] = ()) -> list[Path]:
    """``R/md`` of every results folder that has one and every ``md/`` below it (``R/plateau/md``
    when ``R`` holds several sweeps' folders), then the ``extra`` folders (each once)."""
    out: list[Path] = []
    for r in results_dirs:
        if not Path(r).is_dir():
            continue
        candidate = Path(r) / MD_DIR
        if candidate.is_dir():
            out.append(candidate)
        out.extend(
            sorted(
                d
                for d in Path(r).rglob(MD_DIR)
                if d.is_dir() and d != candidate and MD_DIR not in d.relative_to(r).parts[:-1]
            )
        )
    for e in extra:
        if not Path(e).is_dir():
            raise ResultsError(f"MD folder {e} does not exist; pass a folder of MD records (mlip-bench md --out DIR)")
        out.append(Path(e))
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]


def load_md_records(folders: Iterable[Path]) -> list[MDRecord]:
    """Validated MD records (``*.json`` directly in each folder); ``ResultsError`` names a bad file."""
    return [r for r, _ in load_md_files(folders)]


def load_md_files(folders: Iterable[Path]) -> list[tuple[MDRecord, Path]]:
    """Like :func:`load_md_records`, each record with the file it was read from."""
    records: dict[str, tuple[MDRecord, Path]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.json")):
            if path.name.startswith("."):
                continue
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise ResultsError(f"{path}: not a readable JSON MD record ({err})") from None
            try:
                record = MDRecord.model_validate(raw)
            except ValidationError as err:
                raise ResultsError(f"{path}: {describe_validation_error(err)}") from None
            if record.md_id in records:
                raise ResultsError(
                    f"MD record {record.md_id!r} appears twice ({records[record.md_id][1]} and {path}); pass each folder once"
                )
            records[record.md_id] = (record, path)
    return list(records.values())


def _setting_key(record: MDRecord) -> tuple:
    s = record.settings
    return (s.ensemble, s.temperature_k, s.timestep_fs, s.steps, s.replicas, s.seed)


def setting_text(record: MDRecord) -> str:
    s = record.settings
    length = s.steps * s.timestep_fs / 1000
    return (
        f"{s.ensemble.upper()} {s.temperature_k:g} K, {s.replicas} replicas × {s.steps:,} steps of {s.timestep_fs:g} fs "
        f"({length:g} ps each)"
    )


def _own_start(record: MDRecord) -> bool:
    """The MD started from the run's own test split (not ``--structure`` or another ``--dataset``)."""
    return "__file-" not in record.md_id and "__on-" not in record.md_id


@dataclass
class MDSummary:
    """MD over the runs of one leaderboard row (or one curve point): seeds pooled."""

    n_stable: int
    n_replicas: int
    time_to_failure: Stat | None  # mean time to failure per record, over records (ps)
    length_ps: float
    observable: Stat | None  # h(r) MAE (molecules) or mean RDF MAE (periodic), over records
    observable_label: str
    md_ids: list[str]
    #: shortest time to failure of any replica (ps)
    min_time_to_failure_ps: float
    #: h(r) MAE between two disjoint sets of reference frames (the sampling noise), over records
    observable_floor: Stat | None
    steps_per_second: Stat | None
    seeds: list[int]
    #: periodic systems with Li: the Li diffusivity of the MD (cm²/s), over records; None otherwise
    li_diffusivity: Stat | None = None
    #: periodic records judged by the single 0.5 Å floor (written before the per-pair floors)
    n_global_floor: int = 0

    @property
    def stable_text(self) -> str:
        """``"1/3"``; ``"1/3*"`` when a periodic record was judged by the old single 0.5 Å floor."""
        return f"{self.n_stable}/{self.n_replicas}" + ("*" if self.n_global_floor else "")


def summarise(records: list[MDRecord]) -> MDSummary | None:
    done = [r for r in records if r.status == "complete" and r.stability is not None]
    if not done:
        return None
    periodic = any(r.stability.kind == "periodic" for r in done)
    observable = [
        (r.observables.rdf_mae_mean if periodic else r.observables.hr_mae) for r in done if r.observables is not None
    ]
    return MDSummary(
        n_stable=sum(r.stability.n_stable for r in done),
        n_replicas=sum(r.stability.n_replicas for r in done),
        time_to_failure=Stat.of(r.stability.mean_time_to_failure_ps for r in done),
        length_ps=max(r.stability.length_ps for r in done),
        observable=Stat.of(v for v in observable if v is not None),
        observable_label="RDF MAE" if periodic else "h(r) MAE",
        md_ids=[r.md_id for r in done],
        min_time_to_failure_ps=min(r.stability.min_time_to_failure_ps for r in done),
        observable_floor=None
        if periodic
        else Stat.of(r.observables.hr_mae_sampling_floor for r in done if r.observables is not None),
        steps_per_second=Stat.of(r.speed.steps_per_second for r in done if r.speed is not None),
        seeds=sorted(r.run.seed for r in done),
        li_diffusivity=Stat.of(
            r.observables.diffusivity_cm2_per_s.get("Li") for r in done if r.observables is not None
        ),
        n_global_floor=sum(r.stability.kind == "periodic" and r.stability.pair_floors_a is None for r in done),
    )


@dataclass
class MDView:
    """The MD records the site shows: per dataset, the chosen setting and run id -> record."""

    by_dataset: dict[str, dict[str, MDRecord]]
    settings: dict[str, str]
    #: per dataset: MD records left out (other settings, other starting frames, failed)
    left_out: dict[str, int]

    def for_runs(self, dataset: str, run_ids: Iterable[str]) -> MDSummary | None:
        chosen = self.by_dataset.get(dataset, {})
        return summarise([chosen[r] for r in run_ids if r in chosen])

    @property
    def empty(self) -> bool:
        return not any(self.by_dataset.values())


def md_view(md_records: Iterable[MDRecord], run_datasets: dict[str, str]) -> MDView:
    """Choose, per dataset (as the site shows it), the setting most MD records of its runs share.

    ``run_datasets``: run id -> the dataset name the site shows for that run.
    """
    groups: dict[str, list[MDRecord]] = {}
    for r in md_records:
        dataset = run_datasets.get(r.run.run_id)
        if dataset is not None:
            groups.setdefault(dataset, []).append(r)
    by_dataset: dict[str, dict[str, MDRecord]] = {}
    settings: dict[str, str] = {}
    left_out: dict[str, int] = {}
    for dataset, recs in sorted(groups.items()):
        usable = [r for r in recs if r.status == "complete" and r.stability is not None and _own_start(r)]
        if not usable:
            left_out[dataset] = len(recs)
            continue
        counts = Counter(_setting_key(r) for r in usable)
        best = max(counts, key=lambda k: (counts[k], k[3] * k[2]))  # most records, then the longest
        chosen = sorted((r for r in usable if _setting_key(r) == best), key=lambda r: r.created)
        by_dataset[dataset] = {r.run.run_id: r for r in chosen}  # the latest record of a run wins
        settings[dataset] = setting_text(chosen[0])
        left_out[dataset] = len(recs) - len(by_dataset[dataset])
    return MDView(by_dataset, settings, left_out)


def attach_to_sections(sections: list[DatasetSection], view: MDView) -> None:
    """Give each reproduced row its ``md`` summary and each section its ``md_setting``."""
    for section in sections:
        section.md_setting = view.settings.get(section.dataset, "")
        section.md_left_out = view.left_out.get(section.dataset, 0)
        for row in (*section.rows, *section.budget_rows):
            if row.kind == "reproduced":
                row.md = view.for_runs(section.dataset, (r.run_id for r in row.runs))
        section.md_li_diffusivity = any(
            row.md is not None and row.md.li_diffusivity is not None
            for row in (*section.rows, *section.budget_rows)
            if row.kind == "reproduced"
        )


def stability_summaries(figure: CurveFigure, view: MDView) -> list[tuple[Any, dict[int, MDSummary]]]:
    """(curve, n_train -> MD summary over seeds) for every curve of ``figure`` with MD."""
    out = []
    for curve in figure.curves:
        by_n: dict[int, list[str]] = {}
        for r in curve.runs:
            by_n.setdefault(r.n_train, []).append(r.run_id)
        points = {}
        for n, ids in sorted(by_n.items()):
            summary = view.for_runs(figure.dataset, ids)
            if summary is not None and summary.time_to_failure is not None:
                points[n] = summary
        if points:
            out.append((curve, points))
    return out


def stability_figure(figure: CurveFigure, view: MDView) -> dict[str, Any] | None:
    """Plotly spec: mean time to failure (ps) against n_train (log x) per model, ± std over seeds,
    with the trajectory length as a dotted line (a point on it: every replica stayed stable); a
    hollow marker: fewer than all replicas ran to the end (hover: k/N stable)."""
    from mlip_bench.leaderboard.plots import _BASE_LAYOUT, _safe, model_style, tick_text

    summaries = stability_summaries(figure, view)
    if not summaries:
        return None
    length = max(s.length_ps for _, by_n in summaries for s in by_n.values())
    traces: list[dict[str, Any]] = []
    xs: list[int] = []
    for curve, by_n in summaries:
        style = model_style(curve.model)
        stats = [s.time_to_failure for s in by_n.values()]
        xs += list(by_n)
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": _safe(curve.label),
                "x": list(by_n),
                "y": [st.mean for st in stats],
                "customdata": [[st.n, s.stable_text] for st, s in zip(stats, by_n.values(), strict=True)],
                "error_y": {
                    "type": "data",
                    "array": [st.std for st in stats],
                    "visible": True,
                    "color": style.colour,
                },
                # hollow where fewer than all replicas ran to the end, as in the static SVG
                "marker": {
                    "color": style.colour,
                    "symbol": [
                        style.marker if s.n_stable == s.n_replicas else f"{style.marker}-open" for s in by_n.values()
                    ],
                    "size": 9,
                },
                "line": {"color": style.colour, "width": 1},
                "meta": {"curve": curve.key, "points": "md-stability", "model": curve.model},
                "hovertemplate": "n_train %{x}<br>time to failure %{y:.3g} ps (%{customdata[0]} run(s); "
                "%{customdata[1]} replicas stable)"
                "<extra>%{fullData.name}</extra>",
            }
        )
    lo, hi = min(xs), max(xs)
    traces.append(
        {
            "type": "scatter",
            "mode": "lines",
            "name": _safe(f"trajectory length ({length:g} ps): stable throughout"),
            "x": [lo, hi],
            "y": [length, length],
            "line": {"color": "#888", "dash": "dot", "width": 1},
            "hoverinfo": "skip",
            "meta": {"points": "md-length"},
        }
    )
    ticks = sorted(set(xs))
    layout = dict(_BASE_LAYOUT)
    layout.update(
        {
            "title": {"text": _safe(f"MD stability vs n_train — {figure.dataset}"), "font": {"size": 14}},
            "xaxis": {
                "type": "log",
                "title": {"text": "training configurations n_train"},
                "tickvals": ticks,
                "ticktext": [tick_text(v) for v in ticks],
                "tickangle": 0,
            },
            "yaxis": {"title": {"text": "mean time to failure (ps)"}, "rangemode": "tozero"},
            "height": 460,
            "showlegend": True,
            "legend": {"orientation": "h", "y": -0.22, "x": 0, "font": {"size": 11}},
            "margin": {"l": 60, "r": 10, "t": 40, "b": 60},
        }
    )
    return {"data": traces, "layout": layout}


#: largest figure file copied into the site (the runner's PNGs are about 40 KB)
MAX_FIGURE_BYTES = 5 * 1024 * 1024
_FIGURE_WORDS = {
    "hr": "h(r), MD against the reference frames",
    "rdf": "RDF per species pair",
    "msd": "mean squared displacement",
}


@dataclass
class RunMD:
    """One MD record as a run page shows it."""

    record: MDRecord
    setting: str
    #: the record the leaderboard's MD columns use for this run
    on_leaderboard: bool
    #: NVE: energy drift (meV/atom/ps) over replicas, and the largest |E(t) - E(0)| (meV/atom)
    drift: Stat | None
    max_energy_error: float | None
    #: (figure file next to the record, its suffix such as ".hr.png", words for its caption)
    figures: list[tuple[Path, str, str]]


def _figure_files(record: MDRecord, path: Path) -> list[tuple[Path, str, str]]:
    """The record's PNG figures that lie next to it (plain file names only, none too large)."""
    if record.observables is None:
        return []
    out = []
    for name in record.observables.figures:
        if Path(name).name != name or name.startswith(".") or not name.endswith(".png"):
            continue
        source = path.parent / name
        if not source.is_file() or source.stat().st_size > MAX_FIGURE_BYTES:
            continue
        suffix = name[len(record.md_id) :] if name.startswith(record.md_id + ".") else ".png"
        kind = suffix.split(".")[1] if suffix.count(".") >= 2 else ""
        out.append((source, suffix, _FIGURE_WORDS.get(kind, "figure")))
    return out


def md_by_run(files: Iterable[tuple[MDRecord, Path]], view: MDView) -> dict[str, list[RunMD]]:
    """Run id -> every MD record of that run (any setting, failed ones too), oldest first."""
    shown = {r.md_id for chosen in view.by_dataset.values() for r in chosen.values()}
    out: dict[str, list[RunMD]] = {}
    for record, path in sorted(files, key=lambda f: (f[0].created, f[0].md_id)):
        drifts = [r.energy_drift_mev_per_atom_per_ps for r in record.replicas]
        errors = [
            r.max_energy_error_mev_per_atom for r in record.replicas if r.max_energy_error_mev_per_atom is not None
        ]
        out.setdefault(record.run.run_id, []).append(
            RunMD(
                record=record,
                setting=setting_text(record),
                on_leaderboard=record.md_id in shown,
                drift=Stat.of(d for d in drifts if d is not None),
                max_energy_error=max(errors) if errors else None,
                figures=_figure_files(record, path),
            )
        )
    return out
