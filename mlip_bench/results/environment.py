"""Where a run ran: hardware, threads, Python and package versions, git commit and dirty flag."""

from __future__ import annotations

import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from mlip_bench.paths import source_checkout
from mlip_bench.results.schema import Environment

#: distributions whose versions go into every record
PACKAGES = ("mlip-bench", "torch", "e3nn", "torch-geometric", "numpy", "ase", "vesin", "schnetpack", "nequip")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str:
    """``git ARGS`` in the source checkout this package runs from ("" for an installed wheel)."""
    root = source_checkout()
    if root is None:
        return ""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that matter for results (absent ones are left out)."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def collect_environment(device: str = "cpu") -> Environment:
    """Describe this machine and checkout for a run record."""
    gpu = ""
    if device.startswith("cuda") and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(torch.device(device))
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no")) if commit else False
    return Environment(
        hostname=socket.gethostname(),
        platform=platform.platform(),
        cpu=_cpu_name(),
        gpu=gpu,
        device=device,
        threads=torch.get_num_threads(),
        python=platform.python_version(),
        packages=package_versions(),
        git_commit=commit,
        git_dirty=dirty,
    )
