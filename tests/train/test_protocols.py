"""Protocol presets carry the paper's recipe and the documented CPU reductions."""

from __future__ import annotations

import pytest

from mlip_bench.errors import ConfigError
from mlip_bench.train.protocols import Protocol, available_protocols, load_protocol

#: the cpu preset's step ladder (docs/protocols.md)
CPU_STEPS_BY_N_TRAIN = {50: 2000, 100: 3000, 250: 4000, 500: 5000, 1000: 6000}


def test_paper_recipe_for_molecules_and_periodic_systems():
    mol = load_protocol("paper", "molecule")
    assert (mol.energy_weight, mol.force_weight, mol.learning_rate, mol.batch_size) == (1.0, 1000.0, 0.01, 5)
    assert mol.amsgrad and mol.scheduler_factor == 0.8 and mol.scheduler_patience == 50
    assert mol.ema_decay == 0.99 and mol.ema_use_num_updates
    assert mol.early_stopping_patience == 1000 and mol.min_learning_rate == 1e-6
    assert mol.step_budget(950) is None and mol.max_test_frames is None
    per = load_protocol("paper", "periodic")
    assert (per.learning_rate, per.batch_size) == (0.005, 1)
    assert per.resolved_force_weight(64) == 64**2
    assert mol.resolved_force_weight(21) == 1000.0


def test_cpu_budget_is_the_same_ladder_for_every_model_and_interpolates():
    cpu = load_protocol("cpu", "molecule")
    for n, steps in CPU_STEPS_BY_N_TRAIN.items():
        assert cpu.step_budget(n) == steps
    assert cpu.step_budget(150) == 3000 + round(1000 * 50 / 150)  # between 100 and 250
    assert cpu.step_budget(10) == 2000 and cpu.step_budget(5000) == 6000
    # scheduler patience scales with the budget: 10% of the epochs the budget allows
    assert cpu.epochs_per_budget(50) == 200 and cpu.patience_for(50) == 20
    assert cpu.patience_for(1000) == 3
    # the recipe itself is unchanged
    assert (cpu.learning_rate, cpu.batch_size, cpu.force_weight, cpu.ema_decay) == (0.01, 5, 1000.0, 0.99)


def test_smoke_is_tens_of_steps():
    smoke = load_protocol("smoke", "molecule")
    assert 10 <= smoke.step_budget(1000) <= 100


def test_overrides_and_bad_names():
    assert load_protocol("cpu", max_steps=7, steps_by_n_train=None).step_budget(50) == 7
    assert set(available_protocols()) >= {"paper", "cpu", "smoke"}
    with pytest.raises(ConfigError, match="unknown protocol 'gpu'; choose one of"):
        load_protocol("gpu")
    with pytest.raises(ConfigError, match="learning_rate"):
        load_protocol("paper", learning_rate=-1)


def test_baselines_keep_their_own_learning_rate_and_nothing_else_changes():
    for name in ("paper", "cpu", "demo", "smoke"):
        proto = load_protocol(name, "molecule")
        assert proto.learning_rate_for("nequip") == proto.learning_rate
        assert proto.learning_rate_for("schnet") == proto.learning_rate_for("dimenet++") == 1e-3
    assert load_protocol("paper", "periodic").learning_rate_for("nequip") == 0.005


def test_only_a_budget_change_continues_a_run():
    """A plateau run its cap ended goes on under a higher cap; not under a lower one, not when
    anything else changed, and never for the cosine schedule (whose every step depends on the budget)."""
    from mlip_bench.train.protocols import load_protocol

    capped = load_protocol("plateau", max_steps=40_000).model_dump()
    assert load_protocol("plateau", max_steps=80_000).continues(capped, 950, 40_000, 210, 2000.0)
    assert not load_protocol("plateau", max_steps=40_000).continues(capped, 950, 40_000, 210, 2000.0)
    assert not load_protocol("plateau", max_steps=80_000, learning_rate=0.02).continues(capped, 950, 40_000, 210, 1.0)
    cosine = load_protocol("plateau", lr_schedule="cosine", max_steps=1000).model_dump()
    assert not load_protocol("plateau", lr_schedule="cosine", max_steps=2000).continues(cosine, 50, 1000, 100, 1.0)
    # a record written before a field existed (here: lr_schedule) reads with the field's default
    old = {k: v for k, v in capped.items() if k not in ("lr_schedule", "warmup_steps")}
    assert load_protocol("plateau", max_steps=80_000).differs_only_in_budget(old)


def test_a_user_protocol_file_is_named_by_its_stem_and_extends_a_preset(tmp_path):
    path = tmp_path / "my-budget.yaml"
    path.write_text("extends: cpu\nmax_test_frames: 50\nby_kind:\n  periodic:\n    batch_size: 2\n")
    mol, per = load_protocol(path, "molecule"), load_protocol(str(path), "periodic")
    assert mol.name == per.name == "my-budget"
    # the preset's settings (and the paper's per-kind recipe under it), then the file's own
    assert mol.model_dump(exclude={"name", "max_test_frames", "description"}) == load_protocol(
        "cpu", "molecule"
    ).model_dump(exclude={"name", "max_test_frames", "description"})
    assert (mol.max_test_frames, mol.batch_size, per.batch_size, per.learning_rate) == (50, 5, 2, 0.005)
    assert mol.description == ""  # a description is the file's own, never inherited
    assert load_protocol(path, max_test_frames=7).max_test_frames == 7  # overrides come last


def test_a_protocol_file_without_extends_starts_from_the_field_defaults(tmp_path):
    path = tmp_path / "bare.yml"
    path.write_text("description: mine\nmax_steps: 9\n")
    bare = load_protocol(path, "periodic")
    assert bare.model_dump(exclude={"name", "dataset_kind", "description", "max_steps"}) == {
        k: v
        for k, v in Protocol(name="x").model_dump().items()
        if k not in ("name", "dataset_kind", "description", "max_steps")
    }
    assert (bare.description, bare.max_steps, bare.learning_rate_by_model) == ("mine", 9, {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("extends: cpu\nlr: 0.1\n", r"bad\.yaml: field 'lr': unknown protocol field \(check its spelling\)"),
        ("name: other\n", r"field 'name': set by the file's name and the dataset, not in the file"),
        ("by_kind:\n  molecule:\n    lr: 1\n", r"field 'by_kind\.molecule\.lr': unknown protocol field"),
        ("by_kind:\n  crystal: {}\n", r"field 'by_kind\.crystal.*': Input should be 'molecule' or 'periodic'"),
        ("learning_rate: -1\n", r"protocol 'bad' \(.*bad\.yaml\): field 'learning_rate'"),
        ("extends: nosuch\n", "unknown protocol 'nosuch'; choose one of"),
        ("- a list\n", "a protocol file must be a YAML mapping"),
    ],
)
def test_a_bad_protocol_file_is_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_protocol(path)


def test_protocol_files_that_loop_clash_with_a_preset_or_are_missing_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text(f"extends: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"extends: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="'extends' chain loops back to itself"):
        load_protocol(tmp_path / "a.yaml")
    (tmp_path / "cpu.yaml").write_text("extends: cpu\n")
    with pytest.raises(ConfigError, match="named like the preset 'cpu': rename it"):
        load_protocol(tmp_path / "cpu.yaml")
    with pytest.raises(ConfigError, match="cannot read protocol file .*nothere.yaml: file not found"):
        load_protocol(tmp_path / "nothere.yaml")


def test_the_presets_are_package_data_named_by_their_files():
    from mlip_bench.paths import PROTOCOLS_DIR, protocol_name

    assert available_protocols() == sorted(p.stem for p in PROTOCOLS_DIR.glob("*.yaml"))
    assert {"paper", "plateau", "cpu", "short", "demo", "smoke"} <= set(available_protocols())
    assert protocol_name("cpu") == "cpu" and protocol_name("/x/y/my-run.yaml") == "my-run"
