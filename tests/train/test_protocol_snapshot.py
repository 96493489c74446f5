"""Every preset resolves, for both dataset kinds, to exactly the protocol it did when the snapshot
was taken: run fingerprints hash the dump, and sweeps resume from checkpoints by that hash."""

from __future__ import annotations

import json

import pytest

from mlip_bench.train.protocols import load_protocol
from tests.train.protocol_snapshot import KINDS, SNAPSHOT, fingerprint_part, tagged

EXPECTED = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
PRESETS = sorted({key.split("/")[0] for key in EXPECTED})


def test_the_snapshot_covers_every_shipped_preset():
    from mlip_bench.train.protocols import available_protocols

    assert PRESETS == available_protocols()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", PRESETS)
def test_a_preset_resolves_to_its_snapshot_value_for_value_and_type_for_type(name, kind):
    dump = load_protocol(name, kind).model_dump()
    expected = EXPECTED[f"{name}/{kind}"]
    assert tagged(dump) == expected["dump"]
    assert fingerprint_part(dump) == expected["sha256"]
