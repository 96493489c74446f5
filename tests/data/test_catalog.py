"""Variant names, the data root, store paths and opening stores."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest

from mlip_bench.data import catalog
from mlip_bench.data.catalog import data_root, open_store, resolve_variant, store_path
from mlip_bench.data.frame import Frame
from mlip_bench.data.store import write_store
from mlip_bench.errors import DatasetError


def _frames(n: int = 3) -> list[Frame]:
    rng = np.random.default_rng(0)
    return [
        Frame(
            positions=rng.normal(size=(3, 3)) * 2,
            numbers=np.array([8, 1, 1]),
            energy=-2000.0 + i,
            forces=rng.normal(size=(3, 3)),
        )
        for i in range(n)
    ]


def test_data_root_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("MLIP_BENCH_ROOT", str(tmp_path / "env"))
    assert data_root(tmp_path / "cli") == tmp_path / "cli"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("MLIP_BENCH_ROOT")
    import platformdirs

    assert data_root() == Path(platformdirs.user_cache_dir("mlip-bench"))


def test_store_paths(tmp_path):
    assert store_path("rmd17/ethanol", tmp_path) == tmp_path / "stores" / "rmd17" / "ethanol.h5"
    assert store_path("lips", tmp_path) == tmp_path / "stores" / "lips.h5"
    with pytest.raises(DatasetError, match="invalid dataset name '../etc'"):
        store_path("../etc", tmp_path)


def test_variant_names_are_one_thing_everywhere(tmp_path):
    assert resolve_variant("md17/aspirin") == resolve_variant("md17", "aspirin") == "md17/aspirin"
    assert resolve_variant("MD17", "Aspirin") == "md17/aspirin"
    assert resolve_variant("md17/aspirin", "aspirin") == "md17/aspirin"
    assert resolve_variant("rmd17", "salicylic") == "rmd17/salicylic_acid"  # alias of the file name
    assert resolve_variant("lips") == "lips"
    assert set(catalog.card_variants()) >= {"md17/aspirin", "rmd17/ethanol", "water", "lips", "li3po4", "cu-formate"}


@pytest.mark.parametrize(
    "name,molecule,message",
    [
        ("md18", None, "unknown dataset 'md18'; valid names: cu-formate, li3po4, lips, md17, rmd17, water"),
        ("rmd17", "caffeine", "unknown molecule 'caffeine' for rmd17; valid: aspirin, azobenzene"),
        ("md17", None, "needs a molecule .*valid: aspirin, benzene"),
        ("lips", "x", "has no molecules"),
        ("md17/aspirin", "ethanol", "already names molecule 'aspirin'"),
        ("rmd17/eth anol", None, "invalid dataset name"),
    ],
)
def test_bad_names_list_valid_ones(tmp_path, name, molecule, message):
    with pytest.raises(DatasetError, match=message) as info:
        resolve_variant(name, molecule, root=tmp_path)
    assert "\n" not in str(info.value)


def test_imported_variant_without_card(tmp_path):
    with pytest.raises(DatasetError, match="unknown dataset '3bpa'"):
        resolve_variant("3bpa", root=tmp_path)
    write_store(store_path("3bpa", tmp_path), _frames(), {"name": "3bpa", "provenance": "imported"})
    assert resolve_variant("3bpa", root=tmp_path) == "3bpa"
    assert catalog.imported_variants(tmp_path) == ["3bpa"]
    with pytest.raises(DatasetError, match="imported: 3bpa"):
        resolve_variant("3bpb", root=tmp_path)
    assert open_store("3bpa", root=tmp_path).n_frames == 3


def test_open_store_missing_says_what_to_run(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlip_bench.embedded", types.SimpleNamespace(EMBEDDED_STORES={}))
    with pytest.raises(DatasetError, match=r"run `mlip-bench download rmd17 --molecule ethanol`") as info:
        open_store("rmd17/ethanol", root=tmp_path)
    assert "mlip-bench import FILES... --as rmd17/ethanol" in str(info.value)


def test_open_store_prefers_local_then_embedded(tmp_path, monkeypatch):
    demo = write_store(tmp_path / "demo.h5", _frames(2), {"name": "rmd17/ethanol", "provenance": "embedded-subset"})
    monkeypatch.setitem(
        sys.modules, "mlip_bench.embedded", types.SimpleNamespace(EMBEDDED_STORES={"rmd17/ethanol": demo})
    )
    root = tmp_path / "root"
    assert open_store("rmd17/ethanol", root=root).n_frames == 2  # embedded fallback
    with pytest.raises(DatasetError, match="mlip-bench download lips"):
        open_store("lips", root=root)  # no embedded store for lips
    write_store(store_path("rmd17/ethanol", root), _frames(3), {"name": "rmd17/ethanol", "provenance": "download"})
    assert open_store("rmd17/ethanol", root=root).n_frames == 3  # the local store wins
