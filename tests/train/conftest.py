"""Fixtures for harness tests: the tiny ``pairmlp`` network and a Morse toy store."""

from __future__ import annotations

import pytest
import torch

from tests.train import toy_model  # (registers "pairmlp")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture
def baselines(tmp_path, monkeypatch):
    """A baselines folder holding ``pairmlp.yaml``, swapped in for the real one."""
    import mlip_bench.models.registry as registry

    folder = tmp_path / "baselines"
    toy_model.install_model(folder)
    monkeypatch.setattr(registry, "BASELINES_DIR", folder)
    return folder


@pytest.fixture
def toy_root(tmp_path):
    """A data root with the imported store ``toy`` (120 Morse molecules)."""
    root = tmp_path / "data"
    toy_model.write_toy_store(root)
    return root
