"""Where datasets live: variant names, the data root, store paths, opening a store.

Layout under the data root::

    <root>/stores/<name>.h5              single-system dataset, e.g. stores/lips.h5
    <root>/stores/<name>/<molecule>.h5   per-molecule dataset, e.g. stores/rmd17/ethanol.h5
    <root>/downloads/<file name>         verified official files (as named on the card)
    <root>/pins.json                     sha256 recorded on first download of unpinned files
    <root>/verified/<key>.json           stores whose content hash was checked (size, mtime, inode)
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from mlip_bench.data.cards import DatasetCard, list_cards, load_card
from mlip_bench.errors import DatasetError

if TYPE_CHECKING:  # pragma: no cover
    from mlip_bench.data.store import Store

ROOT_ENV = "MLIP_BENCH_ROOT"
_VARIANT_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)?$")


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Directory holding stores and downloads: ``root`` > ``$MLIP_BENCH_ROOT`` > user cache dir."""
    if root is not None and str(root) != "":
        return Path(root).expanduser()
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("mlip-bench"))


def downloads_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Directory holding verified official files."""
    return data_root(root) / "downloads"


def card_variants() -> list[str]:
    """All variant names defined by the dataset cards."""
    return [v for name in list_cards() for v in load_card(name).variants]


def card_for(variant: str) -> DatasetCard | None:
    """The dataset card of ``variant`` (``NAME`` or ``NAME/MOLECULE``), or None for a dataset
    without one (imported under the data root)."""
    base = variant.split("/", 1)[0]
    return load_card(base) if base in list_cards() else None


#: longest dataset or molecule name (a file name on every file system, with room for suffixes)
MAX_NAME_LENGTH = 100


def _check_syntax(variant: str) -> None:
    if any(len(part) > MAX_NAME_LENGTH for part in variant.split("/")):
        raise DatasetError(
            f"dataset name {variant[:40]!r}... is {len(variant)} characters long; names and molecules "
            f"have at most {MAX_NAME_LENGTH}"
        )
    if not _VARIANT_RE.match(variant):
        raise DatasetError(
            f"invalid dataset name {variant!r}; use NAME or NAME/MOLECULE (lowercase), "
            f"e.g. rmd17/ethanol; datasets: {', '.join(list_cards())}"
        )


def store_path(variant: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Path of the canonical HDF5 store of ``variant`` (it may not exist yet)."""
    _check_syntax(variant)
    return data_root(root) / "stores" / f"{variant}.h5"


def imported_variants(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Variants with a store under the root (downloaded or imported), sorted."""
    stores = data_root(root) / "stores"
    if not stores.is_dir():
        return []
    names = []
    from mlip_bench.data.store import is_hdf5_file

    for path in stores.rglob("*.h5"):
        rel = path.relative_to(stores).with_suffix("").as_posix()
        if _VARIANT_RE.match(rel) and path.is_file() and is_hdf5_file(path):  # skip stray non-HDF5 files
            names.append(rel)
    return sorted(names)


def resolve_variant(name: str, molecule: str | None = None, *, root: str | os.PathLike[str] | None = None) -> str:
    """Canonical variant name for ``name`` (``NAME`` or ``NAME/MOLECULE``) and an optional
    ``molecule`` (``--dataset md17 --molecule aspirin`` == ``md17/aspirin``).

    Names with a card are checked against it (molecule aliases map to their canonical name);
    a name without a card is accepted only when a store for it was imported under the root.
    Raises ``DatasetError`` listing the valid names.
    """
    name = name.strip().lower()
    if molecule:
        molecule = molecule.strip().lower()
        if "/" in name:
            base, _, given = name.partition("/")
            if given != molecule:
                raise DatasetError(
                    f"dataset {name!r} already names molecule {given!r} but --molecule says {molecule!r}"
                )
            name = base
        name = f"{name}/{molecule}"
    _check_syntax(name)
    base, _, mol = name.partition("/")
    cards = list_cards()
    if base in cards:
        card = load_card(base)
        if card.molecules:
            if not mol:
                raise DatasetError(
                    f"dataset {base!r} needs a molecule ({base}/MOLECULE or --molecule); "
                    f"valid: {', '.join(card.molecules)}"
                )
            key = card.canonical_molecule(mol)
            if key is None:
                raise DatasetError(f"unknown molecule {mol!r} for {base}; valid: {', '.join(card.molecules)}")
            return f"{base}/{key}"
        if mol:
            if name in imported_variants(root):
                return name
            raise DatasetError(f"dataset {base!r} has no molecules; use `{base}` without a molecule")
        return base
    if name in imported_variants(root):
        return name
    imported = [v for v in imported_variants(root) if v.split("/")[0] not in cards]
    extra = f"; imported: {', '.join(imported)}" if imported else ""
    raise DatasetError(f"unknown dataset {base!r}; valid names: {', '.join(cards)}{extra}")


def download_hint(variant: str) -> str:
    """The command that makes ``variant`` available."""
    base, _, mol = variant.partition("/")
    if base in list_cards():
        cmd = f"mlip-bench download {base}" + (f" --molecule {mol}" if mol else "")
        return f"run `{cmd}` (or `mlip-bench import FILES... --as {variant}`)"
    return f"run `mlip-bench import FILES... --as {variant}`"


def embedded_store_path(variant: str) -> Path | None:
    """Path of the demo store shipped inside the package for ``variant``, if any."""
    try:
        from mlip_bench.embedded import EMBEDDED_STORES
    except ImportError:
        return None
    path = EMBEDDED_STORES.get(variant)
    return None if path is None else Path(path)


def verified_cache_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """Where successful store verifications are remembered (``<root>/verified/``)."""
    return data_root(root) / "verified"


def open_store(variant: str, root: str | os.PathLike[str] | None = None, verify: bool = False) -> "Store":
    """Open the store of ``variant``: the downloaded/imported one under the root, else the
    embedded demo store (``rmd17/ethanol``), else ``DatasetError`` saying what to run.

    ``verify``: first check that the arrays still hash to the store's recorded content sha256
    (``DatasetError`` for a store changed in place); a verified, unchanged file is not read
    again (see :func:`~mlip_bench.data.store.check_store_integrity`)."""
    from mlip_bench.data.store import Store, check_store_integrity

    variant = resolve_variant(variant, root=root)
    path = store_path(variant, root)
    if not path.is_file():
        embedded = embedded_store_path(variant)
        path = embedded if embedded is not None and embedded.is_file() else None
    if path is not None:
        store = Store(path)
        if verify:
            try:
                check_store_integrity(store, cache_dir=verified_cache_dir(root))
            except BaseException:
                store.close()
                raise
        return store
    raise DatasetError(f"no store for {variant} under {data_root(root)}; {download_hint(variant)}")
