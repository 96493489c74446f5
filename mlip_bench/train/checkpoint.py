"""Atomic training checkpoints: everything needed to continue a run bit for bit.

A checkpoint (``last.pt`` in a run's checkpoint folder) holds the potential's payload (config,
statistics, raw weights), the EMA state, the best EMA weights so far, optimiser and scheduler
states, the RNG states of torch, numpy and python and of the training-data shuffler, the step
and epoch counters, the best validation loss, the training seconds spent and a fingerprint of
the run's inputs (so a checkpoint from a different config is never resumed by mistake).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlip_bench.atomic_files import write_atomic
from mlip_bench.errors import CheckpointError, TrainingError

CHECKPOINT_FORMAT = 1
LAST = "last.pt"
BEST_MODEL = "best_model.pt"


def atomic_torch_save(obj: Any, path: Path) -> Path:
    """``torch.save`` to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    return write_atomic(path, lambda handle: torch.save(obj, handle), binary=True)


def rng_states(shuffle_generator: torch.Generator) -> dict[str, Any]:
    """RNG states of torch, numpy, python and the data shuffler."""
    return {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
        "shuffle": shuffle_generator.get_state(),
    }


def restore_rng_states(states: dict[str, Any], shuffle_generator: torch.Generator) -> None:
    """Inverse of :func:`rng_states`."""
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    shuffle_generator.set_state(states["shuffle"])


def save_checkpoint(state: dict[str, Any], directory: Path) -> Path:
    """Write ``state`` as ``<directory>/last.pt`` atomically; returns the path."""
    state = dict(state, format=CHECKPOINT_FORMAT)
    return atomic_torch_save(state, Path(directory) / LAST)


def check_file_integrity(path: Path, what: str = "checkpoint") -> None:
    """``CheckpointError`` (one line) when ``path``, a torch zip file, fails its CRC-32 checks.

    ``torch.save`` writes a zip archive with a CRC-32 per member but ``torch.load`` never checks
    them, so flipped bytes in the weights load silently; this reads every member and compares.
    A file that is not a zip (the legacy torch format) is left to ``torch.load``.
    """
    import zipfile

    path = Path(path)
    hint = (
        f"delete it (`rm {path}`) to start over" if what == "checkpoint" else "train the run again or restore the file"
    )
    try:
        with open(path, "rb") as handle:
            if handle.read(4) != b"PK\x03\x04":
                return
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"{what} {path} is corrupt ({detail}); {hint}") from None
    if bad is not None:
        raise CheckpointError(f"{what} {path} is corrupt (CRC-32 mismatch in {bad!r}); {hint}")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``CheckpointError`` if unusable or corrupt)."""
    path = Path(path)
    check_file_integrity(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # truncated or foreign file
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(err).__name__}); delete it (`rm {path}`) to start over"
        ) from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an mlip-bench training checkpoint; delete it (`rm {path}`) to start over")
    return state


def find_checkpoint(directory: Path) -> Path | None:
    """``<directory>/last.pt`` if it exists."""
    path = Path(directory) / LAST
    return path if path.is_file() else None


def load_trained_potential(path: Path):
    """The potential of a run with its best EMA weights, and the run's metadata.

    Accepts ``best_model.pt`` (written at the end of training) or ``last.pt`` (any epoch; the
    best EMA weights so far are used). ``TrainingError``/``ModelError`` with a one-line reason.
    """
    from mlip_bench.errors import ModelError
    from mlip_bench.models.loading import potential_from_payload

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} does not exist; pass <out>/checkpoints/<run_id>/best_model.pt")
    check_file_integrity(path, "model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise TrainingError(f"{path} cannot be read as a model ({type(err).__name__})") from None
    if not isinstance(payload, dict):
        raise ModelError(f"{path} is not an mlip-bench model file")
    if payload.get("format") == CHECKPOINT_FORMAT:  # a training checkpoint (last.pt)
        model = dict(payload["model"])
        best = payload.get("best_ema_state")
        if best is not None:
            model["state_dict"] = best
        else:  # no validation yet: the running EMA
            state = dict(model["state_dict"])
            state.update(payload["ema"]["shadow"])
            model["state_dict"] = state
        metadata = payload.get("metadata", {})
    elif "model_config" in payload:
        model, metadata = payload, payload.get("metadata", {})
    else:
        raise ModelError(f"{path} is not an mlip-bench model file (no model config inside)")
    potential = potential_from_payload(model)
    potential.eval()
    return potential, dict(metadata or {})
