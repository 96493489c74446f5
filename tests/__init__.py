"""Tests of mlip-bench (a package, so helpers import as tests.<area>.<module>)."""
