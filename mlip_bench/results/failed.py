"""The one builder of a failed :class:`RunRecord` (``status="failed"`` with the error).

Whoever gives up on a run calls :func:`failed_record` with what it knows: the training harness
(everything but metrics), the sweep worker (only the cell's identity), tests. Fields it does not
know get neutral placeholders, so the record always validates and the leaderboard lists it as a
failure without measuring anything from it.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import Any

from mlip_bench.results.schema import DatasetRef, Environment, RunRecord, SplitRef


def _this_process() -> Environment:
    """A cheap description of this process (no torch import, no git call)."""
    return Environment(
        hostname=os.uname().nodename,
        platform=sys.platform,
        python=sys.version.split()[0],
        threads=int(os.environ.get("OMP_NUM_THREADS", "0") or 0),
    )


def failed_record(
    *,
    run_id: str,
    error: str,
    model: str,
    dataset: str | DatasetRef,
    n_train: int,
    seed: int,
    protocol: str,
    **fields: Any,
) -> RunRecord:
    """A validated failed RunRecord for run ``run_id`` that ended with ``error``.

    ``dataset`` is a variant name or a full :class:`DatasetRef`; ``fields`` are any further
    RunRecord fields (``model_family``, ``model_config_full``, ``split``, ``environment``,
    ``notes``, ...). Unknown ones default to: family ``"unknown"``, an empty config, a split
    reference without hash or sizes, this process's host/platform/python, the command line.
    """
    if isinstance(dataset, str):
        dataset = DatasetRef(name=dataset, store_sha256="")
    values: dict[str, Any] = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_family": "unknown",
        "model_config_full": {},
        "split": SplitRef(name="", sha256="", seed=seed, n_val=0, n_test=0),
        "environment": _this_process(),
        "command": " ".join(sys.argv),
    }
    values.update(fields)
    values.update(
        status="failed",
        error=error,
        run_id=run_id,
        model=model,
        dataset=dataset,
        n_train=n_train,
        seed=seed,
        protocol=protocol,
    )
    return RunRecord(**values)
