"""Live view of a sweep: a rich table of cells (pending, running, done, failed) with an ETA.

The ETA is the mean wall time of the cells finished in this session times the cells still to run,
divided by the number of workers (cells of one sweep differ in cost, so it is a rough guide that
sharpens as cells finish).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mlip_bench.sweep.cells import Cell, CellState

_STYLE = {
    CellState.PENDING: "dim",
    CellState.RUNNING: "bold yellow",
    CellState.DONE: "green",
    CellState.FAILED: "bold red",
}


def format_seconds(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``12s`` or ``-``."""
    if seconds is None:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


class SweepProgress:
    """Tracks cell states and timings; renders them as a table (live when used as a context manager)."""

    def __init__(
        self,
        name: str,
        cells: list[Cell],
        workers: int = 1,
        console: Console | None = None,
        max_rows: int = 40,
        live: bool = True,
    ) -> None:
        self.name = name
        self.cells = list(cells)
        self.workers = max(1, workers)
        self.console = console or Console(stderr=True)
        self.max_rows = max_rows
        self.state: dict[str, CellState] = {c.run_id: CellState.PENDING for c in cells}
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        #: train seconds read from records that existed before this session (shown, not used for the ETA)
        self.recorded_seconds: dict[str, float] = {}
        self.initially_done = 0
        self.t0 = time.monotonic()
        self._live: Live | None = None
        self._use_live = live and self.console.is_terminal

    # -- state changes -------------------------------------------------------------------------
    def set_state(self, cell: Cell, state: CellState, seconds: float | None = None, error: str = "") -> None:
        """Set a cell's state without printing (used for scans of the out dir)."""
        self.state[cell.run_id] = state
        if state is CellState.DONE:
            self.initially_done += 1
        if seconds is not None:
            self.recorded_seconds[cell.run_id] = seconds
        if error:
            self.errors[cell.run_id] = error
        self.refresh()

    def mark_running(self, cell: Cell) -> None:
        self.state[cell.run_id] = CellState.RUNNING
        self.started[cell.run_id] = time.monotonic()
        self.refresh()

    def mark_finished(self, cell: Cell, state: CellState, seconds: float | None = None, error: str = "") -> None:
        """A cell ended (DONE or FAILED) or went back to PENDING; prints one line about it."""
        started = self.started.pop(cell.run_id, None)
        if seconds is None and started is not None:
            seconds = time.monotonic() - started
        self.state[cell.run_id] = state
        if state in (CellState.DONE, CellState.FAILED) and seconds is not None:
            self.seconds[cell.run_id] = seconds
        if error:
            self.errors[cell.run_id] = error
        word = {CellState.DONE: "done", CellState.FAILED: "FAILED", CellState.PENDING: "requeued"}.get(
            state, state.value
        )
        line = f"{word:8s} {cell.label()}  ({format_seconds(seconds)})"
        if error:
            line += f"  {error}"
        self.console.print(Text(line, style=_STYLE.get(state, "")), soft_wrap=True)
        self.refresh()

    # -- summaries -----------------------------------------------------------------------------
    def counts(self) -> Counter:
        """Number of cells per state."""
        return Counter(s.value for s in self.state.values())

    def eta_seconds(self) -> float | None:
        """Rough time left (s): mean finished-cell time x cells left / workers; None before any finish."""
        if not self.seconds:
            return None
        mean = sum(self.seconds.values()) / len(self.seconds)
        now = time.monotonic()
        left = 0.0
        for run_id, state in self.state.items():
            if state is CellState.PENDING:
                left += mean
            elif state is CellState.RUNNING:
                left += max(0.0, mean - (now - self.started.get(run_id, now)))
        return left / self.workers

    def render(self) -> Any:
        """The table: one row per cell (running and failed first, then pending, then done)."""
        counts = self.counts()
        elapsed = time.monotonic() - self.t0
        header = Text.assemble(
            (f"sweep {self.name}: ", "bold"),
            f"{len(self.cells)} cells  ",
            (f"{counts.get('done', 0)} done  ", "green"),
            (f"{counts.get('running', 0)} running  ", "yellow"),
            (f"{counts.get('failed', 0)} failed  ", "red"),
            (f"{counts.get('pending', 0)} pending  ", "dim"),
            f"elapsed {format_seconds(elapsed)}  ETA {format_seconds(self.eta_seconds())}",
        )
        table = Table(expand=False, show_edge=False, pad_edge=False)
        for column in ("state", "model", "dataset", "n_train", "seed", "time", "note"):
            table.add_column(column, no_wrap=column != "note", overflow="fold")
        order = {CellState.RUNNING: 0, CellState.FAILED: 1, CellState.PENDING: 2, CellState.DONE: 3}
        rows = sorted(self.cells, key=lambda c: order[self.state[c.run_id]])
        now = time.monotonic()
        for cell in rows[: self.max_rows]:
            state = self.state[cell.run_id]
            if state is CellState.RUNNING and cell.run_id in self.started:
                spent: float | None = now - self.started[cell.run_id]
            else:
                spent = self.seconds.get(cell.run_id, self.recorded_seconds.get(cell.run_id))
            table.add_row(
                Text(state.value, style=_STYLE[state]),
                cell.display_model,
                cell.dataset,
                str(cell.n_train),
                str(cell.seed),
                format_seconds(spent),
                self.errors.get(cell.run_id, "")[:120],
            )
        if len(rows) > self.max_rows:
            table.add_row("...", f"{len(rows) - self.max_rows} more", "", "", "", "", "")
        return Group(header, table)

    def refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def __enter__(self) -> "SweepProgress":
        if self._use_live:
            self._live = Live(console=self.console, refresh_per_second=2, transient=False, get_renderable=self.render)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(*exc)  # type: ignore[arg-type]
            self._live = None
