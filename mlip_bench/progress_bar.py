"""The progress bar of every long job (training, MD, downloads): one line on stderr that fits 80 columns.

The job's full name (a run id is often 50 characters) is printed once above the bar; the bar line
itself holds a short word (``train``, ``md``, a file name), the bar, the count, a short status and
the time left, and keeps to :data:`WIDTH` columns. Updates are throttled, so calling ``update``
every optimiser or MD step costs nothing measurable.
"""

from __future__ import annotations

import time
from typing import Any, Literal

#: columns the bar line keeps to
WIDTH = 80
#: columns of the bar itself
BAR_COLUMNS = 12
#: longest status text shown (longer text keeps its beginning and ends in an ellipsis)
STATUS_COLUMNS = 30
#: seconds between redraws (a status change always redraws)
MIN_INTERVAL_S = 0.2


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with a middle ellipsis (both ends stay readable)."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    head = (limit - 1) // 2
    tail = limit - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


class ProgressBar:
    """A rich progress bar on stderr, or nothing when ``enabled`` is false.

    ``total``: steps (or bytes with ``unit="bytes"``); ``None`` when unknown. ``title``: printed
    once above the bar (the run or file it is about). ``word``: the bar line's short label.
    ``transient``: remove the bar when done (downloads); training and MD leave their last line.
    """

    def __init__(
        self,
        enabled: bool,
        total: int | None,
        word: str,
        title: str = "",
        unit: Literal["steps", "bytes"] = "steps",
        transient: bool = False,
        console: Any = None,
        completed: int = 0,
    ):
        self.bar = None
        self._last = 0.0
        self._status = ""
        self._completed = completed
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.console = console if console is not None else Console(stderr=True)
        self.title = title
        counts = [DownloadColumn(), TransferSpeedColumn()] if unit == "bytes" else [MofNCompleteColumn()]
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(bar_width=BAR_COLUMNS),
            *counts,
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=transient,
            expand=False,
        )
        self.task = self.bar.add_task(shorten(word, 16), total=total, completed=completed, status="")

    def __enter__(self) -> ProgressBar:
        if self.bar is not None:
            if self.title:
                self.console.print(shorten(self.title, WIDTH), highlight=False, markup=False, soft_wrap=True)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=self._completed)  # the last count, even if throttled
            self.bar.__exit__(*exc)

    def update(self, completed: int, status: str | None = None) -> None:
        """Move to ``completed``; ``status`` (a few words, e.g. ``ep 12 F 23.4 meV/Å``) replaces the
        shown status."""
        if self.bar is None:
            return
        self._completed = completed
        now = time.perf_counter()
        changed = status is not None and status != self._status
        if not changed and now - self._last < MIN_INTERVAL_S:
            return
        self._last = now
        fields: dict[str, str] = {}
        if status is not None:
            self._status = status
            fields["status"] = status if len(status) <= STATUS_COLUMNS else status[: STATUS_COLUMNS - 1] + "…"
        self.bar.update(self.task, completed=completed, **fields)
