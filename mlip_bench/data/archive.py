"""Safe extraction of downloaded archives (zip, tar, tar.gz, tar.bz2, tar.xz).

Every member name is checked before anything is written: absolute paths, ``..`` components and
links that point outside the target are refused (the whole archive is rejected). Only regular
files (and, when asked for, links that stay inside the target) are written; devices, FIFOs and
other special members are skipped. A truncated or corrupt archive raises ``DownloadError``.

``max_bytes`` bounds what an extraction may write: the members' declared sizes are checked
against it before anything is written (a zip bomb is refused at once), and the bytes actually
written are counted so a member that expands past its declared size stops early too.
"""

from __future__ import annotations

import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from mlip_bench.errors import DownloadError

_TAR_MODES = {"tar": "r|", "tar.gz": "r|gz", "tar.bz2": "r|bz2", "tar.xz": "r|xz"}
_CHUNK = 1 << 20


def normalise_member(name: str) -> str:
    """Member name without a leading ``./`` and with forward slashes."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def check_member_name(archive: Path, name: str) -> str:
    """The normalised member name, or ``DownloadError`` when it could escape the target."""
    norm = normalise_member(name)
    parts = PurePosixPath(norm).parts
    if (
        name.startswith(("/", "\\"))
        or (len(norm) > 1 and norm[1] == ":")  # Windows drive letter
        or ".." in parts
        or "\x00" in name
    ):
        raise DownloadError(
            f"archive {archive.name} has an unsafe member {name!r} (absolute path or '..'); refusing to extract it"
        )
    return norm


def check_link_target(archive: Path, name: str, link: str, hard: bool = False) -> None:
    """``DownloadError`` when a link member ``name`` -> ``link`` would point outside the target."""
    link = link.replace("\\", "/")
    if link.startswith("/") or (len(link) > 1 and link[1] == ":"):
        raise DownloadError(f"archive {archive.name} has a link {name!r} -> {link!r} leaving the target; refusing it")
    base = "" if hard else posixpath.dirname(normalise_member(name))
    resolved = posixpath.normpath(posixpath.join(base, link))
    if resolved == ".." or resolved.startswith("../") or resolved.startswith("/"):
        raise DownloadError(f"archive {archive.name} has a link {name!r} -> {link!r} leaving the target; refusing it")


def _corrupt(archive: Path, exc: BaseException) -> DownloadError:
    detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DownloadError(f"archive {archive.name} is truncated or corrupt ({detail}); rerun the download with --force")


def _inside(archive: Path, target: Path, dest: Path) -> Path:
    """``dest`` when writing it cannot leave ``target`` through an earlier link, else DownloadError."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(target)
    parent = os.path.realpath(dest.parent)
    if os.path.commonpath([root, parent]) != root or dest.is_symlink():
        raise DownloadError(
            f"archive {archive.name} writes {dest.name!r} through a link leaving the target; refusing it"
        )
    return dest


class _Budget:
    """Bytes an extraction may still write (``None``: unbounded)."""

    def __init__(self, archive: Path, max_bytes: int | None) -> None:
        self.archive = archive
        self.max_bytes = max_bytes
        self.used = 0

    def _refuse(self, total: int, name: str) -> DownloadError:
        return DownloadError(
            f"archive {self.archive.name} expands to more than {self.max_bytes} bytes "
            f"(at least {total} by {name!r}; a damaged archive or a zip bomb); refusing to extract it. "
            "Check the mirror / URL, or raise $MLIP_BENCH_MAX_EXTRACT_BYTES for a genuinely larger file"
        )

    def reserve(self, size: int, name: str) -> None:
        """Refuse before writing a member of declared ``size`` that would not fit."""
        if self.max_bytes is not None and self.used + max(int(size), 0) > self.max_bytes:
            raise self._refuse(self.used + int(size), name)

    def add(self, size: int, name: str) -> None:
        self.used += size
        if self.max_bytes is not None and self.used > self.max_bytes:
            raise self._refuse(self.used, name)


def _write_stream(src, dest: Path, budget: _Budget | None = None, name: str = "", limit: int | None = None) -> int:
    """Copy ``src`` into ``dest`` block by block; stop early when the budget or ``limit`` (the
    member's declared size) is exceeded. Returns the bytes written."""
    written = 0
    with open(dest, "wb") as out:
        while True:
            block = src.read(_CHUNK)
            if not block:
                break
            written += len(block)
            if limit is not None and written > limit:
                raise DownloadError(
                    f"archive member {name!r} expands past its declared size of {limit} bytes; refusing it"
                )
            if budget is not None:
                budget.add(len(block), name)
            out.write(block)
    return written


def extract_archive(
    archive: str | os.PathLike[str],
    kind: str,
    target: str | os.PathLike[str],
    members: Iterable[str] | None = None,
    max_bytes: int | None = None,
) -> dict[str, Path]:
    """Extract ``archive`` (``kind`` one of zip, tar, tar.gz, tar.bz2, tar.xz) into ``target``.

    ``members``: the member paths wanted (normalised names); ``None`` extracts every regular file.
    Returns {member name: extracted path}. Raises ``DownloadError`` for unsafe members, a
    truncated/corrupt archive, a wanted member that is missing, or (with ``max_bytes``) members
    that would write more than ``max_bytes`` in all.
    """
    archive = Path(archive)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    wanted = None if members is None else {normalise_member(m) for m in members}
    budget = _Budget(archive, max_bytes)
    if kind == "zip":
        found = _extract_zip(archive, target, wanted, budget)
    elif kind in _TAR_MODES:
        found = _extract_tar(archive, _TAR_MODES[kind], target, wanted, budget)
    else:
        raise DownloadError(f"unknown archive kind {kind!r} for {archive.name}")
    if wanted is not None:
        missing = sorted(wanted - set(found))
        if missing:
            raise DownloadError(
                f"archive {archive.name} has no member {missing[0]!r}; its layout differs from the dataset card"
            )
    return found


def _extract_tar(archive: Path, mode: str, target: Path, wanted: set[str] | None, budget: _Budget) -> dict[str, Path]:
    found: dict[str, Path] = {}
    try:
        with tarfile.open(archive, mode) as tar:
            for member in tar:
                name = check_member_name(archive, member.name)
                if member.issym() or member.islnk():
                    check_link_target(archive, member.name, member.linkname, hard=member.islnk())
                if not name or (wanted is not None and name not in wanted):
                    continue
                dest = _inside(archive, target, target / name)
                if member.isfile():
                    budget.reserve(member.size, name)
                    src = tar.extractfile(member)
                    assert src is not None
                    _write_stream(src, dest, budget, name, limit=member.size)
                    if dest.stat().st_size != member.size:
                        raise DownloadError(f"archive {archive.name} is truncated inside {name!r}")
                    found[name] = dest
                elif member.issym():
                    os.symlink(member.linkname, dest)
                    found[name] = dest
                elif member.isdir():
                    dest.mkdir(parents=True, exist_ok=True)
    except DownloadError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, OSError, ValueError) as exc:
        raise _corrupt(archive, exc) from None
    return found


def _extract_zip(archive: Path, target: Path, wanted: set[str] | None, budget: _Budget) -> dict[str, Path]:
    found: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:  # check everything before writing anything
                name = check_member_name(archive, info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    if info.file_size > 4096:
                        raise DownloadError(
                            f"archive {archive.name} has a link {name!r} with a {info.file_size}-byte target"
                        )
                    check_link_target(archive, info.filename, zf.read(info).decode("utf-8", "replace"))
            declared = 0  # the sizes the archive declares for what will be written, before writing any
            for info in infos:
                name = normalise_member(info.filename)
                if info.is_dir() or not name or (wanted is not None and name not in wanted):
                    continue
                declared += info.file_size
                budget.reserve(declared, name)
            for info in infos:
                name = normalise_member(info.filename)
                if info.is_dir() or not name or (wanted is not None and name not in wanted):
                    continue
                dest = _inside(archive, target, target / name)
                if stat.S_ISLNK(info.external_attr >> 16):
                    os.symlink(zf.read(info).decode("utf-8"), dest)
                    found[name] = dest
                    continue
                with zf.open(info) as src:
                    _write_stream(src, dest, budget, name, limit=info.file_size)
                found[name] = dest
    except DownloadError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError, ValueError) as exc:
        raise _corrupt(archive, exc) from None
    return found
