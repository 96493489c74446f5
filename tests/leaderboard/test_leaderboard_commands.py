"""`mlip-bench leaderboard serve`: serves a built site on 127.0.0.1 only; refuses a folder without a site."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

from mlip_bench.cli import main
from mlip_bench.errors import ConfigError
from mlip_bench.leaderboard.build import build_site
from tests.leaderboard.leaderboard_records import FIXTURES


def test_serve_refuses_a_folder_without_a_site(tmp_path, capsys):
    assert main(["leaderboard", "serve", "--site", str(tmp_path)]) == ConfigError.exit_code
    assert "run `mlip-bench leaderboard build" in capsys.readouterr().err


def test_serve_answers_on_loopback(tmp_path):
    site = tmp_path / "site"
    build_site([FIXTURES / "xss-probe.json"], site, static_figures=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlip_bench.cli", "leaderboard", "serve", "--site", str(site), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert "http://127.0.0.1:" in line, line + proc.stderr.read() if proc.poll() is not None else line
        url = line.split("at ", 1)[1].split(" ", 1)[0]
        with urllib.request.urlopen(url + "index.html", timeout=10) as resp:
            assert resp.status == 200
            assert b"mlip-bench" in resp.read()
        with urllib.request.urlopen(url + "assets/plotly.min.js", timeout=10) as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
