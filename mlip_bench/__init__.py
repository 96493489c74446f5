"""mlip-bench: checkable replication of machine-learning interatomic potential papers."""

from importlib.metadata import PackageNotFoundError, version

try:  # single source: the version in pyproject.toml, read from the installed package metadata
    __version__ = version("mlip-bench")
except PackageNotFoundError:  # pragma: no cover (running from a checkout that was never installed)
    __version__ = "0+unknown"

del PackageNotFoundError, version
