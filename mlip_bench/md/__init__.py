"""MD benchmarks of trained potentials: stability, observables against the reference data, speed.

``runner`` runs replicas and writes an :class:`~mlip_bench.results.md_schema.MDRecord`;
``stability`` holds the failure criteria; ``observables`` h(r), RDFs, MSD and diffusivity.
Definitions: docs/md.md.
"""
