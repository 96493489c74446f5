"""Parameter counts: all trainable entries, and the effective ones that can reach the output.

Our NequIP stores each self-interaction of one l as a dense matrix over both parities and
multiplies it by a parity mask, so a plain ``numel`` count includes entries that never act
(+38 to +56 % at l_max >= 1). A module that holds such masked parameters exposes
``parameter_masks() -> {local parameter name: bool mask}``; :func:`effective_parameter_count`
counts only the unmasked entries. For the paper's molecule model at l_max = 1 this gives
741,086, the count nequip v0.3.3 reports for the same architecture.
"""

from __future__ import annotations

import torch


def parameter_count(module: torch.nn.Module) -> int:
    """Trainable parameter entries, masked ones included."""
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def effective_parameter_count(module: torch.nn.Module) -> int:
    """Trainable parameter entries that act on the output: :func:`parameter_count` minus the
    entries that a module's ``parameter_masks()`` marks as never used."""
    unused = 0
    for sub in module.modules():
        masks = getattr(sub, "parameter_masks", None)
        if masks is None:
            continue
        params = dict(sub.named_parameters())
        for name, mask in masks().items():
            if name in params and params[name].requires_grad:
                acting = mask.expand_as(params[name])
                unused += acting.numel() - int(acting.sum())
    return parameter_count(module) - unused
