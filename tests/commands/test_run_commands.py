"""`mlip-bench run / evaluate / results list`: real runs on a tiny store, one-line errors."""

from __future__ import annotations

import json

import pytest
import torch

from mlip_bench import testing
from mlip_bench.cli import main
from mlip_bench.commands.run_commands import parse_n_train, parse_overrides
from mlip_bench.errors import ConfigError


@pytest.fixture
def setup(tmp_path, monkeypatch):
    import mlip_bench.models.registry as registry

    torch.set_num_threads(1)
    testing.register_toy_network()
    monkeypatch.setenv("COLUMNS", "250")  # rich tables unwrapped
    folder = tmp_path / "baselines"
    testing.install_toy_model(folder)
    monkeypatch.setattr(registry, "BASELINES_DIR", folder)
    root = tmp_path / "data"
    testing.write_toy_store(root)
    return root, tmp_path / "out"


def test_n_train_spec_lists_and_ladder_ranges():
    ladder = [50, 150, 350, 550, 750, 950]
    assert parse_n_train("50..400", ladder) == [50, 150, 350]
    assert parse_n_train("250,50", ladder) == [50, 250]
    assert parse_n_train("300", None) == [300]
    with pytest.raises(ConfigError, match="no ladder on a dataset card"):
        parse_n_train("50..100", None, "toy")
    with pytest.raises(ConfigError, match="no size in that range"):
        parse_n_train("960..2000", ladder)
    for bad, words in [
        ("fifty", "not a training-set size"),
        ("50..", "needs both ends"),
        ("..950", "needs both ends"),
        ("50,,100", "empty entry"),
        ("250,50,50", "duplicates"),
        ("0,5", "not a positive integer"),
    ]:
        with pytest.raises(ConfigError, match=words) as info:
            parse_n_train(bad, ladder)
        assert str(info.value).startswith(f"--n-train {bad}:")
    assert parse_overrides(["max_steps=5", "model.r_max=3.5"]) == {"max_steps": 5, "model": {"r_max": 3.5}}


def test_run_then_list_then_evaluate(setup, capsys):
    root, out = setup
    common = ["--dataset", "toy", "--root", str(root), "--out", str(out)]
    assert main(["run", "pairmlp", *common, "--n-train", "10,20", "--protocol", "smoke", "--set", "max_steps=6"]) == 0
    records = sorted((out / "records").glob("*.json"))
    assert [json.loads(p.read_text())["n_train"] for p in records] == [10, 20]
    capsys.readouterr()
    assert main(["results", "list", "--out", str(out)]) == 0
    listing = capsys.readouterr().out
    assert "pairmlp" in listing and "2 runs" in listing
    (ckpt,) = [p for p in (out / "checkpoints").glob("*n20*/best_model.pt")]
    target = out / "eval.json"
    # the smoke protocol scores a seeded sample of 20 test frames; --max-frames 20 draws the same
    assert main(["evaluate", str(ckpt), "--root", str(root), "--max-frames", "20", "--json", str(target)]) == 0
    scored = json.loads(target.read_text())
    record = json.loads(next(p for p in records if "n20" in p.name).read_text())
    # evaluating the saved best model on the same test split reproduces the record's metrics
    assert scored["dataset"] == "toy" and scored["split"] == "test"
    assert scored["metrics"]["force_mae_mev_per_a"] == pytest.approx(
        record["metrics"]["test"]["force_mae_mev_per_a"], rel=1e-9
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "nosuch", "--dataset", "toy"], "unknown model 'nosuch'"),
        (["run", "pairmlp", "--dataset", "toy", "--n-train", "100000"], "training pool has"),
        (
            ["run", "pairmlp", "--dataset", "md17", "--molecule", "aspirin", "--n-train", "50"],
            "mlip-bench download md17",
        ),
        (["run", "pairmlp", "--dataset", "toy", "--protocol", "turbo"], "unknown protocol 'turbo'"),
        (["evaluate", "missing.pt", "--dataset", "toy"], "does not exist"),
    ],
)
def test_bad_input_gets_one_line_saying_what_to_do(setup, capsys, args, expected):
    root, out = setup
    code = main([*args, "--root", str(root)] + (["--out", str(out)] if args[0] == "run" else []))
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert err.startswith("error: ") and expected in err and "\n" not in err


def test_results_list_without_folder_says_what_to_do(tmp_path, capsys):
    assert main(["results", "list", "--out", str(tmp_path / "none")]) != 0
    assert "run `mlip-bench run" in capsys.readouterr().err


def test_demo_trains_the_ladder_and_builds_the_site(setup, monkeypatch, capsys):
    import mlip_bench.commands.demo_commands as rc

    root, out = setup
    monkeypatch.setattr(rc, "DEMO_MODELS", ("pairmlp", "not-a-model"))
    monkeypatch.setattr(rc, "DEMO_DATASET", "toy")
    monkeypatch.setattr(rc, "DEMO_LADDER", (10, 20))
    monkeypatch.setattr(rc, "_build_site", rc._placeholder_site)  # the real site has its own tests
    assert main(["demo", "--out", str(out), "--root", str(root), "--protocol", "smoke"]) == 0
    printed = capsys.readouterr().out
    assert "skipping not-a-model" in printed
    assert "results:" in printed and "leaderboard:" in printed
    assert len(list((out / "records").glob("*.json"))) == 2
    page = (out / "site" / "index.html").read_text()
    assert "pairmlp" in page and "force_mae_mev_per_a" in page


def test_seed_runs_exactly_one_seed(setup):
    """`--seed K` reruns one record's seed (the leaderboard's reproduce command uses it)."""
    root, out = setup
    common = ["--dataset", "toy", "--root", str(root), "--out", str(out), "--protocol", "smoke", "--set", "max_steps=4"]
    assert main(["run", "pairmlp", *common, "--n-train", "10", "--seed", "2"]) == 0
    assert [json.loads(p.read_text())["seed"] for p in (out / "records").glob("*.json")] == [2]
    assert main(["run", "pairmlp", *common, "--n-train", "10", "--seed", "1", "--seeds", "3"]) != 0
