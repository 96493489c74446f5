"""Run records on disk: ``<out>/records/<run_id>.json``, written atomically, never overwritten
silently; read back as validated :class:`RunRecord` objects or one pandas DataFrame."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from mlip_bench.atomic_files import write_text_atomic
from mlip_bench.errors import ResultsError, describe_validation_error
from mlip_bench.results.schema import RunRecord

RECORDS_DIR = "records"
#: the folder of MD records inside a results folder (``mlip-bench md --out <results>/md``)
MD_RECORDS_DIR = "md"


def record_path(out_dir: Path, run_id: str) -> Path:
    """Where the record of ``run_id`` lives under ``out_dir``."""
    return Path(out_dir) / RECORDS_DIR / f"{run_id}.json"


def write_record(record: RunRecord, out_dir: Path, overwrite: bool = False) -> Path:
    """Write ``record`` to ``<out_dir>/records/<run_id>.json`` atomically.

    An existing record is replaced only with ``overwrite=True`` (``ResultsError`` otherwise).
    """
    path = record_path(out_dir, record.run_id)
    if path.exists() and not overwrite:
        raise ResultsError(f"record {path} already exists; delete it to replace it")
    text = json.dumps(record.model_dump(mode="json"), indent=1, allow_nan=True)
    write_text_atomic(text + "\n", path)
    return path


def read_record(path: Path) -> RunRecord:
    """One record (``ResultsError`` naming the file and field if it does not validate)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError) as err:  # ValueError: bad JSON or bad UTF-8
        raise ResultsError(f"{path}: not a readable JSON record ({err})") from None
    try:
        return RunRecord.model_validate(raw)
    except ValidationError as err:
        raise ResultsError(f"{path}: {describe_validation_error(err)}") from None


def record_files(paths: Iterable[Path | str]) -> list[Path]:
    """The run-record files of files and/or folders (a folder: its ``records/``, else every ``*.json``
    below it outside ``md/`` folders), as :func:`load_records` reads them."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            sub = p / RECORDS_DIR
            if sub.is_dir():
                files.extend(sorted(sub.rglob("*.json")))
            else:  # MD records (any <folder>/md/, see leaderboard.md_data) are not run records
                files.extend(sorted(f for f in p.rglob("*.json") if MD_RECORDS_DIR not in f.relative_to(p).parts[:-1]))
        elif p.is_file():
            files.append(p)
        else:
            raise ResultsError(f"{p} does not exist; pass a results folder or record files")
    return [f for f in files if not f.name.startswith(".")]


def load_records(paths: Iterable[Path | str] | Path | str) -> list[RunRecord]:
    """Records from files and/or folders (a folder: its ``records/`` or all ``*.json`` below it)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return [read_record(f) for f in record_files(paths)]


def records_dataframe(paths: Iterable[Path | str] | Path | str, split: str = "test"):
    """One row per record with its identity, ``split`` metrics, timings and parameter count."""
    import pandas as pd

    rows = []
    for r in load_records(paths):
        row = {
            "run_id": r.run_id,
            "status": r.status,
            "model": r.model,
            "model_family": r.model_family,
            "l_max": r.l_max,
            "dataset": r.dataset.name,
            "store_sha256": r.dataset.store_sha256,
            "split": r.split.name,
            "split_sha256": r.split.sha256,
            "n_train": r.n_train,
            "seed": r.seed,
            "protocol": r.protocol,
            "n_parameters": r.n_parameters,
            "created": r.created,
        }
        m = r.metrics.get(split)
        if m is not None:
            row.update({k: v for k, v in m.model_dump().items() if k != "force_mae_mev_per_a_by_element"})
        if r.timings is not None:
            row.update(
                train_seconds=r.timings.train_seconds,
                eval_seconds=r.timings.eval_seconds,
                steps=r.timings.steps,
                epochs=r.timings.epochs,
            )
        rows.append(row)
    return pd.DataFrame(rows)
