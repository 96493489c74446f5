"""Build the embedded demo store mlip_bench/embedded/rmd17-ethanol.h5 from the BOTNet rMD17 ethanol files.

Usage: python scripts/build_embedded.py [--data ../shared/data] [--out mlip_bench/embedded/rmd17-ethanol.h5]

Sources (davkovacs/BOTNet-datasets @ 29e6d467317e4b5967b7ea5cbee54de953fa0d45, MIT):
dataset_ethanol/train.xyz (1000 rMD17 ethanol frames, labelled "train") and
dataset_ethanol/test_MD.xyz (1000 other rMD17 ethanol frames, labelled "test"). Both are in eV
and eV/Å (PBE/def2-SVP, the rMD17 level of theory). Every frame is kept, in float64.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from mlip_bench.data.duplicates import duplicate_report
from mlip_bench.data.importers import read_imported_frames
from mlip_bench.data.store import Store, write_store

REPO = "davkovacs/BOTNet-datasets"
COMMIT = "29e6d467317e4b5967b7ea5cbee54de953fa0d45"
SOURCES = (
    ("ethanol_botnet/train.xyz", "dataset_ethanol/train.xyz", "train"),
    ("ethanol_botnet/test_MD.xyz", "dataset_ethanol/test_MD.xyz", "test"),
)
EXPECTED_SHA256 = {
    "dataset_ethanol/train.xyz": "a26a16d8910581fa321fedc3bd3dfe31f2460e8cbfdc7a8f65243f4fd7250dd0",
    "dataset_ethanol/test_MD.xyz": "b8726933d5b9083989d8e3cc7013c18e0950cf0cbc6f6cd570fdb9759001031c",
}


def build(data: Path, out: Path) -> Path:
    """Convert the two source files into the embedded store; returns its path."""
    frames, subsets, source_index, source_file, sha = [], [], [], [], {}
    for file_no, (local, upstream, label) in enumerate(SOURCES):
        path = data / local
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != EXPECTED_SHA256[upstream]:
            raise SystemExit(f"{path}: sha256 {digest} is not the pinned {EXPECTED_SHA256[upstream]}")
        sha[upstream] = digest
        for item in read_imported_frames(path, fmt="extxyz"):
            frames.append(item.frame)
            subsets.append(label)
            source_index.append(item.source_index)
            source_file.append(file_no)
    attrs = {
        "name": "rmd17/ethanol",
        "provenance": "embedded-subset",
        "source_sha256": sha,
        "source_files": [upstream for _, upstream, _ in SOURCES],
        "source_repository": f"https://github.com/{REPO}",
        "source_commit": COMMIT,
        "license": "MIT (BOTNet-datasets); configurations and labels from rMD17 (Christensen & von Lilienfeld 2020)",
        "card_version": None,
        "level_of_theory": "DFT PBE/def2-SVP (ORCA 4.2), the rMD17 level of theory",
        "source_units": {"energy": "eV", "length": "Angstrom", "forces": "eV/Angstrom"},
        "note": "1000 train + 1000 test rMD17 ethanol frames as published by BOTNet; not the full 100k rMD17 set",
    }
    from mlip_bench.data.duplicates import frame_fingerprint

    prints = [frame_fingerprint(f.positions, f.numbers) for f in frames]
    attrs["duplicates"] = duplicate_report(prints, subsets)
    write_store(
        out,
        frames,
        attrs,
        subsets=subsets,
        source_index=source_index,
        source_file=source_file,
        compression="gzip",
        compression_level=9,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=root / "mlip_bench" / "embedded" / "rmd17-ethanol.h5")
    args = parser.parse_args()
    path = build(args.data, args.out)
    store = Store(path)
    print(f"{path}: {store.n_frames} frames, {path.stat().st_size / 1e6:.2f} MB, sha256 {store.sha256}")
    print(
        f"duplicates: {store.attrs['duplicates']['n_groups']} groups, between subsets {store.attrs['duplicates']['between_subsets']}"
    )


if __name__ == "__main__":
    main()
