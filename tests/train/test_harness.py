"""run_cell: one learning-curve cell end to end on a real (tiny) store."""

from __future__ import annotations

import pytest

from mlip_bench.errors import ConfigError, DatasetError, ModelError, ResultsError
from mlip_bench.results.failed import failed_record
from mlip_bench.results.io import load_records, record_path, write_record
from mlip_bench.train.harness import run_cell, run_id


def test_run_cell_writes_a_complete_record_and_is_idempotent(tmp_path, baselines, toy_root):
    out = tmp_path / "out"
    record = run_cell("pairmlp", "toy", 20, 0, "smoke", out, root=toy_root)
    assert record.status == "complete"
    assert record.run_id == run_id("pairmlp", "toy", 20, 0, "smoke")
    test = record.metrics["test"]
    assert test.n_frames == record.split.n_test > 0
    assert test.force_mae_mev_per_a > 0 and set(test.force_mae_mev_per_a_by_element) == {"C", "H", "O"}
    assert record.timings.steps == 20 and record.n_parameters > 0
    assert record.dataset.store_sha256 and record.split.sha256
    # the record cites the frames this run drew on (its 20-frame training set) beside the whole split
    assert record.split.subset_sha256 and record.split.subset_sha256 != record.split.sha256
    assert record.environment.packages["torch"]
    assert len(record.parity["force_ref_ev_per_a"]) == len(record.parity["force_pred_ev_per_a"]) > 0
    path = record_path(out, record.run_id)
    stamp = path.stat().st_mtime_ns
    again = run_cell("pairmlp", "toy", 20, 0, "smoke", out, root=toy_root)
    assert again == record and path.stat().st_mtime_ns == stamp
    assert load_records(out) == [record]


def test_overrides_get_their_own_run_id(tmp_path, baselines, toy_root):
    out = tmp_path / "out"
    a = run_cell("pairmlp", "toy", 10, 0, "smoke", out, root=toy_root, overrides={"max_steps": 4})
    assert a.protocol.startswith("smoke+") and a.timings.steps == 4
    with pytest.raises(ConfigError, match="unknown override"):
        run_cell("pairmlp", "toy", 10, 0, "smoke", out, root=toy_root, overrides={"lr": 1})


def test_bad_inputs_say_what_to_do(tmp_path, baselines, toy_root):
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"training pool has \d+ frames; use 1\.\.\d+"):
        run_cell("pairmlp", "toy", 5000, 0, "smoke", out, root=toy_root)
    with pytest.raises(ModelError, match="unknown model 'nosuch'"):
        run_cell("nosuch", "toy", 10, 0, "smoke", out, root=toy_root)
    with pytest.raises(DatasetError):
        run_cell("pairmlp", "nosuchdata", 10, 0, "smoke", out, root=toy_root)
    with pytest.raises(ConfigError, match="unknown protocol"):
        run_cell("pairmlp", "toy", 10, 0, "fast", out, root=toy_root)


def test_failed_record_is_not_replaced_silently(tmp_path, baselines, toy_root):
    out = tmp_path / "out"
    record = run_cell("pairmlp", "toy", 10, 0, "smoke", out, root=toy_root, overrides={"max_steps": 2})
    failed = failed_record(
        run_id=record.run_id,
        error="diverged",
        model=record.model,
        dataset=record.dataset,
        n_train=record.n_train,
        seed=record.seed,
        protocol=record.protocol,
    )
    write_record(failed, out, overwrite=True)
    with pytest.raises(ResultsError, match="failed earlier.*delete"):
        run_cell("pairmlp", "toy", 10, 0, "smoke", out, root=toy_root, overrides={"max_steps": 2})


def test_periodic_data_gets_the_periodic_recipe(tmp_path, baselines):
    from mlip_bench import testing

    root = tmp_path / "data"
    testing.write_periodic_store(root)
    record = run_cell("pairmlp", "toybox", 5, 0, "smoke", tmp_path / "out", root=root, overrides={"max_steps": 5})
    config = record.protocol_config
    assert config["dataset_kind"] == "periodic" and config["batch_size"] == 1
    assert config["learning_rate"] == 0.005 and config["force_weight"] == "n_atoms_squared"
    assert record.metrics["test"].energy_mae_mev_per_atom == pytest.approx(record.metrics["test"].energy_mae_mev / 8)


def test_extra_named_test_sets_get_their_own_metrics(tmp_path, baselines):
    from mlip_bench import testing
    from mlip_bench.data.catalog import store_path
    from mlip_bench.data.store import write_store
    from mlip_bench.results.io import records_dataframe

    frames = testing.morse_frames(120, seed=1)
    for copy, original in ((85, 0), (86, 1)):  # two test_X frames repeat training frames
        frames[copy] = frames[original]
    # 0-49 train, 50-59 val, 60-84 test (25), 85-96 test_X (12, 2 copies), 97-119 test_Y (23)
    labels = ["train"] * 50 + ["val"] * 10 + ["test"] * 25 + ["test_X"] * 12 + ["test_Y"] * 23
    root = tmp_path / "data"
    path = store_path("toylab", root)
    path.parent.mkdir(parents=True)
    write_store(path, frames, {"name": "toylab", "provenance": "imported"}, subsets=labels)

    out = tmp_path / "out"
    record = run_cell("pairmlp", "toylab", 10, 0, "smoke", out, root=root, overrides={"max_steps": 4})
    assert record.status == "complete"
    assert set(record.metrics) == {"test", "test_X", "test_Y"}
    assert record.metrics["test"].n_frames == record.split.n_test == 20  # smoke caps test sets at 20 frames
    assert record.metrics["test_X"].n_frames == 10  # the two copies of training frames are left out
    assert record.metrics["test_Y"].n_frames == 20  # same cap as the main test set
    for name in ("test", "test_X", "test_Y"):
        assert record.metrics[name].force_mae_mev_per_a > 0
    assert record.metrics["test_X"].force_mae_mev_per_a != record.metrics["test"].force_mae_mev_per_a
    assert load_records(out) == [record]  # written and read back with the extra metrics
    table = records_dataframe(out, split="test_X")
    assert table.loc[0, "n_frames"] == 10


def test_record_carries_convergence_and_validation_history(tmp_path, baselines, toy_root):
    """A run ended by a plateau rule is certified; one ended by its step budget is not; both
    records carry the per-validation history."""
    out = tmp_path / "out"
    budget = run_cell("pairmlp", "toy", 20, 0, "smoke", out, root=toy_root)
    assert budget.convergence is not None and not budget.certified
    assert budget.convergence.rule == "budget"
    assert budget.schema_version == 3 and budget.n_parameters_effective == budget.n_parameters
    history = budget.validation_history
    assert history.step[-1] == budget.timings.steps and len(history.val_force_mae_mev_per_a) == len(history.step)
    plateau = run_cell(
        "pairmlp",
        "toy",
        20,
        0,
        "smoke",
        out,
        root=toy_root,
        overrides={"max_steps": 10_000, "early_stopping_patience": 2, "validate_every_steps": 8},
    )
    assert plateau.certified and plateau.convergence.rule in ("no-validation-gain", "lr-floor")
    assert "converged" in plateau.convergence.detail


def test_a_raised_cap_continues_budget_ended_runs_from_their_final_state(tmp_path, baselines, toy_root):
    """A run its step cap ended is the first part of the same run under a higher cap: raising the
    protocol's cap makes run_cell (and a sweep) train it on from its final checkpoint and replace
    its record; a run a plateau rule ended, or another change than the budget, is not continued."""
    from mlip_bench.sweep.cells import Cell, CellState, cell_state
    from mlip_bench.train.harness import record_continues

    out = tmp_path / "out"
    protocol = tmp_path / "capped.yaml"  # a user's protocol file, edited between the runs
    protocol.write_text("extends: smoke\nmax_steps: 20\n")
    first = run_cell("pairmlp", "toy", 20, 0, str(protocol), out, root=toy_root)
    assert first.convergence.rule == "budget" and first.timings.steps == 20
    assert first.protocol == "capped" and first.run_id == run_id("pairmlp", "toy", 20, 0, "capped")
    cell = Cell("pairmlp", "toy", 20, 0, str(protocol), first.run_id)
    assert not record_continues(first, str(protocol)) and cell_state(cell, out) is CellState.DONE

    protocol.write_text("extends: smoke\nmax_steps: 30\n")
    assert record_continues(first, str(protocol)) and cell_state(cell, out) is CellState.PENDING
    longer = run_cell("pairmlp", "toy", 20, 0, str(protocol), out, root=toy_root)
    assert longer.run_id == first.run_id and longer.timings.steps == 30
    n_first = len(first.validation_history.step)
    assert longer.validation_history.step[:n_first] == first.validation_history.step
    assert longer.validation_history.val_loss[:n_first] == first.validation_history.val_loss
    assert len(longer.validation_history.step) > n_first
    assert load_records(out) == [longer] and cell_state(cell, out) is CellState.DONE

    # another learning rate is another run: its checkpoint is refused, not continued
    protocol.write_text("extends: smoke\nmax_steps: 40\nlearning_rate: 0.5\n")
    assert not record_continues(longer, str(protocol))


def test_compiled_steps_are_asked_for_by_argument_or_by_the_sweep_environment(
    tmp_path, baselines, toy_root, monkeypatch
):
    import torch

    from mlip_bench.train.harness import COMPILE_STEP_VARIABLE

    monkeypatch.setattr(torch, "compile", lambda graph, **kwargs: graph)  # the traced graph itself: fast
    out = tmp_path / "out"
    eager = run_cell("pairmlp", "toy", 10, 0, "smoke", out, root=toy_root, overrides={"max_steps": 4})
    assert eager.timings.train_step == "eager"
    compiled = run_cell("pairmlp", "toy", 10, 1, "smoke", out, root=toy_root, compile_step=True)
    assert compiled.timings.train_step == "compiled"
    # a sweep worker is told by the environment ``mlip-bench sweep --compile-step`` sets
    monkeypatch.setenv(COMPILE_STEP_VARIABLE, "1")
    from_sweep = run_cell("pairmlp", "toy", 10, 2, "smoke", out, root=toy_root)
    assert from_sweep.timings.train_step == "compiled"
    # the protocol and run id do not change: it is how a step is computed, not what
    assert from_sweep.protocol == "smoke" and from_sweep.run_id == run_id("pairmlp", "toy", 10, 2, "smoke")
