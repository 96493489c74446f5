"""NequIP (Batzner et al. 2022) on e3nn; importing this module registers the ``nequip`` network."""

from mlip_bench.models.nequip.network import NequIPNetwork

__all__ = ["NequIPNetwork"]
