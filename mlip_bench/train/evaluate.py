"""Errors of a potential on a set of frames: energy per structure / per atom (meV), forces per
component (meV/Å), per-element force MAE, and small parity samples for the leaderboard.

``evaluate_potential`` scores a potential in memory (the harness, after training);
``evaluate_checkpoint`` scores a saved model on a split of any dataset (``mlip-bench evaluate``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase.data import chemical_symbols

from mlip_bench.data.graphs import collate
from mlip_bench.results.schema import TestMetrics

EV_TO_MEV = 1000.0
#: parity samples kept per run (structures for energies, components for forces)
PARITY_ENERGIES = 300
PARITY_FORCES = 1500


@dataclass
class Predictions:
    """Reference and predicted labels of an evaluation set (eV, eV/Å), float64 numpy arrays."""

    energy_ref: np.ndarray  # (B,)
    energy_pred: np.ndarray  # (B,)
    n_atoms: np.ndarray  # (B,)
    force_ref: np.ndarray  # (N, 3)
    force_pred: np.ndarray  # (N, 3)
    numbers: np.ndarray  # (N,)


def predict(potential: torch.nn.Module, graphs: Sequence, batch_size: int = 16) -> Predictions:
    """Run ``potential`` (forces by autograd) over ``graphs`` in batches; weights are left as they are."""
    was_training = potential.training
    device = next(potential.parameters()).device
    potential.eval()
    e_ref, e_pred, n_atoms, f_ref, f_pred, numbers = [], [], [], [], [], []
    try:
        for start in range(0, len(graphs), batch_size):
            batch = collate(list(graphs[start : start + batch_size])).to(device)
            out = potential(batch, compute_forces=True, training=False)
            e_ref.append(batch.energy.to(torch.float64).cpu().numpy())
            e_pred.append(out["energy"].detach().to(torch.float64).cpu().numpy())
            n_atoms.append(batch.natoms.cpu().numpy())
            numbers.append(batch.z.cpu().numpy())
            f_pred.append(out["forces"].detach().to(torch.float64).cpu().numpy())
            if getattr(batch, "forces", None) is not None:
                f_ref.append(batch.forces.to(torch.float64).cpu().numpy())
            else:
                f_ref.append(np.full_like(f_pred[-1], np.nan))
    finally:
        potential.train(was_training)
    return Predictions(
        energy_ref=np.concatenate(e_ref),
        energy_pred=np.concatenate(e_pred),
        n_atoms=np.concatenate(n_atoms).astype(np.float64),
        force_ref=np.concatenate(f_ref),
        force_pred=np.concatenate(f_pred),
        numbers=np.concatenate(numbers),
    )


def metrics_from_predictions(p: Predictions) -> TestMetrics:
    """Energy MAE/RMSE per structure and per atom (meV), force MAE/RMSE per component (meV/Å)."""
    de = p.energy_pred - p.energy_ref
    de_atom = de / p.n_atoms
    df = p.force_pred - p.force_ref
    has_forces = bool(np.isfinite(df).all()) and df.size > 0
    by_element: dict[str, float] = {}
    if has_forces:
        for z in np.unique(p.numbers):
            mask = p.numbers == z
            by_element[chemical_symbols[int(z)]] = float(np.mean(np.abs(df[mask])) * EV_TO_MEV)
    nan = float("nan")
    return TestMetrics(
        n_frames=int(len(de)),
        energy_mae_mev=float(np.mean(np.abs(de)) * EV_TO_MEV),
        energy_rmse_mev=float(np.sqrt(np.mean(de**2)) * EV_TO_MEV),
        energy_mae_mev_per_atom=float(np.mean(np.abs(de_atom)) * EV_TO_MEV),
        energy_rmse_mev_per_atom=float(np.sqrt(np.mean(de_atom**2)) * EV_TO_MEV),
        force_mae_mev_per_a=float(np.mean(np.abs(df)) * EV_TO_MEV) if has_forces else nan,
        force_rmse_mev_per_a=float(np.sqrt(np.mean(df**2)) * EV_TO_MEV) if has_forces else nan,
        force_mae_mev_per_a_by_element=by_element,
    )


def parity_samples(p: Predictions, seed: int = 0) -> dict[str, list[float]]:
    """A fixed random subset of (reference, predicted) pairs: energies in eV/atom, forces in eV/Å."""
    rng = np.random.default_rng(seed)
    ie = np.sort(rng.permutation(len(p.energy_ref))[:PARITY_ENERGIES])
    fr, fp = p.force_ref.reshape(-1), p.force_pred.reshape(-1)
    jf = np.sort(rng.permutation(len(fr))[:PARITY_FORCES])
    samples = {
        "energy_ref_ev_per_atom": (p.energy_ref[ie] / p.n_atoms[ie]).tolist(),
        "energy_pred_ev_per_atom": (p.energy_pred[ie] / p.n_atoms[ie]).tolist(),
    }
    if np.isfinite(fr[jf]).all():
        samples["force_ref_ev_per_a"] = fr[jf].tolist()
        samples["force_pred_ev_per_a"] = fp[jf].tolist()
    return samples


def evaluate_potential(
    potential: torch.nn.Module, graphs: Sequence, batch_size: int = 16
) -> tuple[TestMetrics, dict[str, list[float]]]:
    """Metrics and parity samples of ``potential`` on ``graphs`` with its current weights.

    Pass a potential that already holds the EMA weights (the harness does).
    """
    predictions = predict(potential, graphs, batch_size)
    return metrics_from_predictions(predictions), parity_samples(predictions)


@dataclass
class CheckpointEvaluation:
    """The metrics of a saved model on a set of frames of a dataset (``mlip-bench evaluate``)."""

    checkpoint: Path
    model: str
    dataset: str
    split: str
    seed: int
    metrics: TestMetrics

    def payload(self) -> dict:
        """The JSON form ``mlip-bench evaluate --json`` writes."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "seed": self.seed,
            "checkpoint": str(self.checkpoint),
            "metrics": self.metrics.model_dump(),
        }


def evaluate_checkpoint(
    checkpoint: Path,
    dataset: str | None = None,
    molecule: str | None = None,
    split: str = "test",
    seed: int | None = None,
    max_frames: int | None = None,
    root: Path | None = None,
) -> CheckpointEvaluation:
    """Score the model saved in ``checkpoint`` (best EMA weights) on ``split`` of ``dataset``
    (default: the run's own dataset and seed): "test", "val", "train" (the training pool) or
    "all" (every frame of the store), at most ``max_frames`` of them (a seeded sample)."""
    from mlip_bench.data.catalog import card_for, open_store, resolve_variant
    from mlip_bench.data.graphs import graphs_for
    from mlip_bench.data.splits import load_or_create_split, subsample
    from mlip_bench.errors import ConfigError
    from mlip_bench.train.checkpoint import load_trained_potential

    potential, metadata = load_trained_potential(checkpoint)
    dataset = dataset or metadata.get("dataset")
    if not dataset:
        raise ConfigError(f"{checkpoint} does not name its dataset; pass --dataset")
    variant = resolve_variant(dataset, molecule, root=root)
    seed = metadata.get("seed", 0) if seed is None else seed
    store = open_store(variant, root=root, verify=True)
    try:
        if split == "all":
            indices = list(range(store.n_frames))
        else:
            parts = load_or_create_split(store, card=card_for(variant), seed=seed, root=root)
            choices = {"test": parts.test, "val": parts.val, "train": parts.train_pool}
            if split not in choices:
                raise ConfigError(f"--split {split!r}: use test, val, train or all")
            indices = [int(i) for i in choices[split]]
        indices = subsample(indices, max_frames, seed)
        graphs = graphs_for(potential.config, store.frames(indices))
    finally:
        store.close()
    metrics, _ = evaluate_potential(potential, graphs)
    return CheckpointEvaluation(Path(checkpoint), potential.config.name, variant, split, seed, metrics)
