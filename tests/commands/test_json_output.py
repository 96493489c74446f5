"""Issue 11: `--json` on `datasets list`, `datasets info` and `results list` prints parseable JSON
(NaN/inf as null) and nothing else on stdout."""

from __future__ import annotations

import json
import math

from mlip_bench.cli import main
from mlip_bench.results.io import write_record
from tests.leaderboard.leaderboard_records import make_record


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_datasets_list_json(tmp_path, capsys):
    assert main(["datasets", "list", "--root", str(tmp_path), "--json"]) == 0
    payload = _json(capsys)
    names = [d["name"] for d in payload["datasets"]]
    assert {"md17", "rmd17", "lips", "water", "cu-formate", "li3po4"} <= set(names)
    rmd17 = next(d for d in payload["datasets"] if d["name"] == "rmd17")
    assert "rmd17/ethanol" in rmd17["variants"] and rmd17["embedded_demo_stores"] == ["rmd17/ethanol"]
    assert payload["root"] == str(tmp_path)


def test_datasets_info_json(tmp_path, capsys):
    assert main(["datasets", "info", "rmd17/ethanol", "--root", str(tmp_path), "--json"]) == 0
    payload = _json(capsys)
    assert payload["variant"] == "rmd17/ethanol" and payload["card"]["kind"] == "molecule"
    assert payload["store"]["n_frames"] == 2000 and sorted(payload["store"]["species"]) == ["C", "H", "O"]
    assert len(payload["store"]["content_sha256"]) == 64
    assert main(["datasets", "info", "md17/aspirin", "--root", str(tmp_path), "--json"]) == 0
    payload = _json(capsys)
    assert payload["store"] is None and "download" in payload["store_hint"]
    assert main(["datasets", "info", "md17", "--root", str(tmp_path), "--json"]) == 0
    payload = _json(capsys)
    assert "aspirin" in payload["molecules"] and payload["variant"] is None


def test_results_list_json(tmp_path, capsys):
    out = tmp_path / "results"
    write_record(make_record(seed=0, force_mae=12.5), out)
    write_record(make_record(seed=1, force_mae=math.nan), out)
    assert main(["results", "list", "--out", str(out), "--json"]) == 0
    runs = _json(capsys)
    assert [r["seed"] for r in runs] == [0, 1]
    assert runs[0]["metrics"]["test"]["force_mae_mev_per_a"] == 12.5
    assert runs[1]["metrics"]["test"]["force_mae_mev_per_a"] is None  # NaN is not JSON
    assert runs[0]["status"] == "complete" and runs[0]["certified"] is True
    assert main(["results", "list", "--out", str(out), "--json", "--model", "nope"]) == 0
    assert _json(capsys) == []
