"""The package works however it is installed: a wheel, installed outside the checkout, finds its
dataset cards, model configs, protocol presets and demo store, and the main job's smoke run trains.

The wheel is built from a copy of the sources (no stale ``build/`` folder can leak into it) and
installed with ``--no-deps --target`` (its dependencies are those of this environment); every
command runs from an empty temporary directory, with the wheel's folder first on the path.
About 25 s on 2 busy CPU cores (the run is the 20-step smoke protocol on 50 frames).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CARDS = ("cu-formate", "li3po4", "lips", "md17", "rmd17", "water")


def _pip(*args: str, cwd: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The folder the wheel was installed into (``--target``): package, metadata and ``bin/``."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(
        REPO / "mlip_bench", source / "mlip_bench", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    )
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    _pip("wheel", "--no-deps", *isolation, "-w", str(work / "dist"), str(source), cwd=work)
    wheels = sorted((work / "dist").glob("mlip_bench-*.whl"))
    assert len(wheels) == 1, wheels
    target = work / "site"
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheels[0]), cwd=work)
    return target


def _cli(installed: Path, cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLIP_BENCH_")}
    env.update(
        PYTHONPATH=str(installed), MLIP_BENCH_ROOT=str(cwd / "root"), XDG_CACHE_HOME=str(cwd / "cache"), COLUMNS="250"
    )
    return subprocess.run(
        [sys.executable, "-m", "mlip_bench.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_wheel_ships_cards_configs_and_demo_data(installed):
    package = installed / "mlip_bench"
    assert sorted(p.stem for p in (package / "cards").glob("*.yaml")) == sorted(CARDS)
    models = {p.stem for p in (package / "configs" / "models").glob("*.yaml")}
    assert {"nequip-l0-cpu", "nequip-l1-cpu", "schnet", "nequip-l3"} <= models and "published" not in models
    assert (package / "configs" / "published.yaml").is_file()
    protocols = {p.stem for p in (package / "configs" / "protocols").glob("*.yaml")}
    assert {"paper", "plateau", "cpu", "short", "demo", "smoke"} <= protocols
    assert (package / "embedded" / "rmd17-ethanol.h5").is_file()
    assert (installed / "bin" / "mlip-bench").is_file()


def test_the_installed_package_is_the_one_that_runs(installed, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(installed))
    code = "import mlip_bench, mlip_bench.paths as p; print(mlip_bench.__file__); print(p.source_checkout())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[0].startswith(str(installed)) and out[1] == "None"


def test_datasets_list_from_the_wheel(installed, tmp_path):
    proc = _cli(installed, tmp_path, "datasets", "list")
    assert proc.returncode == 0, proc.stderr
    for name in CARDS:
        assert name in proc.stdout, name
    assert "embedded demo: rmd17/ethanol" in proc.stdout
    proc = _cli(installed, tmp_path, "demo", "--help")
    assert proc.returncode == 0 and "Usage: mlip-bench demo" in proc.stdout


def test_smoke_run_from_the_wheel(installed, tmp_path):
    out = tmp_path / "out"
    proc = _cli(
        installed,
        tmp_path,
        "run",
        "nequip-l0-cpu",
        "--protocol",
        "smoke",
        "--n-train",
        "50",
        "--out",
        str(out),
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = list((out / "records").glob("*.json"))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["status"] == "complete" and record["metrics"]["test"]["n_frames"] > 0
    assert record["dataset"]["name"] == "rmd17/ethanol"
