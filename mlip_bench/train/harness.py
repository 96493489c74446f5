"""One cell of a learning curve: model x dataset x n_train x seed x protocol -> a RunRecord.

``run_cell`` resolves the dataset variant, opens its store, makes (or loads) the seeded split,
takes the first ``n_train`` frames of the training pool, fits the normalisation statistics on
them, builds the potential, trains it (resuming ``<out>/checkpoints/<run_id>/last.pt`` when a
previous attempt was killed), evaluates the best EMA weights on the test set and writes
``<out>/records/<run_id>.json``. A complete record is returned as it is; a failed one is never
replaced silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mlip_bench.errors import CheckpointError, ConfigError, ResultsError, TrainingError
from mlip_bench.results.schema import (
    Convergence,
    DatasetRef,
    RunRecord,
    SplitRef,
    TestMetrics,
    Timings,
    ValidationHistory,
)

if TYPE_CHECKING:
    from mlip_bench.data.cards import DatasetCard
    from mlip_bench.data.splits import Split
    from mlip_bench.data.store import Store
    from mlip_bench.models.potential import Potential
    from mlip_bench.models.registry import ModelConfig
    from mlip_bench.train.protocols import Protocol
    from mlip_bench.train.trainer import Trainer, TrainingResult

CHECKPOINTS_DIR = "checkpoints"
#: environment variable that turns on compiled training steps in runs that do not say (sweep workers)
COMPILE_STEP_VARIABLE = "MLIP_BENCH_COMPILE_STEP"


def run_id(model: str, dataset: str, n_train: int, seed: int, protocol: str) -> str:
    """A file-name-safe identifier, e.g. ``nequip-l1__md17-aspirin__n50__s0__cpu``."""
    parts = [model, dataset.replace("/", "-"), f"n{int(n_train)}", f"s{int(seed)}", protocol]
    return "__".join(re.sub(r"[^A-Za-z0-9.+_-]", "-", p) for p in parts)


def checkpoint_dir(out_dir: Path, rid: str) -> Path:
    """Folder of the training checkpoints of run ``rid``."""
    return Path(out_dir) / CHECKPOINTS_DIR / rid


def seed_everything(seed: int) -> None:
    """Seed torch, numpy and python's ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _split_overrides(overrides: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Split ``overrides`` into (protocol fields, model-config fields, tag for the run id)."""
    from mlip_bench.train.protocols import Protocol

    overrides = dict(overrides or {})
    model_over = dict(overrides.pop("model", None) or {})
    unknown = [k for k in overrides if k not in Protocol.model_fields]
    if unknown:
        raise ConfigError(
            f"unknown override(s) {', '.join(unknown)}; use protocol fields "
            f"({', '.join(sorted(Protocol.model_fields)[:6])}, ...) or a 'model' dict"
        )
    tag = ""
    if overrides or model_over:
        blob = json.dumps({"protocol": overrides, "model": model_over}, sort_keys=True, default=str)
        tag = "+" + hashlib.sha256(blob.encode()).hexdigest()[:8]
    return overrides, model_over, tag


def cell_run_id(
    model: str, dataset: str, n_train: int, seed: int, protocol: str, overrides: dict[str, Any] | None = None
) -> str:
    """The run id :func:`run_cell` gives these arguments (``dataset`` as a resolved variant name):
    overrides add a ``+<hash>`` tag to the protocol label (``ConfigError`` for unknown keys)."""
    from mlip_bench.paths import protocol_name

    _, _, tag = _split_overrides(overrides)
    return run_id(model, dataset, n_train, seed, protocol_name(protocol) + tag)


def _fingerprint(parts: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def run_cell(
    model: str,
    dataset: str,
    n_train: int,
    seed: int,
    protocol: str,
    out_dir: Path,
    root: Path | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
    device: str | None = None,
    compile_step: bool | None = None,
) -> RunRecord:
    """Train and evaluate one run and write its record (see module doc). Idempotent.

    ``protocol``: a preset name or a protocol YAML file (its runs are named by the file's stem).
    ``overrides``: protocol fields to change (e.g. ``{"max_steps": 100}``) and/or ``{"model":
    {...}}`` for model-config fields; a run with overrides gets ``+<hash>`` after its protocol
    name so it never mixes with the preset's runs. ``device``: "cpu", "cuda", ... (default: cuda
    when available, else cpu). ``compile_step``: run each training step as one compiled graph
    (``train/compiled_step.py``; same numerics up to summation order); default: the environment
    variable ``MLIP_BENCH_COMPILE_STEP`` (set by ``mlip-bench sweep --compile-step``).
    """
    from mlip_bench.data.catalog import card_for, open_store, resolve_variant
    from mlip_bench.models.registry import load_model_config
    from mlip_bench.paths import protocol_name
    from mlip_bench.results.io import read_record, record_path
    from mlip_bench.train.protocols import load_protocol

    out_dir = Path(out_dir)
    protocol_over, model_over, tag = _split_overrides(overrides)
    protocol_label = protocol_name(protocol) + tag
    variant = resolve_variant(dataset, root=root)
    rid = run_id(model, variant, n_train, seed, protocol_label)
    existing = record_path(out_dir, rid)
    if existing.exists():
        record = read_record(existing)
        if record.status != "complete":
            raise ResultsError(f"run {rid} failed earlier ({record.error}); delete {existing} to try again")
        if not record_continues(record, protocol, overrides):
            return record

    config = load_model_config(model, **model_over)  # ModelError for unknown models
    card = card_for(variant)
    store = open_store(variant, root=root, verify=True)
    try:
        kind = card.kind if card is not None else _kind_of(store)
        proto = load_protocol(protocol, kind, **protocol_over)
        split = _load_split(store, card, seed, root)
        n_pool = split.max_train
        if n_train < 1 or n_train > n_pool:
            raise ConfigError(
                f"--n-train {n_train} does not fit {variant}: its training pool has {n_pool} frames; use 1..{n_pool}"
            )
        plan = RunPlan(
            run_id=rid,
            config=config,
            protocol=proto,
            protocol_label=protocol_label,
            variant=variant,
            card=card,
            store=store,
            split=split,
            n_train=n_train,
            seed=seed,
            out_dir=out_dir,
            device=device or ("cuda" if torch.cuda.is_available() else "cpu"),
            progress=progress,
            continuing=existing.exists(),
            compile_step=compile_step_requested() if compile_step is None else compile_step,
        )
        return _train_and_record(plan)
    finally:
        store.close()


def compile_step_requested() -> bool:
    """Whether ``MLIP_BENCH_COMPILE_STEP`` asks for compiled training steps ("1", "true", "yes")."""
    return os.environ.get(COMPILE_STEP_VARIABLE, "").strip().lower() in ("1", "true", "yes")


def record_continues(record: RunRecord, protocol: str, overrides: dict[str, Any] | None = None) -> bool:
    """Whether a complete run that its budget ended would train on under the protocol as it is now
    (its cap was raised since): it then resumes from its final checkpoint, and its record is replaced."""
    from mlip_bench.data.catalog import card_for
    from mlip_bench.train.protocols import load_protocol

    convergence = record.convergence
    if convergence is None or convergence.rule != "budget" or not record.protocol_config or record.timings is None:
        return False
    card = card_for(record.dataset.name)
    kind = card.kind if card is not None else record.protocol_config.get("dataset_kind", "molecule")
    protocol_over, _, _ = _split_overrides(overrides)
    current = load_protocol(protocol, kind, **protocol_over)
    timings = record.timings
    return current.continues(
        record.protocol_config, record.n_train, timings.steps, timings.epochs, timings.train_seconds
    )


def _kind_of(store) -> str:
    """'periodic' when the store's first frame is periodic, else 'molecule'."""
    return "periodic" if store.frame(0).is_periodic else "molecule"


def _load_split(store, card, seed: int, root):
    from mlip_bench.data.splits import load_or_create_split

    return load_or_create_split(store, card=card, seed=seed, root=root)


def convergence_of(result) -> Convergence:
    """The convergence certificate of a finished :class:`~mlip_bench.train.trainer.TrainingResult`:
    converged when a plateau rule (LR floor, no validation gain) ended the run."""
    rule = result.stop_rule if result.stop_rule in ("lr-floor", "no-validation-gain", "budget") else "unknown"
    converged = rule in ("lr-floor", "no-validation-gain")
    if converged:
        detail = f"converged: {result.stop_reason}"
    elif result.best_epoch >= result.epochs:
        detail = f"still improving: {result.stop_reason} ended the run at its best validation epoch"
    else:
        detail = (
            f"not certified: {result.stop_reason} ended the run; best validation epoch "
            f"{result.best_epoch} of {result.epochs}"
        )
    return Convergence(
        converged=converged, rule=rule, detail=detail, best_epoch=result.best_epoch, epochs=result.epochs
    )


@dataclass
class RunPlan:
    """What :func:`run_cell` resolved for one run before anything is trained: its identity, model,
    protocol and data (the store is open while the run lasts)."""

    run_id: str
    config: ModelConfig
    protocol: Protocol
    #: the protocol's name with the overrides tag, as the record carries it
    protocol_label: str
    variant: str
    card: DatasetCard | None
    store: Store
    split: Split
    n_train: int
    seed: int
    out_dir: Path
    device: str
    progress: bool = False
    #: a complete record exists: a budget-ended run that trains on under a raised cap; it is
    #: replaced when the longer run ends, and kept as it is if the longer run fails
    continuing: bool = False
    #: training steps as one compiled graph (compiled_step.py)
    compile_step: bool = False


@dataclass
class PreparedRun:
    """A run ready to train: its validation and test frames chosen, its potential built on the
    training frames' statistics, and its trainer set up (resuming a checkpoint whose fingerprint fits)."""

    val_indices: list[int]
    test_indices: list[int]
    potential: Potential
    trainer: Trainer


def _train_and_record(plan: RunPlan) -> RunRecord:
    """Prepare, train, evaluate and record one run."""
    from mlip_bench.results.io import write_record

    prepared = _prepare(plan)
    fields = _record_fields(plan, prepared)
    result = _train(plan, prepared, fields, plan.continuing)
    metrics, parity, eval_seconds = _evaluate(plan, prepared)
    record = _record(fields, result, metrics, parity, eval_seconds)
    write_record(record, plan.out_dir, overwrite=plan.continuing)
    return record


def _prepare(plan: RunPlan) -> PreparedRun:
    """Choose the frames, fit the normalisation statistics on the training frames, build the
    potential (seeded) and its trainer, with the fingerprint its checkpoints must carry."""
    from mlip_bench.data.graphs import graphs_for
    from mlip_bench.data.splits import subsample
    from mlip_bench.models.potential import DatasetStatistics
    from mlip_bench.models.registry import build_potential
    from mlip_bench.train.trainer import Trainer

    config, proto, store, split, seed = plan.config, plan.protocol, plan.store, plan.split, plan.seed
    train_idx = [int(i) for i in split.train(plan.n_train)]
    val_idx = subsample([int(i) for i in split.val], proto.max_val_frames, seed)
    test_idx = subsample([int(i) for i in split.test], proto.max_test_frames, seed)
    if not test_idx:
        raise ConfigError(f"the split of {plan.variant} has no test frames")

    train_frames = store.frames(train_idx)
    statistics = DatasetStatistics.from_frames(train_frames, config.r_max, species=[int(z) for z in store.species])
    seed_everything(seed)
    potential = build_potential(config, statistics)
    train_graphs = graphs_for(config, train_frames)
    val_graphs = graphs_for(config, store.frames(val_idx))
    inputs = {
        "model": config.model_dump(),
        "store": store.sha256,
        "split": split.sha256,
        "n_train": plan.n_train,
        "seed": seed,
    }

    def fingerprint_of(protocol_dump: dict[str, Any]) -> str:
        return _fingerprint({**inputs, "protocol": protocol_dump})

    trainer = Trainer(
        potential,
        proto,
        train_graphs,
        val_graphs,
        checkpoint_dir(plan.out_dir, plan.run_id),
        seed=seed,
        fingerprint=fingerprint_of(proto.model_dump()),
        fingerprint_of=fingerprint_of,
        progress=plan.progress,
        label=plan.run_id,
        device=plan.device,
        compile_step=plan.compile_step,
        metadata={
            "run_id": plan.run_id,
            "dataset": plan.variant,
            "seed": seed,
            "n_train": plan.n_train,
            "split": split.name,
            "split_sha256": split.sha256,
            "protocol": plan.protocol_label,
        },
    )
    return PreparedRun(val_indices=val_idx, test_indices=test_idx, potential=potential, trainer=trainer)


def _record_fields(plan: RunPlan, prepared: PreparedRun) -> dict[str, Any]:
    """The record's fields known before training: identity, model, data, protocol, environment
    (a failed run's record has these and the error)."""
    from mlip_bench.models.parameter_count import effective_parameter_count, parameter_count
    from mlip_bench.results.environment import collect_environment

    config, store, split, card = plan.config, plan.store, plan.split, plan.card
    return dict(
        run_id=plan.run_id,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=config.name,
        model_family=config.model,
        model_config_full=config.model_dump(),
        l_max=config.hyperparameters.get("l_max"),
        n_parameters=parameter_count(prepared.potential),
        n_parameters_effective=effective_parameter_count(prepared.potential),
        dataset=DatasetRef(
            name=plan.variant,
            store_sha256=store.sha256,
            provenance=str(store.attrs.get("provenance", "")),
            level_of_theory=str(store.attrs.get("level_of_theory", "") or (card.level_of_theory if card else "")),
        ),
        split=SplitRef(
            name=str(getattr(split, "name", "default")),
            sha256=split.sha256,
            seed=int(getattr(split, "seed", plan.seed)),
            n_val=len(prepared.val_indices),
            n_test=len(prepared.test_indices),
            subset_sha256=split.subset_sha256(plan.n_train),
        ),
        n_train=plan.n_train,
        seed=plan.seed,
        protocol=plan.protocol_label,
        protocol_config=plan.protocol.model_dump(mode="json"),
        environment=collect_environment(plan.device),
        command=" ".join(sys.argv) if sys.argv else "",
    )


def _train(plan: RunPlan, prepared: PreparedRun, fields: dict[str, Any], continuing: bool) -> TrainingResult:
    """Train (or resume) and load the best EMA weights. A ``TrainingError`` writes a failed record,
    unless the run was continuing a complete one (that record is kept as it is) or the error is an
    unusable checkpoint (``CheckpointError``: removing that file is the whole fix, so the next
    attempt must not be blocked by a failed record as well)."""
    from mlip_bench.results.failed import failed_record
    from mlip_bench.results.io import write_record

    try:
        result = prepared.trainer.fit()
    except TrainingError as err:
        if not continuing and not isinstance(err, CheckpointError):
            write_record(failed_record(error=str(err), **fields), plan.out_dir)
        raise
    prepared.trainer.load_best_weights()
    return result


def _evaluate(plan: RunPlan, prepared: PreparedRun) -> tuple[dict[str, TestMetrics], dict[str, list[float]], float]:
    """Metrics on the test frames and on the split's extra named test sets (same frame cap), the
    test set's parity samples, and the seconds it took."""
    from mlip_bench.data.graphs import graphs_for
    from mlip_bench.data.splits import subsample
    from mlip_bench.train.evaluate import evaluate_potential

    config, proto, store, potential = plan.config, plan.protocol, plan.store, prepared.potential
    started = time.perf_counter()
    test_graphs = graphs_for(config, store.frames(prepared.test_indices))
    metrics, parity = evaluate_potential(potential, test_graphs, proto.eval_batch_size)
    all_metrics = {"test": metrics}
    # extra named test sets of the split (e.g. 3BPA's test_600K), same frame cap as the main one
    for name, indices in sorted(plan.split.extra_tests.items()):
        extra_idx = subsample([int(i) for i in indices], proto.max_test_frames, plan.seed)
        if extra_idx:
            all_metrics[name], _ = evaluate_potential(
                potential, graphs_for(config, store.frames(extra_idx)), proto.eval_batch_size
            )
    return all_metrics, parity, time.perf_counter() - started


def _record(
    fields: dict[str, Any],
    result: TrainingResult,
    metrics: dict[str, TestMetrics],
    parity: dict[str, list[float]],
    eval_seconds: float,
) -> RunRecord:
    """The complete record of a trained and evaluated run."""
    return RunRecord(
        metrics=metrics,
        parity=parity,
        timings=Timings(
            train_seconds=result.train_seconds,
            eval_seconds=eval_seconds,
            steps=result.steps,
            epochs=result.epochs,
            seconds_per_step=result.train_seconds / max(result.steps, 1),
            train_step=result.train_step,
        ),
        notes=f"stopped: {result.stop_reason}; best validation epoch {result.best_epoch}"
        + ("; resumed from a checkpoint" if result.resumed else ""),
        convergence=convergence_of(result),
        validation_history=ValidationHistory.from_rows(result.history),
        **fields,
    )
