"""Sweep files: parsing, validation errors that name the field, and cell expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mlip_bench.errors import ConfigError
from mlip_bench.sweep.spec import expand_cells, load_sweep, parse_sweep, resolve_ladder
from tests.sweep.sweep_files_for_tests import RUNNER, write_sweep

REPO = Path(__file__).resolve().parents[2]


def test_product_of_models_datasets_ladder_seeds(tmp_path: Path) -> None:
    spec = load_sweep(write_sweep(tmp_path / "s.yaml", seeds="0..2", n_train=[50, 10]))
    cells = expand_cells(spec)
    assert len(cells) == 2 * 1 * 2 * 3
    assert len({c.run_id for c in cells}) == len(cells)
    # seed-major, small training sets first: the first seed's whole curve comes first
    assert [(c.seed, c.n_train, c.model) for c in cells[:4]] == [
        (0, 10, "m-a"),
        (0, 10, "m-b"),
        (0, 50, "m-a"),
        (0, 50, "m-b"),
    ]
    assert {c.protocol for c in cells} == {"smoke"}
    assert cells[0].run_id == "m-a__rmd17-ethanol__n10__s0__smoke"  # the runner module's run_id


def test_range_ladder_uses_the_dataset_card_clipped() -> None:
    assert resolve_ladder("100..800", "md17/aspirin") == [150, 350, 550, 750]
    assert resolve_ladder("50..950", "rmd17/ethanol") == [50, 150, 350, 550, 750, 950]
    with pytest.raises(ConfigError, match="no size in that range"):
        resolve_ladder("960..990", "md17/aspirin")


def test_seed_forms_and_name_default(tmp_path: Path) -> None:
    path = tmp_path / "my-sweep.yaml"
    path.write_text(
        yaml.safe_dump({"models": ["m"], "datasets": ["d"], "n_train": "10,20", "seeds": 3, "runner": RUNNER})
    )
    spec = load_sweep(path)
    assert spec.name == "my-sweep"
    assert spec.seeds == [0, 1, 2]
    assert spec.n_train == [10, 20]
    assert spec.protocol == "cpu" and spec.threads_per_worker == 1


def test_per_dataset_ladder_and_overrides_merge(tmp_path: Path) -> None:
    spec = parse_sweep(
        {
            "name": "x",
            "models": ["m-a", "m-b"],
            "datasets": [
                {"name": "lips", "n_train": [800], "overrides": {"batch": {"size": 1, "shuffle": True}}},
                "water",
            ],
            "n_train": [100],
            "overrides": {"batch": {"size": 5}, "max_steps": 10},
            "cell_overrides": [{"match": {"model": "m-b", "dataset": "lips"}, "overrides": {"batch": {"size": 2}}}],
            "runner": RUNNER,
        }
    )
    cells = {(c.model, c.dataset): c for c in expand_cells(spec)}
    assert cells[("m-a", "lips")].n_train == 800 and cells[("m-a", "water")].n_train == 100
    assert cells[("m-a", "lips")].overrides == {"batch": {"size": 1, "shuffle": True}, "max_steps": 10}
    assert cells[("m-b", "lips")].overrides == {"batch": {"size": 2, "shuffle": True}, "max_steps": 10}
    assert cells[("m-b", "water")].overrides == {"batch": {"size": 5}, "max_steps": 10}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"models": []}, "models", "at least 1"),
        ({"n_train": [10, -5]}, "n_train", "not a positive integer"),
        ({"n_train": "20..10"}, "n_train", "1 <= A <= B"),
        ({"seeds": "a..b"}, "seeds", "inclusive range"),
        ({"modles": ["x"]}, "modles", "unknown field"),
        ({"resources": {"time": "soon"}}, "resources.time", "HH:MM:SS"),
        ({"resources": {"mem": "lots"}}, "resources.mem", "16G"),
        ({"resources": {"gpus": -1}}, "resources.gpus", "greater than or equal"),
        ({"runner": "no_colon"}, "runner", "package.module:function"),
        ({"threads_per_worker": 0}, "threads_per_worker", "greater than or equal"),
        (
            {"cell_overrides": [{"match": {"modle": "x"}, "overrides": {}}]},
            "cell_overrides.0.match.modle",
            "unknown field",
        ),
        ({"md": {"steps": 0}}, "md.steps", "greater than or equal to 1"),
        ({"md": {"temperature_k": -5}}, "md.temperature_k", "greater than 0"),
        ({"md": {"ensemble": "npt"}}, "md.ensemble", "'nvt' or 'nve'"),
        ({"md": {"replicas": 2.5}}, "md.replicas", "integer"),
        ({"md": {"temprature_k": 500}}, "md.temprature_k", "unknown field"),
        ({"md": [500, 6000]}, "md", ""),
    ],
)
def test_bad_sweep_file_names_the_field(tmp_path: Path, change: dict, field: str, words: str) -> None:
    path = write_sweep(tmp_path / "bad.yaml", **change)
    with pytest.raises(ConfigError) as info:
        load_sweep(path)
    message = str(info.value)
    assert f"field '{field}'" in message and words in message and str(path) in message
    assert "\n" not in message


def test_missing_ladder_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no n_train ladder for water"):
        parse_sweep({"name": "x", "models": ["m"], "datasets": [{"name": "lips", "n_train": [5]}, "water"]})
    with pytest.raises(ConfigError, match="not found"):
        load_sweep(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [a, b\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_sweep(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_sweep(listy)


def test_runner_must_define_run_id_and_ids_must_be_distinct(tmp_path: Path) -> None:
    spec = load_sweep(write_sweep(tmp_path / "s.yaml", runner="json:dumps"))
    with pytest.raises(ConfigError, match="defines no run_id"):
        expand_cells(spec)
    spec = load_sweep(write_sweep(tmp_path / "s.yaml"))
    with pytest.raises(ConfigError, match="share run id"):
        expand_cells(spec, run_id_for=lambda m, d, n, s, p, o: f"{d}-{n}-{s}")


def test_model_entries_with_labels_and_harness_run_ids(tmp_path: Path) -> None:
    spec = parse_sweep(
        {
            "name": "controls",
            "models": [
                "nequip-l0",
                {
                    "name": "nequip-l0",
                    "label": "nequip-l0-512x0e",
                    "overrides": {
                        "model": {"name": "nequip-l0-512x0e", "hyperparameters": {"feature_irreps_hidden": "512x0e"}}
                    },
                },
            ],
            "datasets": ["md17/aspirin"],
            "n_train": [50],
            "protocol": "paper",
            "cell_overrides": [{"match": {"model": "nequip-l0-512x0e"}, "overrides": {"max_steps": 7}}],
        }
    )
    plain, control = expand_cells(spec)  # run ids from the real harness
    assert plain.run_id == "nequip-l0__md17-aspirin__n50__s0__paper"
    assert control.run_id.startswith("nequip-l0__md17-aspirin__n50__s0__paper+") and control.run_id != plain.run_id
    assert control.display_model == "nequip-l0-512x0e" and control.overrides["max_steps"] == 7
    assert plain.overrides == {}
    with pytest.raises(ConfigError, match="duplicates"):
        parse_sweep({"name": "x", "models": ["a", "a"], "datasets": ["d"], "n_train": [5]})
    bad = parse_sweep(
        {"name": "x", "models": ["a"], "datasets": ["md17/aspirin"], "n_train": [5], "overrides": {"max_stepz": 3}}
    )
    with pytest.raises(ConfigError, match="max_stepz"):
        expand_cells(bad)  # the harness rejects unknown override keys before anything runs


def test_resources_convert_to_submitit_units() -> None:
    spec = parse_sweep(
        {
            "name": "x",
            "models": ["m"],
            "datasets": ["d"],
            "n_train": [5],
            "resources": {"time": "1-02:30:00", "mem": "512M", "gpus": 1, "partition": "gpu"},
        }
    )
    assert spec.resources.timeout_min == 26 * 60 + 30
    assert spec.resources.mem_gb == pytest.approx(0.5)
    assert (
        parse_sweep(
            {"name": "x", "models": ["m"], "datasets": ["d"], "n_train": [5], "resources": {"time": 90, "mem": 4}}
        ).resources.timeout_min
        == 90
    )


def test_committed_sweep_files_are_valid_and_expand() -> None:
    files = sorted((REPO / "sweeps").glob("*.yaml"))
    names = {p.name for p in files}
    for expected in (
        "md17-aspirin-cpu.yaml",
        "md17-ethanol-cpu.yaml",
        "rmd17-ethanol-cpu.yaml",
        "3bpa-cpu.yaml",
        "periodic-cpu.yaml",
        "paper-rmd17.yaml",
        "paper-md17-learning-curve.yaml",
        "paper-water.yaml",
        "paper-cu-formate.yaml",
        "paper-lips.yaml",
        "paper-li3po4.yaml",
        "paper-ccsd.yaml",
    ):
        assert expected in names
    from mlip_bench.models.registry import available_models

    known = set(available_models())
    for path in files:
        spec = load_sweep(path)
        cells = expand_cells(spec)  # run ids from the harness, which also checks every override key
        assert cells, path
        assert all(c.n_train >= 1 for c in cells)
        assert set(spec.model_names) <= known, (path.name, set(spec.model_names) - known)
    aspirin = expand_cells(load_sweep(REPO / "sweeps" / "md17-aspirin-cpu.yaml"))
    assert {c.n_train for c in aspirin} == {50, 150, 350, 550, 750, 950}
    assert {c.seed for c in aspirin} == {0, 1, 2}
    assert {c.display_model for c in aspirin} == {
        "nequip-l0-cpu",
        "nequip-l1-cpu",
        "nequip-l2-cpu",
        "schnet",
        "dimenet++-cpu",
    }
    assert {c.protocol for c in aspirin} == {"cpu"}
    assert len(aspirin) == 5 * 6 * 3 and all(c.run_id.endswith("__cpu") for c in aspirin)
    curve = expand_cells(load_sweep(REPO / "sweeps" / "paper-md17-learning-curve.yaml"))
    assert {c.display_model for c in curve} == {
        "nequip-l0",
        "nequip-l1",
        "nequip-l2",
        "nequip-l3",
        "nequip-l0-features512",
        "nequip-l0-features173",
    }
    assert len(curve) == 6 * 6 and len({c.run_id for c in curve}) == 36


def test_dataset_aliases_resolve_as_the_harness_resolves_them(tmp_path: Path) -> None:
    from mlip_bench.data.cards import load_card
    from mlip_bench.data.catalog import resolve_variant

    card = load_card("rmd17")
    molecule, source = next((m, s) for m, s in card.molecules.items() if s.aliases)
    alias = f"rmd17/{source.aliases[0]}"
    assert resolve_variant(alias) == f"rmd17/{molecule}"
    spec = parse_sweep(
        {
            "name": "a",
            "models": ["nequip-l0"],
            "datasets": [alias.upper()],
            "n_train": "50..150",
            "protocol": "paper",
            "cell_overrides": [{"match": {"dataset": alias.upper()}, "overrides": {"max_steps": 3}}],
        }
    )
    cells = expand_cells(spec)  # the harness's run ids, as run_cell names the records
    assert [c.dataset for c in cells] == [f"rmd17/{molecule}"] * 2
    assert [c.run_id.split("__")[1] for c in cells] == [f"rmd17-{molecule}"] * 2
    assert all(c.overrides == {"max_steps": 3} for c in cells)
    both = parse_sweep(
        {"name": "b", "models": ["m"], "datasets": [alias, f"rmd17/{molecule}"], "n_train": [5], "runner": RUNNER}
    )
    with pytest.raises(ConfigError, match="share run id"):
        expand_cells(both)


@pytest.mark.parametrize(
    ("ladder", "words"),
    [
        ("50..", "needs both ends"),
        ("..950", "needs both ends"),
        ("50,,100", "empty entry"),
        ("10,10", "duplicates"),
        ([], "empty"),
        ("ten", "not a training-set size"),
    ],
)
def test_ladder_grammar_is_the_command_line_one(ladder: object, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_sweep({"name": "x", "models": ["m"], "datasets": ["d"], "n_train": ladder})
    assert "field 'n_train'" in str(info.value) and words in str(info.value)


def test_md_block_is_read_and_leaves_cells_and_run_ids_alone(tmp_path: Path) -> None:
    """The committed plateau sweeps carry an md: block for `mlip-bench md --sweep`; it must not move
    a cell's run id or anything its training depends on (model, dataset, n_train, seed, protocol,
    overrides: the inputs of the harness's fingerprint)."""

    def plateau_ids(seeds: set[int]) -> set[str]:
        return {
            f"{m}__md17-ethanol__n{n}__s{s}__plateau"
            for m in ("nequip-l1-cpu", "nequip-l0-cpu", "schnet")
            for n in (50, 150, 350, 950)
            for s in seeds
        }

    for name, seeds in (("results-plateau.yaml", {0}), ("results-plateau-seeds.yaml", {0, 1, 2})):
        path = REPO / "sweeps" / name
        spec = load_sweep(path)
        assert spec.md is not None and spec.md.given() == {
            "temperature_k": 500.0,
            "steps": 6000,
            "timestep_fs": 0.5,
            "replicas": 3,
            "seed": 0,
            "ensemble": "nvt",
        }
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        del data["md"]
        without = parse_sweep(data, source=name)
        assert without.md is None

        def inputs(cells):
            return [(c.model, c.dataset, c.n_train, c.seed, c.protocol, c.overrides, c.run_id) for c in cells]

        cells = expand_cells(spec)
        assert inputs(cells) == inputs(expand_cells(without))
        # the run ids of the committed records (leaderboard/results/plateau)
        assert {c.run_id for c in cells} == plateau_ids(seeds)
        assert len(cells) == 3 * 4 * len(seeds)


def test_md_block_is_optional_and_case_insensitive(tmp_path: Path) -> None:
    assert load_sweep(write_sweep(tmp_path / "a.yaml")).md is None
    spec = load_sweep(write_sweep(tmp_path / "b.yaml", md={"ensemble": "NVE", "steps": 10}))
    assert spec.md is not None and spec.md.given() == {"ensemble": "nve", "steps": 10}
    assert parse_sweep(spec.model_dump(), source="again").md == spec.md  # `sweep --protocol` re-parses the dump
