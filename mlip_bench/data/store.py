"""Canonical HDF5 store: one file per dataset variant, in eV, Å and eV/Å.

Layout (schema version 1)::

    /positions     (n_atoms_total, 3) float64  Å
    /numbers       (n_atoms_total,)   uint8    atomic numbers
    /forces        (n_atoms_total, 3) float64  eV/Å
    /energy        (n_frames,)        float64  eV (total energy, never float32)
    /cell          (n_frames, 3, 3)   float64  Å (rows are lattice vectors)
    /pbc           (n_frames, 3)      bool
    /offsets       (n_frames + 1,)    int64    frame k owns atoms offsets[k]:offsets[k+1]
    /source_index  (n_frames,)        int64    index of the frame in its source file/archive
    /source_file   (n_frames,)        int32    index into attrs["source_files"] (-1: unknown)
    /fingerprint   (n_frames,)        S32      duplicate fingerprint (see ``duplicates.py``)
    /subset        (n_frames,)        S16      optional per-frame label ("train", "val", "test", "")
    /metadata      (bytes,)           uint8    UTF-8 JSON of the store attributes

Stores are written to a temporary file beside the target and renamed into place, so an
interrupted conversion never leaves a half-written store. Readers open the file lazily (once per
process) and read only the frames they are asked for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mlip_bench.data.duplicates import FINGERPRINT_LENGTH, frame_fingerprint
from mlip_bench.data.frame import Frame
from mlip_bench.errors import DatasetError

SCHEMA_VERSION: int = 1
STORE_UNITS: dict[str, str] = {"energy": "eV", "length": "Angstrom", "forces": "eV/Angstrom"}
SUBSET_LABELS: tuple[str, ...] = ("train", "val", "test")
#: an extra named test set: "test_" + letters/digits (e.g. 3BPA's "test_600K"), at most 16 bytes
EXTRA_TEST_LABEL = re.compile(r"^test_[A-Za-z0-9]{1,11}$")


def is_subset_label(label: str) -> bool:
    """True for train, val, test and extra named test sets (test_NAME)."""
    return label in SUBSET_LABELS or bool(EXTRA_TEST_LABEL.match(label))


_REQUIRED = ("positions", "numbers", "forces", "energy", "cell", "pbc", "offsets", "metadata")
_HASHED = ("n_atoms", "numbers", "positions", "energy", "forces", "cell", "pbc", "subset")
_MAX_SPAN_ATOMS = 1 << 20  # largest contiguous block of atoms read at once
_GAP_ATOMS = 4096  # frames closer than this (in atoms) are read in one slice


class _ContentHasher:
    """Streaming sha256 of the store arrays, independent of how frames were chunked."""

    def __init__(self) -> None:
        self._parts = {name: hashlib.sha256() for name in _HASHED}

    def update(self, name: str, array: np.ndarray) -> None:
        if array.dtype == bool:
            array = array.astype("u1")
        elif array.dtype.kind in "iu":
            array = array.astype("<i8")
        elif array.dtype.kind == "f":
            array = array.astype("<f8")
        self._parts[name].update(np.ascontiguousarray(array).tobytes())

    def hexdigest(self) -> str:
        total = hashlib.sha256()
        for name in _HASHED:
            total.update(f"{name}:{self._parts[name].hexdigest()}\n".encode())
        return total.hexdigest()


def validate_frame(frame: Frame, where: str, k: int) -> tuple[np.ndarray, ...]:
    """Arrays (positions, numbers, energy, forces, cell, pbc) of a checked frame.

    Raises ``DatasetError`` "WHERE, frame K: what is wrong" for missing forces, NaN/inf or wrong shapes.
    """
    prefix = f"{where}, frame {k}"
    try:
        positions = np.asarray(frame.positions, dtype=np.float64)
        numbers = np.asarray(frame.numbers)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{prefix}: positions/numbers are not numeric arrays ({exc})") from None
    if positions.ndim != 2 or positions.shape[1] != 3 or positions.shape[0] == 0:
        raise DatasetError(f"{prefix}: positions have shape {positions.shape}, expected (n_atoms, 3)")
    n = positions.shape[0]
    if numbers.shape != (n,):
        raise DatasetError(f"{prefix}: {numbers.shape} atomic numbers for {n} positions")
    if numbers.dtype.kind not in "iu" or numbers.min() < 1 or numbers.max() > 118:
        raise DatasetError(f"{prefix}: atomic numbers must be integers in 1..118")
    if not np.all(np.isfinite(positions)):
        raise DatasetError(f"{prefix}: positions contain NaN or inf")
    try:
        energy = float(frame.energy)
    except (TypeError, ValueError):
        raise DatasetError(f"{prefix}: energy {frame.energy!r} is not a number") from None
    if not np.isfinite(energy):
        raise DatasetError(f"{prefix}: energy is missing, NaN or inf; every frame needs a total energy (eV)")
    if frame.forces is None:
        raise DatasetError(f"{prefix}: forces missing; every frame needs forces (eV/Å)")
    forces = np.asarray(frame.forces, dtype=np.float64)
    if forces.shape != (n, 3):
        raise DatasetError(f"{prefix}: forces have shape {forces.shape}, expected ({n}, 3)")
    if not np.all(np.isfinite(forces)):
        raise DatasetError(f"{prefix}: forces contain NaN or inf")
    cell = np.asarray(frame.cell, dtype=np.float64)
    if cell.shape != (3, 3) or not np.all(np.isfinite(cell)):
        raise DatasetError(f"{prefix}: cell must be a finite (3, 3) matrix in Å, got shape {cell.shape}")
    pbc = np.asarray(frame.pbc, dtype=bool)
    if pbc.shape != (3,):
        raise DatasetError(f"{prefix}: pbc must have 3 entries, got shape {pbc.shape}")
    if pbc.any() and abs(np.linalg.det(cell)) < 1e-8:
        raise DatasetError(f"{prefix}: periodic frame with a degenerate cell (volume 0)")
    return positions, numbers.astype(np.int64), energy, forces, cell, pbc


def _json_ready(value: Any) -> Any:
    """Convert numpy scalars/arrays (and Paths) inside attrs to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def write_store(
    path: str | Path,
    frames: Iterable[Frame],
    attrs: dict,
    *,
    subsets: Sequence[str] | None = None,
    source_index: Sequence[int] | None = None,
    source_file: Sequence[int] | None = None,
    compression: str | None = "gzip",
    compression_level: int = 4,
    chunk_frames: int = 2048,
) -> Path:
    """Write ``frames`` (eV, Å, eV/Å) to an HDF5 store at ``path`` atomically; return the path.

    ``attrs`` must give ``name`` and ``provenance`` ("download", "imported", "imported-subset",
    "embedded-subset"); usual further keys: ``source_sha256`` ({file: sha256}), ``card_version``,
    ``level_of_theory``, ``source_files`` (list, indexed by ``source_file``), ``official_splits``
    ({name: {"train": [...], "test": [...]}}, store frame indices) and ``duplicates`` (report).
    Per-frame ``subsets`` labels and ``source_index`` may be given as keywords or as attrs keys
    (``subsets``/``subset``, ``source_index``, ``source_file``). ``units``, ``schema_version``,
    ``n_frames``, ``species`` and ``content_sha256`` are set here.

    Raises ``DatasetError`` naming the file and frame for NaN/inf, wrong shapes or missing forces;
    on any error the target is left untouched and the temporary file removed. One writer per
    store: ``DatasetError`` when another process holds its write lock (:func:`store_write_lock`).
    """
    path = Path(path)
    attrs = dict(attrs)
    if subsets is None:
        subsets = attrs.pop("subsets", None)
        if subsets is None:
            subsets = attrs.pop("subset", None)
    if source_index is None:
        source_index = attrs.pop("source_index", None)
    if source_file is None:
        source_file = attrs.pop("source_file", None)
    for key in ("name", "provenance"):
        if not attrs.get(key):
            raise DatasetError(f"{path}: store attrs need {key!r}")
    if subsets is not None:
        subsets = [str(s) if s is not None else "" for s in subsets]
        bad = sorted({s for s in subsets if s and not is_subset_label(s)})
        if bad:
            raise DatasetError(f"{path}: unknown subset labels {bad}; use {', '.join(SUBSET_LABELS)}, test_NAME or ''")
        if not any(subsets):
            subsets = None

    path.parent.mkdir(parents=True, exist_ok=True)
    with store_write_lock(path):
        return _write_store_file(
            path, frames, attrs, subsets, source_index, source_file, compression, compression_level, chunk_frames
        )


def store_write_lock_path(path: Path) -> Path:
    """``.<store>.lock`` beside the store while it is being written (removed by its writer)."""
    return Path(path).parent / f".{Path(path).name}.lock"


@contextlib.contextmanager
def store_write_lock(path: Path) -> Iterator[None]:
    """Hold the write lock of the store at ``path``; ``DatasetError`` (one line) when another process
    (a download or an import of the same name) is writing it. Released when the holder exits."""
    from mlip_bench.results.run_lock import RunLock

    lock = RunLock.on_file(store_write_lock_path(path), transient=True)
    try:
        acquired = lock.acquire(blocking=False)
    except OSError:  # a file system without locks: the write is still atomic, only unguarded
        yield
        return
    if not acquired:
        raise DatasetError(
            f"{path} is being written by another process (pid {lock.holder()}); "
            "wait for it to finish, then run the command again"
        )
    try:
        yield
    finally:
        lock.release()


def _write_store_file(
    path: Path,
    frames: Iterable[Frame],
    attrs: dict,
    subsets: Sequence[str] | None,
    source_index: Sequence[int] | None,
    source_file: Sequence[int] | None,
    compression: str | None,
    compression_level: int,
    chunk_frames: int,
) -> Path:
    """The body of :func:`write_store`, under the store's write lock."""
    import h5py

    _remove_stale_temporaries(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    filters: dict[str, Any] = {}
    if compression:
        filters = {"compression": compression, "shuffle": True}
        if compression == "gzip":
            filters["compression_opts"] = int(compression_level)
    try:
        with h5py.File(tmp, "w") as h5:
            n_frames, n_atoms_total, species, content = _write_arrays(
                h5, path, frames, subsets, source_index, source_file, filters, chunk_frames
            )
            meta = {k: _json_ready(v) for k, v in attrs.items()}
            meta.update(
                schema_version=SCHEMA_VERSION,
                units=dict(STORE_UNITS),
                n_frames=n_frames,
                n_atoms_total=n_atoms_total,
                species=species,
                content_sha256=content,
                has_subsets=subsets is not None,
            )
            meta.setdefault("source_sha256", {})
            meta.setdefault("card_version", None)
            meta.setdefault("level_of_theory", None)
            blob = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
            h5.create_dataset("metadata", data=blob)
            for key in ("schema_version", "name", "provenance", "content_sha256"):
                h5.attrs[key] = meta[key]
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``.<store>.<pid>.tmp`` files beside ``path`` left by processes that were killed."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 : -len(".tmp")]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # its writer is alive
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (PermissionError, OSError):
            continue


def _write_arrays(h5, path, frames, subsets, source_index, source_file, filters, chunk_frames):
    """Stream frames into resizable datasets; return (n_frames, n_atoms, species, content sha256)."""

    def make(name, shape, dtype, chunk):
        return h5.create_dataset(
            name, shape=(0, *shape), maxshape=(None, *shape), dtype=dtype, chunks=(chunk, *shape), **filters
        )

    atom_chunk = 16384
    ds = {
        "positions": make("positions", (3,), "<f8", atom_chunk),
        "numbers": make("numbers", (), "u1", atom_chunk),
        "forces": make("forces", (3,), "<f8", atom_chunk),
        "energy": make("energy", (), "<f8", chunk_frames),
        "cell": make("cell", (3, 3), "<f8", chunk_frames),
        "pbc": make("pbc", (3,), "bool", chunk_frames),
        "fingerprint": make("fingerprint", (), f"S{FINGERPRINT_LENGTH}", chunk_frames),
    }
    hasher = _ContentHasher()
    n_atoms: list[int] = []
    species: set[int] = set()
    buffers: dict[str, list] = {name: [] for name in ds}

    def flush() -> None:
        for name, items in buffers.items():
            if not items:
                continue
            if name in ("positions", "numbers", "forces"):
                block = np.concatenate(items)
            else:
                block = np.asarray(items)
            dset = ds[name]
            start = dset.shape[0]
            dset.resize(start + len(block), axis=0)
            dset[start:] = block
            if name != "fingerprint":
                hasher.update(name, block)
            items.clear()

    k = -1
    for k, frame in enumerate(frames):
        positions, numbers, energy, forces, cell, pbc = validate_frame(frame, str(path), k)
        buffers["positions"].append(positions)
        buffers["numbers"].append(numbers.astype(np.uint8))
        buffers["forces"].append(forces)
        buffers["energy"].append(energy)
        buffers["cell"].append(cell)
        buffers["pbc"].append(pbc)
        buffers["fingerprint"].append(frame_fingerprint(positions, numbers).encode("ascii"))
        n_atoms.append(len(numbers))
        species.update(int(z) for z in np.unique(numbers))
        if len(buffers["energy"]) >= chunk_frames:
            flush()
    flush()
    n_frames = k + 1
    if n_frames == 0:
        raise DatasetError(f"{path}: no frames to write")
    counts = np.asarray(n_atoms, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    h5.create_dataset("offsets", data=offsets)
    hasher.update("n_atoms", counts)

    def per_frame(values, name, dtype, default):
        if values is None:
            return default
        array = np.asarray(values, dtype=dtype)
        if array.shape != (n_frames,):
            raise DatasetError(f"{path}: {name} has {array.size} entries for {n_frames} frames")
        return array

    index = per_frame(source_index, "source_index", np.int64, np.arange(n_frames, dtype=np.int64))
    files = per_frame(source_file, "source_file", np.int32, np.full(n_frames, -1, dtype=np.int32))
    h5.create_dataset("source_index", data=index, **filters)
    h5.create_dataset("source_file", data=files, **filters)
    if subsets is not None:
        labels = per_frame(subsets, "subsets", "S16", None)
        h5.create_dataset("subset", data=labels, **filters)
        hasher.update("subset", np.frombuffer(b"\n".join(labels.tolist()), dtype=np.uint8))
    return n_frames, int(offsets[-1]), sorted(species), hasher.hexdigest()


class Store:
    """Read access to a canonical store; reads only the frames asked for.

    Attributes: ``path``, ``n_frames``, ``attrs`` (dict), ``sha256`` (content hash of the arrays),
    ``species`` (sorted atomic numbers), ``n_atoms`` (per-frame atom counts), ``subsets``
    (per-frame labels or None), ``source_index``, ``fingerprints``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._h5 = None
        self._pid = None
        if not self.path.is_file():
            raise DatasetError(f"{self.path}: store not found; run `mlip-bench download` or `mlip-bench import`")
        h5 = self._file()
        missing = [name for name in _REQUIRED if name not in h5]
        if missing:
            raise DatasetError(
                f"{self.path}: not a complete mlip-bench store (missing {', '.join(missing)}); "
                "delete it and download/import again"
            )
        try:
            self._meta = json.loads(bytes(h5["metadata"][()]).decode("utf-8"))
            self._offsets = np.asarray(h5["offsets"][()], dtype=np.int64)
        except (OSError, ValueError, KeyError) as exc:
            raise DatasetError(f"{self.path}: store is corrupt ({exc}); delete it and download/import again") from None
        version = self._meta.get("schema_version")
        if version != SCHEMA_VERSION:
            raise DatasetError(
                f"{self.path}: store schema version {version}, this mlip-bench reads {SCHEMA_VERSION}; "
                "re-import or re-download it"
            )
        n = len(self._offsets) - 1
        if (
            n != self._meta.get("n_frames")
            or h5["energy"].shape[0] != n
            or h5["positions"].shape[0] != self._offsets[-1]
            or h5["forces"].shape[0] != self._offsets[-1]
        ):
            raise DatasetError(f"{self.path}: store arrays disagree in length (truncated?); delete it and import again")

    # -- file handle ---------------------------------------------------------------------------
    def _file(self):
        import h5py

        if self._h5 is None or self._pid != os.getpid():
            try:
                try:
                    self._h5 = h5py.File(self.path, "r")
                except OSError as exc:  # file systems without locks (NFS, read-only media)
                    if "lock" not in str(exc).lower():
                        raise
                    self._h5 = h5py.File(self.path, "r", locking=False)
            except OSError as exc:
                raise DatasetError(
                    f"{self.path}: cannot read store ({str(exc).splitlines()[0]}); "
                    "the file is truncated or corrupt, delete it and download/import again"
                ) from None
            self._pid = os.getpid()
        return self._h5

    def _read(self, name: str, selection) -> np.ndarray:
        try:
            return self._file()[name][selection]
        except (OSError, KeyError) as exc:
            raise DatasetError(
                f"{self.path}: cannot read {name!r} ({str(exc).splitlines()[0]}); store is corrupt, import it again"
            ) from None

    def close(self) -> None:
        """Close the HDF5 handle (it reopens on the next read)."""
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5 = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:  # picklable for data-loader workers: the handle reopens
        state = dict(self.__dict__)
        state["_h5"] = None
        state["_pid"] = None
        return state

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r}, name={self.attrs.get('name')!r}, n_frames={self.n_frames})"

    # -- metadata ------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return len(self._offsets) - 1

    def __len__(self) -> int:
        return self.n_frames

    @property
    def attrs(self) -> dict:
        """Store attributes (a copy): schema_version, name, units, provenance, source_sha256, ..."""
        return json.loads(json.dumps(self._meta))

    @property
    def name(self) -> str:
        return str(self._meta.get("name"))

    @property
    def sha256(self) -> str:
        """Content hash (sha256) of the arrays, recorded at write time; see :meth:`verify`."""
        return str(self._meta["content_sha256"])

    @property
    def species(self) -> np.ndarray:
        """Sorted atomic numbers present in the store."""
        return np.asarray(self._meta["species"], dtype=np.int64)

    @property
    def n_atoms(self) -> np.ndarray:
        """Atoms per frame, (n_frames,) int64."""
        return np.diff(self._offsets)

    @property
    def subsets(self) -> np.ndarray | None:
        """Per-frame labels ("train", "val", "test", "test_NAME" or "") from imported split files, else None."""
        if "subset" not in self._file():
            return None
        return np.asarray([s.decode("ascii") for s in self._read("subset", slice(None))], dtype=object)

    @property
    def source_index(self) -> np.ndarray:
        """Index of each frame in its source file or archive, (n_frames,) int64."""
        return np.asarray(self._read("source_index", slice(None)), dtype=np.int64)

    @property
    def source_file(self) -> np.ndarray:
        """Per-frame index into ``attrs["source_files"]`` (-1 when unknown), (n_frames,) int64."""
        if "source_file" not in self._file():
            return np.full(self.n_frames, -1, dtype=np.int64)
        return np.asarray(self._read("source_file", slice(None)), dtype=np.int64)

    @property
    def fingerprints(self) -> list[str]:
        """Per-frame duplicate fingerprints (species + positions rounded to 1e-6 Å)."""
        return [f.decode("ascii") for f in self._read("fingerprint", slice(None))]

    def energies(self) -> np.ndarray:
        """All total energies, (n_frames,) float64 eV (cheap: one small dataset)."""
        return np.asarray(self._read("energy", slice(None)), dtype=np.float64)

    # -- frames --------------------------------------------------------------------------------
    def frame(self, i: int) -> Frame:
        """Frame ``i`` (eV, Å, eV/Å)."""
        return self.frames([i])[0]

    def frames(self, indices: Iterable[int]) -> list[Frame]:
        """The frames at ``indices``, in that order; reads only the blocks that hold them."""
        idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, dtype=np.int64)
        if idx.size == 0:
            return []
        if idx.ndim != 1 or idx.min() < 0 or idx.max() >= self.n_frames:
            raise DatasetError(f"{self.path}: frame indices must lie in 0..{self.n_frames - 1}")
        wanted = np.unique(idx)
        built: dict[int, Frame] = {}
        for block in self._blocks(wanted):
            built.update(self._read_block(block))
        return [built[int(i)] for i in idx]

    def iter_frames(self, chunk: int = 1024) -> Iterator[Frame]:
        """All frames in order, read ``chunk`` frames at a time."""
        for start in range(0, self.n_frames, chunk):
            yield from self.frames(range(start, min(start + chunk, self.n_frames)))

    def __iter__(self) -> Iterator[Frame]:
        return self.iter_frames()

    def _blocks(self, wanted: np.ndarray) -> list[np.ndarray]:
        """Group sorted frame indices into runs that are cheap to read as one slice."""
        blocks: list[list[int]] = [[int(wanted[0])]]
        for i in wanted[1:]:
            i = int(i)
            first = blocks[-1][0]
            gap = self._offsets[i] - self._offsets[blocks[-1][-1] + 1]
            span = self._offsets[i + 1] - self._offsets[first]
            if gap <= _GAP_ATOMS and span <= _MAX_SPAN_ATOMS:
                blocks[-1].append(i)
            else:
                blocks.append([i])
        return [np.asarray(b, dtype=np.int64) for b in blocks]

    def _read_block(self, block: np.ndarray) -> dict[int, Frame]:
        first, last = int(block[0]), int(block[-1])
        a0, a1 = int(self._offsets[first]), int(self._offsets[last + 1])
        positions = self._read("positions", slice(a0, a1))
        numbers = self._read("numbers", slice(a0, a1))
        forces = self._read("forces", slice(a0, a1))
        energy = self._read("energy", slice(first, last + 1))
        cell = self._read("cell", slice(first, last + 1))
        pbc = self._read("pbc", slice(first, last + 1))
        out: dict[int, Frame] = {}
        for i in block:
            i = int(i)
            s, e = int(self._offsets[i]) - a0, int(self._offsets[i + 1]) - a0
            out[i] = Frame(
                positions=np.array(positions[s:e], dtype=np.float64),
                numbers=np.array(numbers[s:e], dtype=np.int64),
                energy=float(energy[i - first]),
                forces=np.array(forces[s:e], dtype=np.float64),
                cell=np.array(cell[i - first], dtype=np.float64),
                pbc=np.array(pbc[i - first], dtype=bool),
                index=i,
            )
        return out

    def verify(self, every_chunk: bool = False) -> bool:
        """Recompute the content hash from the arrays (streamed); True when it matches ``sha256``.

        ``every_chunk`` also reads the datasets outside the hash (fingerprints, provenance indices,
        metadata), so a corrupt compressed chunk anywhere raises ``DatasetError``."""
        if every_chunk:
            for name in ("fingerprint", "source_index", "source_file", "metadata"):
                if name in self._file():
                    self._read(name, slice(None))
        hasher = _ContentHasher()
        hasher.update("n_atoms", self.n_atoms)
        n_total = int(self._offsets[-1])
        step = 1 << 18
        for name in ("numbers", "positions"):
            for s in range(0, n_total, step):
                hasher.update(name, self._read(name, slice(s, min(s + step, n_total))))
        hasher.update("energy", self._read("energy", slice(None)))
        for s in range(0, n_total, step):
            hasher.update("forces", self._read("forces", slice(s, min(s + step, n_total))))
        hasher.update("cell", self._read("cell", slice(None)))
        hasher.update("pbc", self._read("pbc", slice(None)))
        if "subset" in self._file():
            labels = self._read("subset", slice(None))
            hasher.update("subset", np.frombuffer(b"\n".join(labels.tolist()), dtype=np.uint8))
        return hasher.hexdigest() == self.sha256


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def is_hdf5_file(path: str | Path) -> bool:
    """True when ``path`` starts with the HDF5 signature (at byte 0, 512, 1024, ... as HDF5 allows)."""
    try:
        with open(path, "rb") as handle:
            for offset in (0, 512, 1024, 2048, 4096):
                handle.seek(offset)
                if handle.read(8) == _HDF5_SIGNATURE:
                    return True
    except OSError:
        return False
    return False


def _verification_record(path: Path, cache_dir: Path) -> Path:
    """``<cache_dir>/<sha256 of the store's absolute path>.json``: where a successful check is remembered."""
    key = hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]
    return Path(cache_dir) / f"{key}.json"


def _file_identity(path: Path) -> dict:
    st = path.stat()
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def check_store_integrity(store: Store, cache_dir: str | Path | None = None, every_chunk: bool = False) -> None:
    """``DatasetError`` (one line) unless the arrays of ``store`` still hash to its recorded
    content sha256: a store edited in place, or with corrupt chunks, is refused.

    The full check reads the whole store, so with ``cache_dir`` a success is remembered there
    (one small JSON file per store) keyed by the file's path, size, mtime and inode and its
    content hash; while those are unchanged the check costs one ``stat``. ``every_chunk`` also
    reads the datasets outside the hash and ignores the cache.
    """
    path = store.path
    record = _verification_record(path, Path(cache_dir)) if cache_dir is not None else None
    identity = dict(_file_identity(path), content_sha256=store.sha256)
    if record is not None and not every_chunk:
        try:
            if json.loads(record.read_text()) == identity:
                return
        except (OSError, ValueError):
            pass
    if not store.verify(every_chunk=every_chunk):
        if record is not None:
            try:
                record.unlink(missing_ok=True)
            except OSError:
                pass
        raise DatasetError(
            f"{path}: the store's arrays no longer match its recorded content sha256 {store.sha256[:16]}... "
            "(changed after it was written); delete it and download/import it again"
        )
    if record is not None:
        from mlip_bench.atomic_files import write_text_atomic

        try:
            write_text_atomic(json.dumps(identity, sort_keys=True) + "\n", record)
        except OSError:  # a read-only cache: check again next time
            pass
