"""Model registry: every baseline config loads; `extends` aliases; clear errors."""

from __future__ import annotations

import pytest

from mlip_bench.errors import ConfigError, ModelError
from mlip_bench.models import registry
from mlip_bench.models.registry import available_models, load_model_config


def test_every_baseline_config_loads_and_names_itself():
    names = available_models()
    assert {"nequip", "nequip-l0", "nequip-l3", "schnet", "dimenet++"} <= set(names)
    for name in names:
        assert load_model_config(name).name == name


def test_plain_nequip_is_the_papers_l3_model():
    alias, paper = load_model_config("nequip"), load_model_config("nequip-l3")
    assert alias.hyperparameters == paper.hyperparameters and alias.r_max == paper.r_max
    assert alias.model == "nequip" and alias.hyperparameters["l_max"] == 3


def test_extends_merges_hyperparameters_and_rejects_loops(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "BASELINES_DIR", tmp_path)
    (tmp_path / "base.yaml").write_text(
        "name: base\nmodel: nequip\nr_max: 4.0\nhyperparameters: {l_max: 1, num_features: 8}\n"
    )
    (tmp_path / "child.yaml").write_text("extends: base\nname: child\nhyperparameters: {num_features: 16}\n")
    child = load_model_config("child")
    assert child.hyperparameters == {"l_max": 1, "num_features": 16} and child.r_max == 4.0
    (tmp_path / "a.yaml").write_text("extends: b\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a\nname: b\n")
    with pytest.raises(ConfigError, match="loops"):
        load_model_config("a")
    (tmp_path / "orphan.yaml").write_text("extends: missing\nname: orphan\n")
    with pytest.raises(ConfigError, match="unknown model 'missing'"):
        load_model_config("orphan")


def test_unknown_model_lists_the_available_ones():
    with pytest.raises(ModelError, match="available: .*nequip-l1"):
        load_model_config("nequip-l9")
