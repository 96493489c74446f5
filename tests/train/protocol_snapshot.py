"""Type-exact snapshots of resolved protocols (``tests/train/protocol_presets.json``).

Run fingerprints hash ``load_protocol(name, kind).model_dump()``, so a preset must resolve to the
very same values, of the very same types (``steps_by_n_train`` keys are ints, ``betas`` a tuple),
whatever file format the presets live in. ``tagged`` writes a value with the type of every part;
``python -m tests.train.protocol_snapshot`` rewrites the snapshot (only for a deliberate change of
a preset: every run of that preset gets a new fingerprint).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).with_name("protocol_presets.json")
KINDS = ("molecule", "periodic")


def tagged(value: Any) -> Any:
    """``value`` as JSON that keeps each part's Python type (dict keys included)."""
    if isinstance(value, dict):
        return {"dict": [[tagged(k), tagged(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {type(value).__name__: [tagged(v) for v in value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {type(value).__name__: value}
    raise TypeError(f"no snapshot form for {type(value).__name__}")


def fingerprint_part(dump: dict[str, Any]) -> str:
    """The hash the run fingerprint makes of a protocol dump (train/harness.py ``_fingerprint``)."""
    return hashlib.sha256(json.dumps(dump, sort_keys=True, default=str).encode()).hexdigest()


def snapshot(names: list[str]) -> dict[str, Any]:
    from mlip_bench.train.protocols import load_protocol

    out: dict[str, Any] = {}
    for name in names:
        for kind in KINDS:
            dump = load_protocol(name, kind).model_dump()
            out[f"{name}/{kind}"] = {"dump": tagged(dump), "sha256": fingerprint_part(dump)}
    return out


if __name__ == "__main__":
    from mlip_bench.train.protocols import available_protocols

    SNAPSHOT.write_text(json.dumps(snapshot(available_protocols()), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
