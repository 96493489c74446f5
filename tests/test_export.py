"""Issue 14: a NequIP potential exported with torch.export (``models.export``) gives the same
energy and forces as the eager potential, on the structure it was traced on, on frames with
other edge counts, and after a save/load round trip."""

from __future__ import annotations

import io

import pytest
import torch

from mlip_bench.data.catalog import open_store
from mlip_bench.data.graphs import collate, graphs_for
from mlip_bench.models.export import energy_and_forces, export_potential, graph_inputs
from mlip_bench.models.potential import DatasetStatistics
from mlip_bench.models.registry import build_potential, load_model_config


@pytest.mark.parametrize("l_max", [0, 1])
def test_exported_nequip_matches_eager(l_max):
    torch.manual_seed(l_max)
    store = open_store("rmd17/ethanol")  # the embedded demo store
    frames = store.frames(list(range(12)))
    config = load_model_config(f"nequip-l{l_max}-cpu", hyperparameters={"num_layers": 2, "num_features": 8})
    potential = build_potential(config, DatasetStatistics.from_frames(frames, config.r_max)).eval()
    graphs = graphs_for(config, frames)
    program = export_potential(potential, graphs[0])
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer).module()
    edge_counts = set()
    for graph in graphs[:6]:
        eager = potential(collate([graph]))
        inputs = graph_inputs(potential, graph)
        edge_counts.add(inputs[2].shape[1])
        for module in (program.module(), loaded):
            energy, forces = energy_and_forces(module, inputs)
            assert energy.dtype == torch.float64
            torch.testing.assert_close(energy.reshape(1), eager["energy"], rtol=0, atol=1e-6)
            torch.testing.assert_close(forces, eager["forces"].detach(), rtol=1e-5, atol=1e-6)
    assert len(edge_counts) > 1  # dynamic shapes: other neighbour lists than the traced one
