"""Fixtures for harness tests: the tiny ``pairmlp`` network of :mod:`mlip_bench.testing` and a Morse toy store."""

from __future__ import annotations

import pytest
import torch

from mlip_bench import testing


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def baselines(tmp_path, monkeypatch):
    """A baselines folder holding ``pairmlp.yaml``, swapped in for the real one (and the toy
    network registered)."""
    import mlip_bench.models.registry as registry

    testing.register_toy_network()
    folder = tmp_path / "baselines"
    testing.install_toy_model(folder)
    monkeypatch.setattr(registry, "BASELINES_DIR", folder)
    return folder


@pytest.fixture
def toy_root(tmp_path):
    """A data root with the imported store ``toy`` (120 Morse molecules)."""
    root = tmp_path / "data"
    testing.write_toy_store(root)
    return root
