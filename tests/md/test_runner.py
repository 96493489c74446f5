"""run_md end to end on a tiny trained model: records, resume after a kill, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from mlip_bench import testing
from mlip_bench.errors import ModelError
from mlip_bench.md.runner import STATE_DIR, MDSettingsInput, md_record_path, read_md_record, run_md
from mlip_bench.results.md_schema import MDRecord


def settings(**kw) -> MDSettingsInput:
    base = dict(
        steps=40,
        replicas=2,
        timestep_fs=0.5,
        temperature_k=300.0,
        sample_every=5,
        checkpoint_every=10,
        max_reference_frames=60,
    )
    base.update(kw)
    return MDSettingsInput(**base)


class Killed(KeyboardInterrupt):
    """Stands in for a kill: nothing is saved beyond the last periodic checkpoint."""


def _comparable(record: MDRecord) -> dict:
    data = record.model_dump(mode="json")
    for r in data["replicas"]:
        r.pop("wall_seconds")
    data["observables"].pop("figures")
    return {k: data[k] for k in ("replicas", "stability", "observables", "system", "settings")}


def test_nvt_record_links_the_run_and_has_stability_observables_speed(trained, checkpoint, tmp_path):
    root, results, rid = trained
    out = tmp_path / "md"
    record = run_md(rid, settings(), out, results=[results], root=root)
    path = md_record_path(out, record.md_id)
    assert read_md_record(path) == record
    assert record.run.run_id == rid and record.run.record_sha256 and record.run.dataset == "toy"
    assert record.run.n_train == 30 and record.run.test_force_mae_mev_per_a is not None
    assert record.system["kind"] == "molecule" and record.system["n_atoms"] == 4
    assert [r.start_frame for r in record.replicas] and all(r.start_frame >= 0 for r in record.replicas)
    st = record.stability
    assert st.n_replicas == 2 and 0 < st.mean_time_to_failure_ps <= st.length_ps == pytest.approx(0.02)
    assert record.observables.hr_mae is not None and 0 <= record.observables.hr_mae <= 2
    assert record.observables.n_reference_frames == 60
    assert 0 < record.observables.hr_mae_sampling_floor < 2
    assert "diffusivity" in record.observables.not_available
    assert record.speed.steps_per_second > 0 and record.speed.ns_per_day > 0
    assert [f.endswith(".hr.png") for f in record.observables.figures] == [True]
    assert (out / record.observables.figures[0]).stat().st_size > 1000
    assert not (out / STATE_DIR).exists()  # checkpoints removed once the record is written
    # a checkpoint path gives the same benchmark (found via <out>/records/<run_id>.json); rerun is a no-op
    stamp = path.stat().st_mtime_ns
    again = run_md(checkpoint, settings(), out, root=root)
    assert again == record and path.stat().st_mtime_ns == stamp


def test_resume_after_a_kill_gives_the_same_trajectory(trained, tmp_path):
    root, results, rid = trained
    full = run_md(rid, settings(), tmp_path / "full", results=[results], root=root)

    def kill(replica: int, step: int) -> None:
        if replica == 1 and step == 27:
            raise Killed()

    out = tmp_path / "killed"
    with pytest.raises(Killed):
        run_md(rid, settings(), out, results=[results], root=root, on_step=kill)
    state = out / STATE_DIR / full.md_id
    assert sorted(p.name for p in state.iterdir()) == ["replica-0.pkl", "replica-1.pkl"]
    assert not md_record_path(out, full.md_id).exists()  # no half-written record
    steps_seen = []
    resumed = run_md(rid, settings(), out, results=[results], root=root, on_step=lambda k, s: steps_seen.append((k, s)))
    assert steps_seen[0] == (1, 21)  # replica 0 was done; replica 1 continued after its step-20 checkpoint
    assert _comparable(resumed) == _comparable(full)


def test_an_unreadable_checkpoint_restarts_its_replica_cleanly(trained, tmp_path):
    root, results, rid = trained
    out = tmp_path / "md"
    full = run_md(rid, settings(replicas=1), tmp_path / "full", results=[results], root=root)
    state = out / STATE_DIR / full.md_id / "replica-0.pkl"
    state.parent.mkdir(parents=True)
    state.write_bytes(b"\x80garbage")
    record = run_md(rid, settings(replicas=1), out, results=[results], root=root)
    assert "unreadable" in record.notes and "restarted" in record.notes
    assert _comparable(record) == _comparable(full)


def test_nve_reports_energy_drift(trained, tmp_path):
    root, results, rid = trained
    record = run_md(rid, settings(ensemble="nve", replicas=1, timestep_fs=0.25), tmp_path, results=[results], root=root)
    (r,) = record.replicas
    assert record.settings.friction_per_fs is None
    if not r.failed:
        assert r.energy_drift_mev_per_atom_per_ps is not None and r.max_energy_error_mev_per_atom is not None
        assert abs(r.max_energy_error_mev_per_atom) < 50


def test_compiled_forces_give_the_eager_trajectory_and_the_record_says_so(trained, tmp_path, monkeypatch):
    root, results, rid = trained
    eager = run_md(rid, settings(), tmp_path / "eager", results=[results], root=root)
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: fn)  # the traced graph, without Inductor's minutes
    compiled = run_md(rid, settings(compile_forces=True), tmp_path / "compiled", results=[results], root=root)
    assert compiled.md_id == eager.md_id  # how forces are evaluated is not part of what was run
    assert (eager.speed.force_evaluation, compiled.speed.force_evaluation) == ("eager", "compiled")
    for a, b in zip(eager.replicas, compiled.replicas):
        assert (a.failed, a.steps_run, a.start_frame) == (b.failed, b.steps_run, b.start_frame)
    assert compiled.observables.hr_mae == pytest.approx(eager.observables.hr_mae, rel=1e-6)


def _broken_checkpoint(checkpoint, tmp_path, how: str):
    payload = torch.load(checkpoint, weights_only=False)
    state = payload["state_dict"]
    if how == "explode":
        state["species_scale"] = state["species_scale"] * 1e5
    else:
        state["species_shift"] = state["species_shift"] * float("nan")
    folder = tmp_path / "results" / "checkpoints" / f"broken-{how}"
    folder.mkdir(parents=True)
    payload["metadata"] = dict(payload["metadata"], run_id=f"broken-{how}")
    torch.save(payload, folder / "best_model.pt")
    return folder / "best_model.pt"


@pytest.mark.parametrize("how", ["explode", "nan"])
def test_an_exploding_trajectory_is_a_failure_at_its_time_not_a_crash(trained, checkpoint, tmp_path, how):
    root, _, _ = trained
    broken = _broken_checkpoint(checkpoint, tmp_path, how)
    record = run_md(broken, settings(), tmp_path / "md", root=root)
    assert record.status == "complete" and record.run.record_path == ""  # metadata from the checkpoint
    assert record.stability.n_stable == 0
    for r in record.replicas:
        assert r.failed and r.time_to_failure_ps is not None and r.failure
        assert r.time_to_failure_ps < record.stability.length_ps
    if how == "nan":
        assert all(r.time_to_failure_ps == 0.0 and "non-finite" in r.failure for r in record.replicas)
        assert "all" in record.observables.not_available
    else:
        assert all(r.time_to_failure_ps > 0 for r in record.replicas)


def test_species_mismatch_is_one_typed_line(trained, tmp_path):
    root, results, rid = trained
    with pytest.raises(ModelError, match=r"species mismatch: .* trained on H, C, O; dataset toybox also has Cu") as err:
        run_md(rid, settings(), tmp_path, results=[results], root=root, dataset="toybox")
    assert "\n" not in str(err.value)
    from ase import Atoms
    from ase.io import write

    write(tmp_path / "licl.xyz", Atoms("LiCl", positions=[[0, 0, 0], [2.1, 0, 0]]))
    with pytest.raises(ModelError, match="also has Li, Cl"):
        run_md(rid, settings(), tmp_path, results=[results], root=root, structure=tmp_path / "licl.xyz")


def test_periodic_system_gets_rdfs_and_says_what_is_missing(trained, tmp_path):
    import mlip_bench.models.registry as registry
    from mlip_bench.train.harness import run_cell

    root, _, _ = trained
    results = tmp_path / "results"
    folder = tmp_path / "baselines"
    testing.install_toy_model(folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "BASELINES_DIR", folder)
        run = run_cell("pairmlp", "toybox", 5, 0, "smoke", results, root=root, overrides={"max_steps": 3})
    record = run_md(
        run.run_id,
        settings(steps=10, replicas=1, max_reference_frames=10),
        tmp_path / "md",
        results=[results],
        root=root,
    )
    ob = record.observables
    assert record.system["kind"] == "periodic" and record.stability.min_distance_a == 0.5
    floors = record.stability.pair_floors_a
    assert (
        floors and set(floors) == {"Cu-Cu"} and floors["Cu-Cu"] >= 0.5 and "pair's floor" in record.stability.criterion
    )
    assert set(ob.rdf_mae) == {"Cu-Cu"} and ob.rdf_mae_mean is not None
    assert "no Li" in ob.not_available["diffusivity"]
    assert any(f.endswith(".rdf.png") for f in ob.figures)
    json.loads(md_record_path(tmp_path / "md", record.md_id).read_text())
    assert np.isfinite(record.speed.steps_per_second)


def test_record_in_the_results_folder_cites_run_files_relative_to_itself(trained, tmp_path):
    """An MD record in ``<results>/md`` stays true when the results folder is moved or committed."""
    import hashlib
    import shutil

    root, results, rid = trained
    moved = tmp_path / "results"
    shutil.copytree(results, moved, ignore=shutil.ignore_patterns("md", "locks"))
    out = moved / "md"
    record = run_md(rid, settings(), out, results=[moved], root=root)
    assert record.run.record_path == f"../records/{rid}.json"
    assert record.run.checkpoint_path == f"../checkpoints/{rid}/best_model.pt"
    cited = out / record.run.record_path
    assert hashlib.sha256(cited.read_bytes()).hexdigest() == record.run.record_sha256
    elsewhere = run_md(rid, settings(), tmp_path / "other" / "md", results=[moved], root=root)
    assert Path(elsewhere.run.record_path).is_absolute()
