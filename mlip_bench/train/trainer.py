"""The training loop: Adam(AMSGrad), ReduceLROnPlateau on validation loss, EMA, budgets,
per-epoch atomic checkpoints, bit-exact resume, divergence detection, rich progress.

Determinism: the training order comes from a ``torch.Generator`` seeded with the run seed and
saved in every checkpoint, checkpoints are taken at epoch boundaries only, and everything that
changes during training (weights, EMA, optimiser, scheduler, RNGs, counters) is restored on
resume, so a killed and resumed run ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mlip_bench.data.graphs import collate
from mlip_bench.errors import CheckpointError, TrainingError
from mlip_bench.interrupts import raise_if_interrupted
from mlip_bench.progress_bar import ProgressBar
from mlip_bench.train.checkpoint import (
    BEST_MODEL,
    atomic_torch_save,
    find_checkpoint,
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from mlip_bench.train.compiled_step import CompiledLossGradient
from mlip_bench.train.ema import ExponentialMovingAverage
from mlip_bench.train.loss import EnergyForceLoss
from mlip_bench.train.protocols import Protocol


@dataclass
class TrainingResult:
    """What a finished training run did. Losses are in normalised units (see loss.py)."""

    steps: int
    epochs: int
    train_seconds: float
    best_val_loss: float
    best_epoch: int
    stop_reason: str
    #: which rule ended the run: "lr-floor", "no-validation-gain" (plateau rules: converged) or
    #: "budget" (steps, epochs or wall time: still improving unless shown otherwise)
    stop_rule: str = "unknown"
    resumed: bool = False
    history: list[dict[str, float]] = field(default_factory=list)
    #: how the training steps ran: "eager", "compiled" (see compiled_step.py) or "eager (why)"
    train_step: str = "eager"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class cosine_with_warmup:
    """Learning-rate factor at optimiser step ``k``: linear warm-up from 0 over ``warmup`` steps,
    then cosine decay from 1 to 0 at step ``total`` (a picklable callable for ``LambdaLR``)."""

    def __init__(self, warmup: int, total: int):
        self.warmup, self.total = int(warmup), max(int(total), 1)

    def __call__(self, k: int) -> float:
        if k < self.warmup:
            return (k + 1) / self.warmup
        span = max(self.total - self.warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(k - self.warmup, span) / span))


class Trainer:
    """Trains a :class:`~mlip_bench.models.potential.Potential` on pre-built graphs.

    ``train_graphs``/``val_graphs``: ``Data`` graphs with ``energy`` (eV) and ``forces`` (eV/Å).
    ``checkpoint_dir`` receives ``last.pt`` after every epoch and ``best_model.pt`` (the best EMA
    weights as a loadable potential) at the end. ``fingerprint`` identifies the run's inputs;
    a checkpoint with another fingerprint is refused, unless ``fingerprint_of`` (the fingerprint
    of these inputs with another protocol dump) shows that only the budget differs: a run that
    its budget ended then continues from its final state when the budget is raised.
    """

    def __init__(
        self,
        potential: torch.nn.Module,
        protocol: Protocol,
        train_graphs: Sequence,
        val_graphs: Sequence,
        checkpoint_dir: Path,
        seed: int = 0,
        fingerprint: str = "",
        fingerprint_of: Callable[[dict[str, Any]], str] | None = None,
        progress: bool = False,
        label: str = "train",
        device: str = "cpu",
        metadata: dict[str, Any] | None = None,
        compile_step: bool = False,
    ):
        if not len(train_graphs):
            raise TrainingError("no training frames; use a larger --n-train")
        if not len(val_graphs):
            raise TrainingError("no validation frames; the split needs a validation set")
        self.device = torch.device(device)
        self.potential = potential.to(self.device)
        self.metadata = dict(metadata or {})
        self.protocol = protocol
        self.train_graphs = list(train_graphs)
        self.val_graphs = list(val_graphs)
        self.checkpoint_dir = Path(checkpoint_dir)
        self.seed = int(seed)
        self.fingerprint = fingerprint
        self.fingerprint_of = fingerprint_of
        self.progress = progress
        self.label = label
        n_train = len(self.train_graphs)
        self.step_budget = protocol.step_budget(n_train)
        mean_atoms = float(np.mean([int(g.natoms) for g in self.train_graphs]))
        self.loss_fn = EnergyForceLoss(
            protocol.energy_weight,
            protocol.resolved_force_weight(mean_atoms),
            float(potential.statistics.force_rms_ev_per_a),
        )
        #: ``compile_step``: loss and gradient from one compiled graph (compiled_step.py); the
        #: numerics are the eager step's up to floating-point summation order
        self.compiled_step = CompiledLossGradient(self.potential, self.loss_fn) if compile_step else None
        self.optimizer = torch.optim.Adam(
            potential.parameters(),
            lr=protocol.learning_rate_for(getattr(getattr(potential, "config", None), "model", "")),
            betas=tuple(protocol.betas),
            eps=protocol.eps,
            weight_decay=protocol.weight_decay,
            amsgrad=protocol.amsgrad,
            foreach=True,  # one multi-tensor update instead of a Python loop over parameters
        )
        #: cosine: the scheduler steps after every optimiser step; plateau: after every validation
        self.scheduler_per_step = protocol.lr_schedule == "cosine"
        if self.scheduler_per_step:
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(
                self.optimizer, cosine_with_warmup(protocol.warmup_steps, int(self.step_budget or 1))
            )
        else:
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="min", factor=protocol.scheduler_factor, patience=protocol.patience_for(n_train)
            )
        self._trainable = [p for p in potential.parameters() if p.requires_grad]
        self.start_learning_rate = float(self.optimizer.defaults["lr"])
        self.learning_rate_floor = protocol.learning_rate_floor(self.start_learning_rate)
        self.ema = ExponentialMovingAverage(potential, protocol.ema_decay, protocol.ema_use_num_updates)
        self.shuffle = torch.Generator().manual_seed(self.seed)
        self.val_batches = [
            collate(self.val_graphs[i : i + protocol.eval_batch_size]).to(self.device)
            for i in range(0, len(self.val_graphs), protocol.eval_batch_size)
        ]
        # counters
        self.step = 0
        self.epoch = 0
        self.best_val_loss = math.inf
        self.best_epoch = 0
        self.epochs_since_best = 0  # validations without a new best (epochs when validating every epoch)
        self.last_validation_step = 0
        self.train_seconds = 0.0
        self.reference_loss: float | None = None
        self.best_ema_state: dict[str, torch.Tensor] | None = None
        self.history: list[dict[str, float]] = []
        self.resumed = False
        #: how the steps before this process's ran (from the checkpoint): "eager", "compiled", ...
        self.earlier_train_steps: list[str] = []

    # -- checkpointing -------------------------------------------------------------------------
    def _state(self, finished: bool, stop_reason: str = "", stop_rule: str = "") -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "metadata": self.metadata,
            "model": self.potential.checkpoint_payload(),
            "ema": self.ema.state_dict(),
            "best_ema_state": self.best_ema_state,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_states(self.shuffle),
            "step": self.step,
            "epoch": self.epoch,
            "best_val_loss": self.best_val_loss,
            "best_epoch": self.best_epoch,
            "epochs_since_best": self.epochs_since_best,
            "last_validation_step": self.last_validation_step,
            "train_seconds": self.train_seconds,
            "reference_loss": self.reference_loss,
            "history": self.history,
            "protocol": self.protocol.model_dump(),
            "finished": finished,
            "stop_reason": stop_reason,
            "stop_rule": stop_rule,
            "train_steps": self._train_steps_so_far(),
        }

    def _restore(self, path: Path) -> dict[str, Any]:
        state = load_checkpoint(path)
        if self.fingerprint and state.get("fingerprint") != self.fingerprint and not self._budget_changed(state):
            raise CheckpointError(
                f"checkpoint {path} belongs to a run with other inputs (model, data, split or protocol "
                f"changed, e.g. the dataset imported again); delete it (`rm {path}`) to train it again, or use another --out"
            )
        self.potential.load_state_dict(state["model"]["state_dict"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        restore_rng_states(state["rng"], self.shuffle)
        for key in (
            "step",
            "epoch",
            "best_val_loss",
            "best_epoch",
            "epochs_since_best",
            "train_seconds",
            "reference_loss",
            "best_ema_state",
            "history",
        ):
            setattr(self, key, state[key])
        self.last_validation_step = int(state.get("last_validation_step", self.step))
        # checkpoints from before compiled steps existed were trained eagerly
        self.earlier_train_steps = list(state.get("train_steps", ["eager"] if self.step else []))
        self.resumed = True
        return state

    def _budget_changed(self, state: dict[str, Any]) -> bool:
        """The checkpoint is of these same inputs under a protocol with another budget only."""
        theirs = state.get("protocol")
        return (
            self.fingerprint_of is not None
            and isinstance(theirs, dict)
            and self.protocol.differs_only_in_budget(theirs)
            and self.fingerprint_of(theirs) == state.get("fingerprint")
        )

    def _write_best_model(self) -> None:
        payload = self.potential.checkpoint_payload()
        payload["state_dict"] = self.best_ema_state or self.ema.averaged_state_dict()
        payload["metadata"] = self.metadata
        atomic_torch_save(payload, self.checkpoint_dir / BEST_MODEL)

    def load_best_weights(self) -> None:
        """Put the best EMA weights (lowest validation loss) into the potential."""
        self.potential.load_state_dict(self.best_ema_state or self.ema.averaged_state_dict())

    # -- loop ----------------------------------------------------------------------------------
    def _stop(self) -> tuple[str, str]:
        """(rule, reason) of the stopping rule that ends the run now, or ("", "")."""
        p = self.protocol
        unit = "epochs" if p.validate_every_steps is None else "validations"
        # plateau rules first: a run that plateaus exactly at its budget counts as converged
        plateau = p.lr_schedule == "plateau"  # a cosine schedule reaches any floor by design
        if plateau and self.optimizer.param_groups[0]["lr"] < self.learning_rate_floor:
            return "lr-floor", f"learning rate below {self.learning_rate_floor:g}"
        if self.epochs_since_best >= p.early_stopping_patience:
            return "no-validation-gain", f"no validation gain for {p.early_stopping_patience} {unit}"
        if self.step_budget is not None and self.step >= self.step_budget:
            return "budget", f"step budget ({self.step_budget} steps)"
        if self.epoch >= p.max_epochs:
            return "budget", f"max_epochs ({p.max_epochs})"
        if p.max_wall_seconds is not None and self.train_seconds >= p.max_wall_seconds:
            return "budget", f"wall-time budget ({p.max_wall_seconds:g} s)"
        return "", ""

    def _validation_due(self) -> bool:
        """Validate at this epoch's end? (every epoch, or once enough steps have passed, and
        always when a budget is about to end the run, so its last steps are judged)."""
        every = self.protocol.validate_every_steps
        if every is None or self.step - self.last_validation_step >= every:
            return True
        return self._stop()[0] == "budget"

    def _diverged(self, what: str) -> TrainingError:
        where = self.checkpoint_dir / "last.pt"
        kept = f"the last good checkpoint is kept at {where}" if where.exists() else "no checkpoint was written yet"
        return TrainingError(
            f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: {what}; {kept}; "
            "lower the learning rate or check the training data"
        )

    def _train_step(self, indices: list[int]) -> float:
        batch = collate([self.train_graphs[i] for i in indices]).to(self.device)
        self.potential.train()
        self.optimizer.zero_grad(set_to_none=True)
        compiled = self.compiled_step(batch) if self.compiled_step is not None else None
        if compiled is None:
            prediction = self.potential(batch, compute_forces=True, training=True)
            total = self.loss_fn(prediction, batch).total
        else:
            total, _, _, gradients = compiled
        loss = float(total.detach())
        if not math.isfinite(loss):
            raise self._diverged(f"loss is {loss}")
        if self.reference_loss is not None and loss > self.protocol.explode_factor * self.reference_loss:
            raise self._diverged(
                f"loss {loss:.3g} exploded above {self.protocol.explode_factor:g} x the first epoch's {self.reference_loss:.3g}"
            )
        if compiled is None:
            total.backward()
        else:
            for parameter, gradient in zip(self.compiled_step.parameters, gradients):
                parameter.grad = gradient
        grads = [p.grad for p in self._trainable if p.grad is not None]
        # one check for all gradients: a norm is finite only when every entry is
        if grads and not bool(torch.stack(torch._foreach_norm(grads)).isfinite().all()):
            raise self._diverged("gradients are not finite")
        self.optimizer.step()
        if self.scheduler_per_step:
            self.scheduler.step()
        self.ema.update()
        self.step += 1
        return loss

    def validate(self) -> dict[str, float]:
        """Validation loss and MAEs with the EMA weights (energy meV, forces meV/Å)."""
        loss_sum = e_abs = f_abs = 0.0
        n_graphs = n_comp = 0
        self.potential.eval()
        with self.ema.average_parameters():
            for batch in self.val_batches:
                prediction = self.potential(batch, compute_forces=True, training=False)
                terms = self.loss_fn(prediction, batch)
                b = int(batch.num_graphs)
                loss_sum += float(terms.total.detach()) * b
                e_abs += float((prediction["energy"].detach() - batch.energy.to(torch.float64)).abs().sum())
                df = prediction["forces"].detach().to(torch.float64) - batch.forces.to(torch.float64)
                f_abs += float(df.abs().sum())
                n_graphs += b
                n_comp += df.numel()
        return {
            "val_loss": loss_sum / n_graphs,
            "val_energy_mae_mev": 1000.0 * e_abs / n_graphs,
            "val_force_mae_mev_per_a": 1000.0 * f_abs / max(n_comp, 1),
        }

    def fit(self) -> TrainingResult:
        """Train until a stopping rule or budget ends the run; resume from ``last.pt`` if present."""
        previous = find_checkpoint(self.checkpoint_dir)
        if previous is not None:
            state = self._restore(previous)
            # a run its budget ended goes on when the budget was raised since; any other end is final
            if state["finished"] and not (state.get("stop_rule") == "budget" and not self._stop()[1]):
                return self._result(state["stop_reason"], state.get("stop_rule", "unknown"))
        n = len(self.train_graphs)
        bs = self.protocol.batch_size
        stop_rule, stop_reason = self._stop()
        info = ""
        with ProgressBar(self.progress, self.step_budget, "train", title=self.label, completed=self.step) as bar:
            bar.update(self.step, info)
            while not stop_reason:
                epoch_started = time.perf_counter()
                order = torch.randperm(n, generator=self.shuffle).tolist()
                losses: list[float] = []
                for start in range(0, n, bs):
                    if self.step_budget is not None and self.step >= self.step_budget:
                        break
                    raise_if_interrupted()
                    losses.append(self._train_step(order[start : start + bs]))
                    bar.update(self.step)
                self.epoch += 1
                train_loss = float(np.mean(losses)) if losses else float("nan")
                if self.reference_loss is None:
                    self.reference_loss = train_loss
                validated = self._validation_due()
                if validated:
                    val = self._validate_and_schedule(train_loss)
                    info = (
                        f"ep {self.epoch} F {val['val_force_mae_mev_per_a']:.1f} meV/Å "
                        f"E {val['val_energy_mae_mev']:.1f} meV"
                    )
                self.train_seconds += time.perf_counter() - epoch_started
                stop_rule, stop_reason = self._stop()
                if validated:  # checkpoints at validations: a resumed run repeats at most one interval
                    save_checkpoint(self._state(finished=False), self.checkpoint_dir)
                bar.update(self.step, info)
        self._write_best_model()
        save_checkpoint(self._state(finished=True, stop_reason=stop_reason, stop_rule=stop_rule), self.checkpoint_dir)
        return self._result(stop_reason, stop_rule)

    def _validate_and_schedule(self, train_loss: float) -> dict[str, float]:
        """Validate (EMA weights), step the scheduler, track the best weights, log history."""
        val = self.validate()
        if not math.isfinite(val["val_loss"]):
            raise self._diverged(f"validation loss is {val['val_loss']}")
        self.last_validation_step = self.step
        if not self.scheduler_per_step:
            self.scheduler.step(val["val_loss"])
        if val["val_loss"] < self.best_val_loss:
            self.best_val_loss = val["val_loss"]
            self.best_epoch = self.epoch
            self.epochs_since_best = 0
            self.best_ema_state = self.ema.averaged_state_dict()
        else:
            self.epochs_since_best += 1
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.history.append({"epoch": self.epoch, "step": self.step, "train_loss": train_loss, "lr": lr, **val})
        return val

    @property
    def train_step_mode(self) -> str:
        """How this process's steps ran: "eager", "compiled", or "eager (why not compiled)"."""
        if self.compiled_step is None:
            return "eager"
        return f"eager ({self.compiled_step.fallback})" if self.compiled_step.fallback else "compiled"

    def _train_steps_so_far(self) -> list[str]:
        """The step modes of the whole run in order, each once (a run resumed in another mode has two)."""
        modes = list(self.earlier_train_steps)
        if not modes or modes[-1] != self.train_step_mode:
            modes.append(self.train_step_mode)
        return modes

    def _result(self, stop_reason: str, stop_rule: str = "unknown") -> TrainingResult:
        return TrainingResult(
            steps=self.step,
            epochs=self.epoch,
            train_seconds=self.train_seconds,
            best_val_loss=self.best_val_loss,
            best_epoch=self.best_epoch,
            stop_reason=stop_reason,
            stop_rule=stop_rule or "unknown",
            resumed=self.resumed,
            history=list(self.history),
            train_step=", then ".join(self._train_steps_so_far()),
        )
