"""Demo data shipped inside the package (see README.md here for provenance and licence).

``EMBEDDED_STORES`` maps a variant name to a canonical store file; ``catalog.open_store`` falls
back to it when nothing was downloaded or imported for that variant.
"""

from __future__ import annotations

from pathlib import Path

from mlip_bench.paths import EMBEDDED_DIR

#: variant name -> embedded canonical store (1000 train + 1000 test rMD17 ethanol frames)
EMBEDDED_STORES: dict[str, Path] = {"rmd17/ethanol": EMBEDDED_DIR / "rmd17-ethanol.h5"}
