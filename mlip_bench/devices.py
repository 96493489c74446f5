"""Checking a ``--device`` value before any data is touched."""

from __future__ import annotations

from mlip_bench.errors import ConfigError


def check_device(device: str | None) -> str | None:
    """``device`` ("cpu", "cuda", "cuda:1", "mps") when this torch can use it, else ``ConfigError``
    in one line; ``None`` (the default: cuda when available, else cpu) passes through."""
    if device is None:
        return None
    import torch

    text = device.strip()
    try:
        parsed = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {device}: not a torch device; use cpu or cuda (cuda:N for one GPU)") from None
    if parsed.type == "cpu":
        return text
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = "is a CPU-only build" if torch.version.cuda is None else "sees no GPU"
            raise ConfigError(f"--device {device}: this torch ({torch.__version__}) {why}; use --device cpu")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: only {torch.cuda.device_count()} GPU(s) visible (cuda:0..)")
        return text
    if parsed.type == "mps":
        backend = getattr(torch.backends, "mps", None)
        if backend is None or not backend.is_available():
            raise ConfigError(f"--device {device}: MPS is not available here; use --device cpu")
        return text
    raise ConfigError(f"--device {device}: mlip-bench trains on cpu, cuda or mps, not {parsed.type}")
