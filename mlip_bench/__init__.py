"""mlip-bench: checkable replication of machine-learning interatomic potential papers."""

__version__ = "0.1.0"
