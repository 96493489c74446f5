"""Verified downloads of the official dataset files.

A file is streamed to ``<root>/downloads/<name>.part`` (with a progress bar), its sha256 is
checked against the card (a full hash or a published prefix) or against the hash recorded in
``<root>/pins.json`` and only then renamed to ``<name>``. An unpinned file's hash is recorded
only after the file has converted into a store; a file that fails to extract or convert is
deleted with its recorded hash, so the next run downloads it again instead of reusing it. A ``.part`` left by an interrupted
download is resumed with an HTTP ``Range`` request when the server allows it. A mirror (a local
directory or a base URL holding the official files under their card file names) replaces the
official URLs: ``--mirror`` or ``$MLIP_BENCH_MIRROR``.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from mlip_bench.atomic_files import write_text_atomic
from mlip_bench.data.cards import DatasetCard, SourceFile
from mlip_bench.data.catalog import data_root, downloads_dir
from mlip_bench.errors import ChecksumError, DownloadError, MlipBenchError
from mlip_bench.interrupts import interruptible, raise_if_interrupted
from mlip_bench.progress_bar import ProgressBar

MIRROR_ENV = "MLIP_BENCH_MIRROR"
#: scratch folders for extraction: ``<root>/downloads/.extract-<pid>-XXXX``
EXTRACT_PREFIX = ".extract-"
#: extraction may write at most this many times the archive's size (plus EXTRACT_FLOOR_BYTES) ...
EXTRACT_RATIO = 50
EXTRACT_FLOOR_BYTES = 256 << 20
#: ... and never more than this (bytes; ``$MLIP_BENCH_MAX_EXTRACT_BYTES`` overrides it)
EXTRACT_MAX_ENV = "MLIP_BENCH_MAX_EXTRACT_BYTES"
EXTRACT_MAX_BYTES = 64 << 30
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0
USER_AGENT = "mlip-bench (dataset download)"

Warn = Callable[[str], None]


def _default_warn(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


class UnreachableError(DownloadError):
    """No source of a file could be reached (no network, unknown host, refused, timed out)."""


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_file` did. ``pinned``: the card (or pins.json) gave the expected hash."""

    path: Path
    sha256: str
    source: str
    pinned: bool
    downloaded: bool
    resumed_from: int = 0


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


# -- pins.json ---------------------------------------------------------------------------------


def pins_path(root: str | os.PathLike[str] | None = None) -> Path:
    return data_root(root) / "pins.json"


def load_pins(root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """{"<card>/<file name>": sha256} recorded on first downloads of unpinned files."""
    path = pins_path(root)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        raise DownloadError(f"{path} is not valid JSON; fix or delete it (it only caches recorded hashes)") from None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(json.dumps(data, indent=2, sort_keys=True) + "\n", path)


def record_pin(key: str, sha256: str, root: str | os.PathLike[str] | None = None) -> None:
    """Record ``sha256`` for ``key`` in pins.json (atomically)."""
    pins = load_pins(root)
    pins[key] = sha256
    _write_json_atomic(pins_path(root), pins)


def forget_pin(key: str, root: str | os.PathLike[str] | None = None) -> None:
    """Drop a recorded hash (used when a file that was recorded turns out to be corrupt)."""
    pins = load_pins(root)
    if pins.pop(key, None) is not None:
        _write_json_atomic(pins_path(root), pins)


def hash_matches(actual: str, expected: str) -> bool:
    """True when sha256 ``actual`` is ``expected`` or starts with it (a card may pin a published prefix)."""
    return actual == expected or (12 <= len(expected) < 64 and actual.startswith(expected))


def _describe_expected(expected: str) -> str:
    return expected if len(expected) == 64 else f"a sha256 starting with {expected}"


def pin_key(card: DatasetCard, file: SourceFile) -> str:
    return f"{card.name}/{file.name}"


def expected_sha256(card: DatasetCard, file: SourceFile, root: str | os.PathLike[str] | None = None) -> str | None:
    """The card's sha256, else the one recorded on the first download, else None."""
    return file.sha256 or load_pins(root).get(pin_key(card, file))


# -- sources -----------------------------------------------------------------------------------


def resolve_mirror(mirror: str | None) -> str | None:
    """``mirror`` or ``$MLIP_BENCH_MIRROR`` (empty means none)."""
    value = mirror if mirror else os.environ.get(MIRROR_ENV, "")
    return value.strip() or None


def _is_url(text: str) -> bool:
    return urllib.parse.urlparse(text).scheme in ("http", "https", "file")


def candidate_sources(file: SourceFile, mirror: str | None) -> list[str]:
    """Where to fetch ``file`` from: the mirror only when one is set, else URL then alternates."""
    if mirror:
        if _is_url(mirror):
            return [mirror.rstrip("/") + "/" + urllib.parse.quote(file.name)]
        directory = Path(mirror).expanduser()
        if not directory.is_dir():
            raise DownloadError(f"mirror {mirror!r} is neither a directory nor an http(s) URL")
        return [str(directory / file.name)]
    return [file.url, *file.alternates]


def _open_source(source: str, offset: int) -> tuple[BinaryIO, int | None, int]:
    """Open ``source`` from byte ``offset`` if it allows it. Returns (stream, total size or None,
    offset actually honoured: 0 when the server ignored the range)."""
    if not _is_url(source):
        path = Path(source)
        if not path.is_file():
            raise DownloadError(f"mirror has no file {path.name!r} (looked for {path})")
        handle = open(path, "rb")
        size = path.stat().st_size
        start = offset if 0 < offset <= size else 0
        handle.seek(start)
        return handle, size, start
    request = urllib.request.Request(source, headers={"User-Agent": USER_AGENT})
    if offset > 0:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)  # noqa: S310 (http/https only)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset > 0:  # the partial file is not a prefix we can extend
            return _open_source(source, 0)
        raise DownloadError(f"{source}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreachableError(f"{source}: cannot connect ({reason}); use --mirror DIR_OR_URL offline") from None
    length = response.headers.get("Content-Length")
    if response.status == 206 and offset > 0:
        content_range = response.headers.get("Content-Range", "")
        try:
            start = int(content_range.split()[1].split("-")[0])
            total = int(content_range.split("/")[1])
        except (IndexError, ValueError):
            start, total = -1, None
        if start != offset:
            response.close()
            return _open_source(source, 0)
        return response, total, offset
    total = int(length) if length and length.isdigit() else None
    return response, total, 0


def _stream_to_part(source: str, part: Path, label: str, progress: bool) -> int:
    """Append/write ``source`` into ``part``; return the byte offset resumed from."""
    offset = part.stat().st_size if part.is_file() else 0
    stream, total, start = _open_source(source, offset)
    mode = "ab" if start > 0 else "wb"
    written = start
    try:
        with (
            stream,
            open(part, mode) as out,
            ProgressBar(progress, total, label, unit="bytes", transient=True, completed=start) as bar,
            interruptible(),  # Ctrl-C ends a read from a stalled server even if its first raise was dropped
        ):
            while True:
                raise_if_interrupted()
                try:
                    block = stream.read(_CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as exc:
                    raise DownloadError(
                        f"{source}: connection lost after {written} bytes ({exc}); rerun to resume"
                    ) from None
                if not block:
                    break
                out.write(block)
                written += len(block)
                bar.update(written)
    except DownloadError:
        raise
    except OSError as exc:
        raise DownloadError(f"cannot write {part}: {exc}") from None
    if total is not None and written < total:
        raise DownloadError(
            f"{source}: connection closed after {written} of {total} bytes; rerun the same command to resume"
        )
    return start


def fetch_file(
    card: DatasetCard,
    file: SourceFile,
    root: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    force: bool = False,
    progress: bool = True,
    warn: Warn | None = None,
) -> FetchResult:
    """Make ``<root>/downloads/<file.name>`` a verified copy of an official file.

    An existing file whose hash matches is kept (no download) unless ``force``. The new copy goes
    to ``<name>.part`` (resumed by HTTP Range when possible), is checked against the card's
    sha256 / size (or the hash recorded in pins.json) and renamed. On a mismatch the ``.part`` is
    deleted, any earlier good file is kept, and ``ChecksumError`` is raised. The hash of an
    unpinned file is not recorded here: :func:`confirm_download` records it once the file has
    converted (and :func:`discard_download` deletes a file that did not).
    """
    warn = warn or _default_warn
    mirror = resolve_mirror(mirror)
    expected = expected_sha256(card, file, root)
    dest = downloads_dir(root) / file.name
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)

    if dest.is_file() and not force:
        actual = sha256_file(dest)
        if expected is None:  # an earlier download that never converted: try it, pin it only if it does
            return FetchResult(dest, actual, str(dest), pinned=False, downloaded=False)
        if hash_matches(actual, expected):
            return FetchResult(dest, actual, str(dest), pinned=True, downloaded=False)
        warn(f"{dest} has sha256 {actual}, expected {_describe_expected(expected)}; downloading it again")

    errors: list[str] = []
    unreachable = True
    for source in candidate_sources(file, mirror):
        try:
            resumed = _stream_to_part(source, part, file.name, progress)
        except ChecksumError:
            raise
        except DownloadError as exc:
            errors.append(str(exc))
            unreachable = unreachable and isinstance(exc, UnreachableError)
            continue
        actual = sha256_file(part)
        size = part.stat().st_size
        problem = None
        if expected is not None and not hash_matches(actual, expected):
            problem = f"sha256 {actual}, expected {_describe_expected(expected)}"
        elif file.size is not None and size != file.size:
            problem = f"{size} bytes, the card says {file.size}"
        if problem:
            part.unlink(missing_ok=True)
            kept = f"; the earlier good {dest.name} was kept" if dest.is_file() else ""
            raise ChecksumError(
                f"{file.name} from {source} has {problem}; deleted the partial file{kept}. "
                "Check the mirror / URL, then rerun"
            )
        os.replace(part, dest)
        return FetchResult(dest, actual, source, pinned=expected is not None, downloaded=True, resumed_from=resumed)
    error = UnreachableError if unreachable and errors else DownloadError
    raise error(f"could not download {file.name}: " + " | ".join(errors))


def confirm_download(
    card: DatasetCard,
    file: SourceFile,
    fetched: FetchResult,
    root: str | os.PathLike[str] | None = None,
    warn: Warn | None = None,
) -> None:
    """Record the hash of an unpinned file that has converted successfully (with a warning)."""
    if fetched.pinned:
        return
    record_pin(pin_key(card, file), fetched.sha256, root)
    (warn or _default_warn)(
        f"{file.name} is not pinned on the {card.name} card; recorded sha256 {fetched.sha256} "
        f"in {pins_path(root)} (compare it with a trusted copy)"
    )


def discard_download(card: DatasetCard, file: SourceFile, root: str | os.PathLike[str] | None = None) -> None:
    """Delete a downloaded file that turned out unusable, and its recorded (not card) pin."""
    (downloads_dir(root) / file.name).unlink(missing_ok=True)
    if file.sha256 is None:
        forget_pin(pin_key(card, file), root)


def _discarded(card: DatasetCard, file: SourceFile, fetched: FetchResult, err: MlipBenchError) -> MlipBenchError:
    """``err`` (same type) saying that the unusable, unpinned download was deleted with its recorded hash."""
    text = str(err)
    if file.name not in text:
        text = f"{file.name}: {text}"
    return type(err)(
        f"{text}; deleted {file.name} (from {fetched.source}) and its recorded hash, "
        "so the next run downloads it again (check the mirror / URL)"
    )


def extraction_cap(archive: str | os.PathLike[str]) -> int:
    """Most bytes an extraction of ``archive`` may write: EXTRACT_RATIO times its size plus
    EXTRACT_FLOOR_BYTES, at most EXTRACT_MAX_BYTES (or ``$MLIP_BENCH_MAX_EXTRACT_BYTES``). The
    official archives expand far less (rMD17's tar.bz2 about 2x); a zip bomb is stopped early."""
    ceiling = EXTRACT_MAX_BYTES
    env = os.environ.get(EXTRACT_MAX_ENV, "").strip()
    if env:
        try:
            ceiling = int(float(env))
        except ValueError:
            raise DownloadError(f"${EXTRACT_MAX_ENV}={env!r} is not a number of bytes") from None
    return min(ceiling, EXTRACT_RATIO * Path(archive).stat().st_size + EXTRACT_FLOOR_BYTES)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _owner_pid(name: str) -> int | None:
    """The process id written into a temporary name (``.extract-<pid>-...``, ``.X.h5.<pid>.tmp``)."""
    import re

    match = re.match(rf"^{re.escape(EXTRACT_PREFIX)}(\d+)-", name) or re.match(r"^\..+\.h5\.(\d+)\.tmp$", name)
    return int(match.group(1)) if match else None


def clean_stale_temporaries(root: str | os.PathLike[str] | None = None, min_age_s: float = 3600.0) -> list[Path]:
    """Delete temporaries left by killed processes: ``downloads/.extract-*`` folders and
    ``stores/**/.*.h5.<pid>.tmp`` files whose owner process is gone (a name without a process id
    only when older than ``min_age_s``). Returns what was removed."""
    import time

    base = data_root(root)
    candidates = list((base / "downloads").glob(f"{EXTRACT_PREFIX}*")) if (base / "downloads").is_dir() else []
    if (base / "stores").is_dir():
        candidates += [p for p in (base / "stores").rglob(".*.h5.*.tmp") if _owner_pid(p.name) is not None]
    removed = []
    for path in candidates:
        pid = _owner_pid(path.name)
        try:
            stale = (not _pid_alive(pid)) if pid is not None else time.time() - path.stat().st_mtime > min_age_s
        except OSError:
            continue
        if not stale or pid == os.getpid():
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


# -- the whole download path -------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadOutcome:
    """Result of downloading one variant. ``skipped``: the store was already complete."""

    variant: str
    store: Path
    skipped: bool
    fetch: FetchResult | None = None
    reason: str = ""


@dataclass(frozen=True)
class DatasetDownload:
    """Result of :func:`download_dataset`: what is local now, what failed, what was left out."""

    dataset: str
    outcomes: list[DownloadOutcome]
    #: (variant, error) for each variant whose file could not be fetched or converted
    failures: list[tuple[str, MlipBenchError]]
    #: extra variants not asked for (e.g. md17's CCSD sets without ``extras``)
    left_out: list[str]


def _existing_store(path: Path, warn: Warn) -> "dict | None":
    """attrs of a complete store at ``path``, None when absent or unreadable (then it is redone)."""
    if not path.is_file():
        return None
    from mlip_bench.data.store import Store
    from mlip_bench.errors import DatasetError

    try:
        store = Store(path)
        try:
            return dict(store.attrs)
        finally:
            store.close()
    except DatasetError as exc:
        warn(f"{path} is incomplete ({exc}); converting again")
        return None


def _skip_outcome(variant: str, root, force: bool, warn: Warn) -> DownloadOutcome | None:
    """The no-op outcome when ``variant`` already has a complete store (never with ``force``)."""
    from mlip_bench.data.catalog import store_path

    dest = store_path(variant, root)
    if force:
        return None
    attrs = _existing_store(dest, warn)
    if attrs is None:
        return None
    provenance = attrs.get("provenance", "")
    reason = "already downloaded"
    if provenance != "download":
        reason = f"a store with provenance {provenance!r} exists; --force replaces it with the download"
    return DownloadOutcome(variant, dest, skipped=True, reason=reason)


@contextmanager
def _one_downloader(card: DatasetCard, file: SourceFile, root) -> Iterator[None]:
    """Hold the download lock of ``file``: a second process downloading it (into the same
    ``.part``) is refused with one line. A file system without locks goes ahead unguarded."""
    from mlip_bench.results.run_lock import RunLock

    lock = RunLock(data_root(root), f"download-{card.name}-{file.name}")
    try:
        busy = not lock.acquire(blocking=False)
    except OSError:
        busy = False
    if busy:
        raise DownloadError(
            f"{file.name} is being downloaded by another process (pid {lock.holder()}); "
            "wait for it to finish, then run the command again"
        )
    try:
        yield
    finally:
        lock.release()


def _download_file_group(
    card: DatasetCard,
    file: SourceFile,
    variants: list[str],
    root,
    mirror: str | None,
    force: bool,
    progress: bool,
    warn: Warn,
    on_outcome: Callable[[DownloadOutcome], None] | None = None,
    on_failure: Callable[[str, MlipBenchError], None] | None = None,
) -> list[DownloadOutcome]:
    """Fetch ``file`` once, extract the members of all ``variants`` once, convert each variant.

    A variant that fails to convert raises, or with ``on_failure`` is reported there and the
    other variants are still converted. One process per file: a second download of the same
    file (which would write into the same ``.part``) is refused with one line."""
    with _one_downloader(card, file, root):
        from mlip_bench.data.archive import extract_archive
        from mlip_bench.data.catalog import store_path
        from mlip_bench.data.convert import convert_variant

        clean_stale_temporaries(root)
        fetched = fetch_file(card, file, root=root, mirror=mirror, force=force, progress=progress, warn=warn)
        # a card pin vouches for the file; anything else is only trusted once it has converted
        disposable = file.sha256 is None
        wanted: list[str] = []
        for variant in variants:
            source = card.variant_source(variant)
            wanted += [m.path for m in source.members]
            wanted += [p for parts in source.official_splits.values() for p in parts.values()]
        wanted = list(dict.fromkeys(wanted))
        scratch = Path(tempfile.mkdtemp(prefix=f"{EXTRACT_PREFIX}{os.getpid()}-", dir=downloads_dir(root)))
        outcomes: list[DownloadOutcome] = []
        failed: list[tuple[str, MlipBenchError]] = []
        try:
            if file.archive == "none":
                members = {m: fetched.path for m in wanted}
            else:
                try:
                    members = extract_archive(
                        fetched.path, file.archive, scratch, wanted, max_bytes=extraction_cap(fetched.path)
                    )
                except DownloadError as err:
                    if disposable:  # a bad file, never pinned: forget it (and any hash recorded for it)
                        discard_download(card, file, root)
                        raise _discarded(card, file, fetched, err) from None
                    raise
            for variant in variants:
                dest = store_path(variant, root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    convert_variant(
                        card, variant, members, dest, {file.name: fetched.sha256}, source_url=fetched.source
                    )
                except MlipBenchError as err:
                    if on_failure is None:
                        if disposable:
                            discard_download(card, file, root)
                            raise _discarded(card, file, fetched, err) from None
                        raise
                    failed.append((variant, err))
                    continue
                outcome = DownloadOutcome(variant, dest, skipped=False, fetch=fetched)
                outcomes.append(outcome)
                if on_outcome is not None:
                    on_outcome(outcome)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if failed and disposable:
            discard_download(card, file, root)
            failed = [(variant, _discarded(card, file, fetched, err)) for variant, err in failed]
        elif not failed:
            confirm_download(card, file, fetched, root, warn)
        for variant, err in failed:
            on_failure(variant, err)  # type: ignore[misc]
        return outcomes


def _card_of(variant: str) -> DatasetCard:
    from mlip_bench.data.cards import list_cards, load_card
    from mlip_bench.errors import DatasetError

    base = variant.split("/")[0]
    if base not in list_cards():
        raise DatasetError(
            f"{variant} was imported and has no dataset card, so there is nothing to download; "
            f"datasets with cards: {', '.join(list_cards())}"
        )
    return load_card(base)


def download_variant(
    variant: str,
    root: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    force: bool = False,
    progress: bool = True,
    warn: Warn | None = None,
) -> DownloadOutcome:
    """Download, verify, extract and convert one dataset variant into its canonical store.

    A no-op when a complete store already exists (``force`` redoes download and conversion).
    An imported store at the same name is left alone unless ``force``.
    """
    from mlip_bench.data.catalog import resolve_variant

    warn = warn or _default_warn
    variant = resolve_variant(variant, root=root)
    card = _card_of(variant)
    skipped = _skip_outcome(variant, root, force, warn)
    if skipped is not None:
        return skipped
    file = card.file(card.variant_source(variant).file)
    (outcome,) = _download_file_group(card, file, [variant], root, mirror, force, progress, warn)
    return outcome


def download_dataset(
    name: str,
    root: str | os.PathLike[str] | None = None,
    mirror: str | None = None,
    force: bool = False,
    progress: bool = True,
    warn: Warn | None = None,
    extras: bool = False,
    on_outcome: Callable[[DownloadOutcome], None] | None = None,
) -> DatasetDownload:
    """Download every main variant of dataset ``name`` (a card name, e.g. ``md17``); with
    ``extras`` also its extra variants (md17's CCSD / CCSD(T) sets).

    Each official file is fetched and extracted once, however many variants it holds (rMD17's
    one archive gives all ten molecules). Variants with a complete store are skipped (unless
    ``force``). A file that cannot be fetched or converted does not stop the others: its
    variants are listed in ``failures``. ``on_outcome`` is called as each variant finishes.
    """
    warn = warn or _default_warn
    card = _card_of(name.strip().lower())
    wanted = card.variants if extras else card.main_variants
    left_out = [v for v in card.variants if v not in wanted]
    outcomes: dict[str, DownloadOutcome] = {}
    failures: list[tuple[str, MlipBenchError]] = []
    groups: dict[str, list[str]] = {}
    for variant in wanted:
        skipped = _skip_outcome(variant, root, force, warn)
        if skipped is not None:
            outcomes[variant] = skipped
            if on_outcome is not None:
                on_outcome(skipped)
        else:
            groups.setdefault(card.variant_source(variant).file, []).append(variant)
    unreachable: UnreachableError | None = None
    for file_name, variants in groups.items():
        if unreachable is not None:  # the same host or mirror: do not wait on it once per file
            failures += [(v, unreachable) for v in variants]
            continue
        done: list[DownloadOutcome] = []

        def record(outcome: DownloadOutcome) -> None:
            done.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

        def failed(variant: str, err: MlipBenchError) -> None:
            failures.append((variant, err))

        try:
            _download_file_group(
                card, card.file(file_name), variants, root, mirror, force, progress, warn, record, failed
            )
        except MlipBenchError as err:  # the file itself: none of its variants could be converted
            settled = {o.variant for o in done} | {v for v, _ in failures}
            failures += [(v, err) for v in variants if v not in settled]
            if isinstance(err, UnreachableError):
                unreachable = err
        outcomes.update((o.variant, o) for o in done)
    ordered = [outcomes[v] for v in wanted if v in outcomes]
    return DatasetDownload(card.name, ordered, failures, left_out)
