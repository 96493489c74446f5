"""Typed errors. The CLI turns each into one line and a non-zero exit code."""

from __future__ import annotations


class MlipBenchError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the one-line message."""

    exit_code: int = 1


class ConfigError(MlipBenchError):
    """A config, card, sweep file or command-line option is invalid."""

    exit_code = 2


class DatasetError(MlipBenchError):
    """Unknown dataset, missing store, malformed data file."""

    exit_code = 3


class DownloadError(DatasetError):
    """A download failed (network, truncated archive, unsafe archive member)."""

    exit_code = 4


class ChecksumError(DownloadError):
    """A downloaded or mirrored file does not have the sha256 its card pins."""

    exit_code = 5


class ModelError(MlipBenchError):
    """Unknown model name or a model that cannot be built from its config."""

    exit_code = 6


class TrainingError(MlipBenchError):
    """Training diverged (NaN / exploding loss) or a checkpoint cannot be used."""

    exit_code = 7


class CheckpointError(TrainingError):
    """A checkpoint on disk cannot be used (corrupt, or written by a run with other inputs). The run
    itself did not fail, so no failed record is written: removing the file is the whole fix."""


class ResultsError(MlipBenchError):
    """A run record fails schema validation or would be overwritten."""

    exit_code = 8


def describe_validation_error(err) -> str:
    """``field 'a.b': message`` for the first problem of a pydantic ``ValidationError``, in words
    a user acts on: an unknown key says to check its spelling, a missing one that it is required."""
    first = err.errors()[0]
    loc = ".".join(str(x) for x in first["loc"]) or "(top level)"
    msg = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown field (check its spelling)"
    elif first["type"] == "missing":
        msg = "required field is missing"
    return f"field {loc!r}: {msg}"
