"""Exponential moving average of model parameters (the paper evaluates with EMA weights).

After each optimiser step ``shadow <- d * shadow + (1 - d) * param`` with
``d = min(decay, (1 + n) / (10 + n))`` when ``use_num_updates`` (n = updates so far), so early
averages are not dominated by the random initialisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


class ExponentialMovingAverage:
    """Shadow copies of a module's floating-point parameters."""

    def __init__(self, module: torch.nn.Module, decay: float = 0.99, use_num_updates: bool = True):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.module = module
        self.decay = float(decay)
        self.use_num_updates = use_num_updates
        self.num_updates = 0
        self.shadow: dict[str, torch.Tensor] = {name: p.detach().clone() for name, p in self._parameters()}
        self._backup: dict[str, torch.Tensor] | None = None
        self._pairs: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None

    def _parameters(self) -> Iterator[tuple[str, torch.nn.Parameter]]:
        for name, p in self.module.named_parameters():
            if p.requires_grad:
                yield name, p

    def current_decay(self) -> float:
        """The decay the next :meth:`update` uses."""
        if self.use_num_updates:
            n = self.num_updates + 1
            return min(self.decay, (1.0 + n) / (10.0 + n))
        return self.decay

    @torch.no_grad()
    def update(self) -> None:
        """Fold the module's current parameters into the average."""
        d = self.current_decay()
        self.num_updates += 1
        if self._pairs is None:
            pairs = [(self.shadow[name], p) for name, p in self._parameters()]
            self._pairs = ([s for s, _ in pairs], [p for _, p in pairs])
        shadows, params = self._pairs
        # multi-tensor ops: the same arithmetic as a per-parameter mul_/add_ loop, one call each
        torch._foreach_mul_(shadows, d)
        torch._foreach_add_(shadows, [p.detach() for p in params], alpha=1.0 - d)

    @torch.no_grad()
    def copy_to(self) -> None:
        """Overwrite the module's parameters with the averages."""
        for name, p in self._parameters():
            p.copy_(self.shadow[name])

    @contextmanager
    def average_parameters(self) -> Iterator[None]:
        """Temporarily swap the EMA weights into the module."""
        with torch.no_grad():
            self._backup = {name: p.detach().clone() for name, p in self._parameters()}
            self.copy_to()
        try:
            yield
        finally:
            with torch.no_grad():
                for name, p in self._parameters():
                    p.copy_(self._backup[name])
            self._backup = None

    def averaged_state_dict(self) -> dict[str, torch.Tensor]:
        """The module's state dict with parameters replaced by their averages."""
        state = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        for name, value in self.shadow.items():
            state[name] = value.detach().clone()
        return state

    def state_dict(self) -> dict[str, Any]:
        return {
            "decay": self.decay,
            "use_num_updates": self.use_num_updates,
            "num_updates": self.num_updates,
            "shadow": {k: v.clone() for k, v in self.shadow.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = set(self.shadow) ^ set(state["shadow"])
        if missing:
            raise KeyError(f"EMA state does not match the model (parameters {sorted(missing)[:3]})")
        self.decay = float(state["decay"])
        self.use_num_updates = bool(state["use_num_updates"])
        self.num_updates = int(state["num_updates"])
        for k, v in state["shadow"].items():
            self.shadow[k].copy_(v)
