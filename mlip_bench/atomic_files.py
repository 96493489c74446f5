"""Atomic file writes: a temp file in the target's folder, fsync, then ``os.replace``.

A reader sees either the old file or the complete new one, never a half-written file; an
interrupted write leaves no temp file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomic(path: str | Path, write: Callable[[IO[Any]], None], binary: bool = False) -> Path:
    """Create or replace ``path`` with what ``write(handle)`` writes, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return write_atomic(path, lambda handle: handle.write(text))
