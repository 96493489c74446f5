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
import random
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlip_bench.errors import ConfigError, ResultsError, TrainingError
from mlip_bench.results.schema import Convergence, DatasetRef, RunRecord, SplitRef, Timings, ValidationHistory

CHECKPOINTS_DIR = "checkpoints"


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
) -> RunRecord:
    """Train and evaluate one run and write its record (see module doc). Idempotent.

    ``protocol``: a preset name or a protocol YAML file (its runs are named by the file's stem).
    ``overrides``: protocol fields to change (e.g. ``{"max_steps": 100}``) and/or ``{"model":
    {...}}`` for model-config fields; a run with overrides gets ``+<hash>`` after its protocol
    name so it never mixes with the preset's runs. ``device``: "cpu", "cuda", ... (default: cuda
    when available, else cpu).
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
        n_pool = len(split.train_pool)
        if n_train < 1 or n_train > n_pool:
            raise ConfigError(
                f"--n-train {n_train} does not fit {variant}: its training pool has {n_pool} frames; use 1..{n_pool}"
            )
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return _train_and_record(
            rid, config, proto, protocol_label, variant, card, store, split, n_train, seed, out_dir, progress, device
        )
    finally:
        store.close()


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


def _subsample(indices: list[int], limit: int | None, seed: int) -> list[int]:
    """At most ``limit`` of ``indices``, drawn at random (seeded), in ascending order."""
    if limit is None or len(indices) <= limit:
        return indices
    chosen = np.random.default_rng(seed).choice(len(indices), size=limit, replace=False)
    return sorted(indices[i] for i in chosen)


def _graphs(store, indices, r_max: float, dtype: torch.dtype) -> list:
    from mlip_bench.data.graphs import frame_to_graph

    return [frame_to_graph(f, r_max, dtype) for f in store.frames([int(i) for i in indices])]


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


def _train_and_record(
    rid,
    config,
    proto,
    protocol_label,
    variant,
    card,
    store,
    split,
    n_train,
    seed,
    out_dir: Path,
    progress: bool,
    device: str,
) -> RunRecord:
    from mlip_bench.models.parameter_count import effective_parameter_count, parameter_count
    from mlip_bench.models.potential import DatasetStatistics
    from mlip_bench.models.registry import build_potential
    from mlip_bench.results.environment import collect_environment
    from mlip_bench.results.failed import failed_record
    from mlip_bench.results.io import record_path, write_record
    from mlip_bench.train.evaluate import evaluate_potential
    from mlip_bench.train.trainer import Trainer

    train_idx = [int(i) for i in split.train_pool[:n_train]]
    val_idx = _subsample([int(i) for i in split.val], proto.max_val_frames, seed)
    test_idx = _subsample([int(i) for i in split.test], proto.max_test_frames, seed)
    if not test_idx:
        raise ConfigError(f"the split of {variant} has no test frames")

    train_frames = store.frames(train_idx)
    statistics = DatasetStatistics.from_frames(train_frames, config.r_max, species=[int(z) for z in store.species])
    seed_everything(seed)
    potential = build_potential(config, statistics)
    dtype = config.torch_dtype
    from mlip_bench.data.graphs import frame_to_graph

    train_graphs = [frame_to_graph(f, config.r_max, dtype) for f in train_frames]
    val_graphs = _graphs(store, val_idx, config.r_max, dtype)
    inputs = {
        "model": config.model_dump(),
        "store": store.sha256,
        "split": split.sha256,
        "n_train": n_train,
        "seed": seed,
    }

    def fingerprint_of(protocol_dump: dict[str, Any]) -> str:
        return _fingerprint({**inputs, "protocol": protocol_dump})

    fingerprint = fingerprint_of(proto.model_dump())
    ckpt = checkpoint_dir(out_dir, rid)
    trainer = Trainer(
        potential,
        proto,
        train_graphs,
        val_graphs,
        ckpt,
        seed=seed,
        fingerprint=fingerprint,
        fingerprint_of=fingerprint_of,
        progress=progress,
        label=rid,
        device=device,
        metadata={
            "run_id": rid,
            "dataset": variant,
            "seed": seed,
            "n_train": n_train,
            "split": split.name,
            "split_sha256": split.sha256,
            "protocol": protocol_label,
        },
    )
    base = dict(
        run_id=rid,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=config.name,
        model_family=config.model,
        model_config_full=config.model_dump(),
        l_max=config.hyperparameters.get("l_max"),
        n_parameters=parameter_count(potential),
        n_parameters_effective=effective_parameter_count(potential),
        dataset=DatasetRef(
            name=variant,
            store_sha256=store.sha256,
            provenance=str(store.attrs.get("provenance", "")),
            level_of_theory=str(store.attrs.get("level_of_theory", "") or (card.level_of_theory if card else "")),
        ),
        split=SplitRef(
            name=str(getattr(split, "name", "default")),
            sha256=split.sha256,
            seed=int(getattr(split, "seed", seed)),
            n_train=n_train,
            n_val=len(val_idx),
            n_test=len(test_idx),
        ),
        n_train=n_train,
        seed=seed,
        protocol=protocol_label,
        protocol_config=proto.model_dump(mode="json"),
        environment=collect_environment(device),
        command=" ".join(sys.argv) if sys.argv else "",
    )
    # a complete record here is a budget-ended run that trains on under a raised cap: it is replaced
    # when the longer run ends, and kept as it is if the longer run fails
    continuing = record_path(out_dir, rid).exists()
    try:
        result = trainer.fit()
    except TrainingError as err:
        if not continuing:
            write_record(failed_record(error=str(err), **base), out_dir)
        raise
    trainer.load_best_weights()
    started = time.perf_counter()
    test_graphs = _graphs(store, test_idx, config.r_max, dtype)
    metrics, parity = evaluate_potential(potential, test_graphs, proto.eval_batch_size)
    all_metrics = {"test": metrics}
    # extra named test sets of the split (e.g. 3BPA's test_600K), same frame cap as the main one
    for name, indices in sorted(split.extra_tests.items()):
        extra_idx = _subsample([int(i) for i in indices], proto.max_test_frames, seed)
        if extra_idx:
            all_metrics[name], _ = evaluate_potential(
                potential, _graphs(store, extra_idx, config.r_max, dtype), proto.eval_batch_size
            )
    eval_seconds = time.perf_counter() - started
    record = RunRecord(
        metrics=all_metrics,
        parity=parity,
        timings=Timings(
            train_seconds=result.train_seconds,
            eval_seconds=eval_seconds,
            steps=result.steps,
            epochs=result.epochs,
            seconds_per_step=result.train_seconds / max(result.steps, 1),
        ),
        notes=f"stopped: {result.stop_reason}; best validation epoch {result.best_epoch}"
        + ("; resumed from a checkpoint" if result.resumed else ""),
        convergence=convergence_of(result),
        validation_history=ValidationHistory.from_rows(result.history),
        **base,
    )
    write_record(record, out_dir, overwrite=continuing)
    return record
