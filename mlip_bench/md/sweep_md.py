"""MD benchmarks for every complete run of a sweep (``mlip-bench md --sweep SWEEPFILE``).

The sweep file's cells are expanded as the sweep expands them; each cell whose run record in the
sweep's results folder is complete gets one MD benchmark with the given settings, written to
``<results>/md/`` by default, where ``leaderboard build`` finds it (``leaderboard.md_data``).
A cell whose MD record exists is skipped (finished); a cell not trained yet, failed, or without
its checkpoint is listed as such. Each benchmark runs under the run lock of its ``md_id`` (in
``<md out>/locks/``), so two processes never run the same one; one that is busy is reported and
left to its holder. A benchmark that fails with a typed error (e.g. a species mismatch) is
reported and the others go on; a trajectory that explodes is a result, recorded in its record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlip_bench.errors import MlipBenchError
from mlip_bench.md.runner import md_id_for, md_record_path, run_md
from mlip_bench.md.settings import MDSettingsInput
from mlip_bench.results.io import MD_RECORDS_DIR, RECORDS_DIR
from mlip_bench.results.run_lock import RunLock

#: outcomes of one cell
DONE, SKIPPED, BUSY, FAILED, NOT_TRAINED = "done", "skipped", "busy", "failed", "not trained"


@dataclass
class MDSweepOutcome:
    run_id: str
    outcome: str
    md_id: str = ""
    detail: str = ""
    #: the typed error of a failed benchmark
    error: MlipBenchError | None = None


@dataclass
class MDSweepResult:
    results_dir: Path
    md_dir: Path
    outcomes: list[MDSweepOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(o.outcome == outcome for o in self.outcomes)

    @property
    def failed(self) -> list[MDSweepOutcome]:
        return [o for o in self.outcomes if o.outcome == FAILED]


def sweep_results_dir(spec, out: Path | None = None) -> Path:
    """The sweep's results folder as ``mlip-bench sweep`` chooses it: ``--out``, the file's ``out``,
    else ``runs/<name>``."""
    return Path(out or spec.out or Path("runs") / spec.name)


def md_for_sweep(
    sweep_file: Path,
    settings: MDSettingsInput,
    results_dir: Path | None = None,
    md_dir: Path | None = None,
    root: str | Path | None = None,
    progress: bool = False,
    command: str = "",
    on_outcome: Callable[[MDSweepOutcome], None] | None = None,
    models: list[str] | None = None,
    n_train: list[int] | None = None,
    seeds: list[int] | None = None,
    protocol: str | None = None,
) -> MDSweepResult:
    """Run the MD benchmark of every complete run of ``sweep_file`` (see the module docstring);
    ``models``, ``n_train`` and ``seeds`` keep only the matching cells (as ``sweep --model`` etc.);
    ``protocol`` replaces the file's protocol, as ``sweep --protocol`` does, so the run ids match
    the runs that command trained."""
    from mlip_bench.sweep.cells import existing_record
    from mlip_bench.sweep.spec import expand_cells, load_sweep, replace_fields, select_cells

    settings.validate()
    spec = load_sweep(Path(sweep_file))
    if protocol:
        spec = replace_fields(spec, str(sweep_file), protocol=protocol)
    cells = expand_cells(spec, root=root)
    if models or n_train or seeds:
        cells = select_cells(cells, models=models, n_train=n_train, seeds=seeds)
    results = sweep_results_dir(spec, results_dir)
    out = Path(md_dir) if md_dir is not None else results / MD_RECORDS_DIR
    result = MDSweepResult(results, out)
    for cell in cells:
        outcome = _one(cell.run_id, settings, results, out, root, progress, command, existing_record)
        result.outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return result


def _protocol_hint(results: Path, run_id: str) -> str:
    """'; a record exists under protocol X: pass --protocol X' when the same cell has a record
    under another protocol (run ids end in ``__<protocol>``), else ''."""
    stem, sep, mine = run_id.rpartition("__")
    if not sep:
        return ""
    labels = {p.stem[len(stem) + 2 :] for p in (results / RECORDS_DIR).glob(f"{stem}__*.json")}
    # a label is the protocol, then '+<tag>' when the sweep overrides its settings
    others = sorted({lab.split("+")[0] for lab in labels if "__" not in lab} - {mine.split("+")[0]})
    return f"; a record exists under protocol {', '.join(others)}: pass --protocol {others[0]}" if others else ""


def _one(run_id, settings, results: Path, out: Path, root, progress, command, existing_record) -> MDSweepOutcome:
    record = existing_record(results, run_id)
    if record is None:
        return MDSweepOutcome(
            run_id, NOT_TRAINED, detail=f"no run record in {results / RECORDS_DIR}" + _protocol_hint(results, run_id)
        )
    if record.status != "complete":
        return MDSweepOutcome(run_id, NOT_TRAINED, detail="its run record says it failed")
    md_id = md_id_for(run_id, settings)
    if md_record_path(out, md_id).exists():
        return MDSweepOutcome(run_id, SKIPPED, md_id, "MD record exists")
    lock = RunLock(out, md_id)
    if not lock.acquire(blocking=False):
        return MDSweepOutcome(run_id, BUSY, md_id, f"another process runs it (pid {lock.holder()})")
    try:
        md = run_md(run_id, settings, out, results=[results], root=root, progress=progress, command=command)
    except MlipBenchError as err:
        return MDSweepOutcome(run_id, FAILED, md_id, str(err), err)
    finally:
        lock.release()
    st = md.stability
    detail = (
        f"stable {st.n_stable}/{st.n_replicas}, mean time to failure {st.mean_time_to_failure_ps:.3g} ps" if st else ""
    )
    return MDSweepOutcome(run_id, DONE, md_id, detail)
