"""The settings of an MD benchmark as the user gives them (command line or a sweep file's ``md:`` block).

A light module (standard library only) so that ``mlip-bench md --help`` can show the defaults
without importing the MD engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlip_bench.errors import ConfigError


@dataclass
class MDSettingsInput:
    """What the user asked for (see ``mlip-bench md --help``)."""

    ensemble: str = "nvt"
    temperature_k: float = 500.0
    steps: int = 1000
    timestep_fs: float = 0.5
    replicas: int = 3
    seed: int = 0
    friction_per_fs: float = 0.01
    sample_every: int = 10
    checkpoint_every: int = 200
    checkpoint_seconds: float = 60.0
    max_reference_frames: int = 1000
    device: str = "cpu"
    #: evaluate energy and forces through one compiled graph (how, not what: not in the MD id)
    compile_forces: bool = False
    #: time between consecutive reference frames (fs), for a reference diffusivity; None: unknown
    reference_interval_fs: float | None = None

    def validate(self) -> None:
        if self.ensemble not in ("nvt", "nve"):
            raise ConfigError(f"--ensemble {self.ensemble!r}: use nvt or nve")
        for name in ("steps", "replicas", "sample_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        if not self.timestep_fs > 0 or not math.isfinite(self.timestep_fs):
            raise ConfigError("--timestep must be a positive number of fs")
        if not self.temperature_k > 0:
            raise ConfigError("--temperature must be positive (K)")
