"""The progress bar of training, MD and downloads keeps to 80 columns and shows the last count."""

from __future__ import annotations

import io
import re

from rich.console import Console

from mlip_bench.progress_bar import WIDTH, ProgressBar, shorten

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _render(**kw) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=WIDTH, force_terminal=True, color_system=None)
    title = "nequip-l1-cpu__md17-ethanol__n950__s1__plateau__md-nvt-500K-0.5fs-6000steps-r3-s0-long"
    with ProgressBar(True, 100_000, "train", title=title, console=console, **kw) as bar:
        for step in range(0, 40_001, 500):
            bar.update(step)
        bar.update(40_480, "ep 327 F 26.3 meV/Å E 10.1 meV and a status far too long to fit")
    text = ANSI.sub("", buffer.getvalue()).replace("\r", "\n")
    return [line for line in text.split("\n") if line.strip()]


def test_every_line_fits_80_columns_and_the_last_count_and_status_show() -> None:
    lines = _render()
    assert lines and all(len(line) <= WIDTH for line in lines), [len(line) for line in lines]
    assert lines[0].startswith("nequip-l1-cpu__md17") and "…" in lines[0]  # the title, once, shortened
    last = lines[-1]
    assert "40480/100000" in last and "ep 327 F 26.3 meV/Å" in last and last.startswith("train")


def test_disabled_bar_prints_nothing_and_ignores_updates() -> None:
    with ProgressBar(False, 10, "md") as bar:
        bar.update(5, "x")
    assert bar.bar is None


def test_shorten_keeps_both_ends() -> None:
    assert shorten("abcdefghij", 5) == "ab…ij"
    assert shorten("abc", 5) == "abc"
    assert len(shorten("x" * 100, 30)) == 30
