"""Fixtures for MD tests: a tiny trained ``pairmlp`` model (a real run record and checkpoint) on
the Morse toy molecules, trained once per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mlip_bench import testing


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """``(root, results, run_id)``: data root with the ``toy`` and ``toybox`` stores, and a
    results folder holding one smoke-trained pairmlp run on ``toy``."""
    import mlip_bench.models.registry as registry
    from mlip_bench.train.harness import run_cell

    testing.register_toy_network()
    base = tmp_path_factory.mktemp("md")
    root = base / "data"
    testing.write_toy_store(root)
    testing.write_periodic_store(root)
    folder = base / "baselines"
    testing.install_toy_model(folder)
    results = base / "results"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "BASELINES_DIR", folder)
        torch.set_num_threads(1)
        record = run_cell("pairmlp", "toy", 30, 0, "smoke", results, root=root, overrides={"max_steps": 30})
    return root, results, record.run_id


@pytest.fixture
def checkpoint(trained) -> Path:
    root, results, rid = trained
    return results / "checkpoints" / rid / "best_model.pt"
