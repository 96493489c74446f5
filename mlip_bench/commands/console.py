"""The rich console the commands print with.

On a terminal it is rich's usual console. When stdout is a pipe or a file it is wide
(``PIPE_WIDTH`` columns, or ``$COLUMNS`` when larger), so tables keep every name on one line and
``mlip-bench datasets list | grep cu-formate`` finds the row.
"""

from __future__ import annotations

import os
import sys

PIPE_WIDTH = 1000


def make_console(**kwargs):
    """A ``rich.console.Console``; not a terminal: ``width`` at least ``PIPE_WIDTH``."""
    from rich.console import Console

    if "width" not in kwargs and not kwargs.get("stderr") and not _is_terminal(sys.stdout):
        columns = os.environ.get("COLUMNS", "")
        kwargs["width"] = max(PIPE_WIDTH, int(columns) if columns.isdigit() else 0)
    return Console(**kwargs)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def print_json(payload) -> None:
    """``payload`` as indented JSON on stdout (``--json``): plain text, no rich markup or wrapping;
    NaN and infinities become ``null`` so that every JSON parser reads it."""
    import json
    import math

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value

    sys.stdout.write(json.dumps(clean(payload), indent=1, ensure_ascii=False, allow_nan=False) + "\n")
