"""Effective parameter counts: the paper's l_max=1 molecule model has 741,086 parameters that act
(nequip v0.3.3's count); parity-masked entries of the dense self-interactions are not counted."""

import torch

from mlip_bench.data.graphs import collate, frame_to_graph
from mlip_bench.models.parameter_count import effective_parameter_count, parameter_count
from mlip_bench.models.registry import build_potential, load_model_config
from mlip_bench.testing import random_molecule, toy_statistics

#: three species, as the paper's molecule models (the count includes the species embedding)
STATS = toy_statistics(species=(1, 6, 8), avg_num_neighbors=4.0)


def _potential(name: str):
    """The packaged config ``name`` at its full size."""
    torch.manual_seed(0)
    return build_potential(load_model_config(name), STATS)


def test_paper_l1_model_counts_741086_effective_parameters():
    potential = _potential("nequip-l1")
    assert effective_parameter_count(potential) == 741_086
    assert parameter_count(potential) > 741_086  # the dense matrices hold parity-masked zeros


def test_l0_has_no_masked_parameters():
    potential = _potential("nequip-l0")
    assert effective_parameter_count(potential) == parameter_count(potential)


def test_masked_entries_do_not_change_the_output():
    """What the count leaves out really does not act: randomising masked entries keeps the energy."""
    torch.manual_seed(0)
    config = load_model_config("nequip-l1-cpu", dtype="float64")
    potential = build_potential(config, STATS)
    frames = [random_molecule(seed, n=6) for seed in (0, 1)]
    batch = collate([frame_to_graph(f, potential.config.r_max, torch.float64) for f in frames])
    before = potential(batch, compute_forces=False)["energy"].detach().clone()
    with torch.no_grad():
        for sub in potential.modules():
            masks = getattr(sub, "parameter_masks", None)
            if masks is None:
                continue
            params = dict(sub.named_parameters())
            for name, mask in masks().items():
                params[name][~mask.expand_as(params[name])] = 1e3
    after = potential(batch, compute_forces=False)["energy"].detach()
    torch.testing.assert_close(before, after)
