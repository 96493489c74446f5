"""Seeded, stored train/validation/test splits with content hashes that results cite.

A :class:`Split` holds store frame indices. ``train_pool`` is ordered so that the n-frame
training set is ``train_pool[:n]``: the learning-curve training sets are nested. The test set is
fixed for the split and disjoint from every training and validation frame; frames whose
fingerprint (species + positions rounded to 1e-6 Å, see ``duplicates.py``) matches a training or
validation frame are dropped from the test set (and from any extra named test set) and counted in
``n_test_duplicates_dropped``.

Three kinds of split:

* ``random`` — a seeded permutation of all frames (val first, then the training pool, the rest
  is test);
* ``labelled`` — the store carries per-frame ``train``/``val``/``test`` labels from imported split
  files: test is the labelled test frames, val the labelled val frames (or ``n_val`` drawn from
  the labelled train frames when none is labelled), the pool the labelled train frames; frames
  without a label are not used (a store counts as labelled when it has both train and test
  labels, otherwise it is split at random);
* ``official`` — named index lists kept in the store attrs (the rMD17 ``index_{train,test}_0k``
  files): ``n_val`` frames of the official train list become validation frames.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlip_bench.atomic_files import write_text_atomic
from mlip_bench.data.store import Store
from mlip_bench.errors import ConfigError, DatasetError
from mlip_bench.paths import EMBEDDED_DIR

SPLIT_SCHEMA_VERSION: int = 1
DEFAULT_N_VAL: int = 50
DEFAULT_MAX_TRAIN: int = 1000


def _digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class Split:
    """Frame indices of one split of one store (see module doc).

    ``sha256`` hashes the whole split; ``subset_sha256(n_train)`` hashes exactly the frames a run
    with ``n_train`` training frames uses (train_pool[:n_train], val, test) and the store hash.
    """

    name: str
    seed: int
    train_pool: list[int]
    val: list[int]
    test: list[int]
    store_sha256: str
    kind: str = "random"
    n_test_duplicates_dropped: int = 0
    recipe: dict = field(default_factory=dict)
    #: extra named test sets (label -> frame indices), e.g. {"test_600K": [...]}; empty for most
    extra_tests: dict[str, list[int]] = field(default_factory=dict)

    def _with_extra_tests(self, payload: dict) -> dict:
        # only splits that have extra test sets hash them, so older split hashes stay valid
        if self.extra_tests:
            payload["extra_tests"] = {k: list(v) for k, v in sorted(self.extra_tests.items())}
        return payload

    @property
    def sha256(self) -> str:
        """Content hash of the split (name, seed, store hash, all index lists)."""
        return _digest(
            self._with_extra_tests(
                {
                    "name": self.name,
                    "seed": self.seed,
                    "store_sha256": self.store_sha256,
                    "train_pool": list(self.train_pool),
                    "val": list(self.val),
                    "test": list(self.test),
                }
            )
        )

    @property
    def max_train(self) -> int:
        """Largest training set this split offers."""
        return len(self.train_pool)

    def train(self, n_train: int) -> list[int]:
        """The ``n_train``-frame training set, ``train_pool[:n_train]`` (nested in larger ones)."""
        if n_train < 1 or n_train > len(self.train_pool):
            raise ConfigError(
                f"n_train={n_train} is outside 1..{len(self.train_pool)} for split {self.name!r} "
                "(its training pool); pick a smaller n_train or a split with a larger pool"
            )
        return list(self.train_pool[:n_train])

    def subset_sha256(self, n_train: int) -> str:
        """Hash of the frames a run with ``n_train`` training frames uses; results cite it."""
        return _digest(
            self._with_extra_tests(
                {
                    "store_sha256": self.store_sha256,
                    "train": self.train(n_train),
                    "val": list(self.val),
                    "test": list(self.test),
                }
            )
        )

    def to_dict(self) -> dict:
        """JSON-ready form, with the split hash."""
        return {
            "schema_version": SPLIT_SCHEMA_VERSION,
            "name": self.name,
            "seed": self.seed,
            "kind": self.kind,
            "store_sha256": self.store_sha256,
            "recipe": dict(self.recipe),
            "n_test_duplicates_dropped": self.n_test_duplicates_dropped,
            "train_pool": list(self.train_pool),
            "val": list(self.val),
            "test": list(self.test),
            "extra_tests": {k: list(v) for k, v in sorted(self.extra_tests.items())},
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "split") -> "Split":
        """Rebuild a split from :meth:`to_dict` output; checks its hash."""
        try:
            split = cls(
                name=str(data["name"]),
                seed=int(data["seed"]),
                kind=str(data.get("kind", "random")),
                train_pool=[int(i) for i in data["train_pool"]],
                val=[int(i) for i in data["val"]],
                test=[int(i) for i in data["test"]],
                store_sha256=str(data["store_sha256"]),
                n_test_duplicates_dropped=int(data.get("n_test_duplicates_dropped", 0)),
                recipe=dict(data.get("recipe", {})),
                extra_tests={str(k): [int(i) for i in v] for k, v in (data.get("extra_tests") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{source}: not a valid split file ({exc}); delete it to recreate the split") from None
        if data.get("sha256") and data["sha256"] != split.sha256:
            raise DatasetError(f"{source}: split hash does not match its indices (edited?); delete it to recreate")
        return split


def subsample(indices: list[int], limit: int | None, seed: int) -> list[int]:
    """At most ``limit`` of ``indices``, drawn at random (seeded), in ascending order (all of them,
    in their order, when there are no more than ``limit``)."""
    if limit is None or len(indices) <= limit:
        return indices
    chosen = np.random.default_rng(seed).choice(len(indices), size=limit, replace=False)
    return sorted(indices[i] for i in chosen)


def _recipe_from_card(card: Any, n_val: int | None, n_test: int | None, max_train: int | None):
    recipe = getattr(card, "splits", None) if card is not None else None
    if recipe is not None:
        n_val = recipe.n_val if n_val is None else n_val
        n_test = recipe.n_test if n_test is None else n_test
        max_train = max(recipe.ladder) if max_train is None else max_train
    return n_val, n_test, max_train


def _exclude_duplicates(candidates: np.ndarray, used: np.ndarray, fingerprints: list[str]) -> tuple[np.ndarray, int]:
    """Candidates whose fingerprint is not among the ``used`` frames', and how many were dropped."""
    taken = {fingerprints[i] for i in used}
    keep = np.asarray([i for i in candidates if fingerprints[i] not in taken], dtype=np.int64)
    return keep, int(len(candidates) - len(keep))


def _labelled(subsets: np.ndarray | None) -> bool:
    return subsets is not None and bool(np.any(subsets == "train")) and bool(np.any(subsets == "test"))


def make_split(
    store: Store,
    card: Any = None,
    seed: int = 0,
    n_val: int | None = None,
    n_test: int | None = None,
    name: str = "default",
    max_train: int | None = None,
) -> Split:
    """A deterministic split of ``store`` for ``seed`` (numpy ``default_rng``).

    Sizes come from the arguments, else the card's split recipe (``card.splits``: n_val, n_test,
    largest ladder size), else ``n_val=50`` and a training pool of at most 1000 frames. Unless
    ``max_train`` or ``n_test`` is given, the pool never takes more than half of the frames left
    after validation, so a small imported subset still keeps a real test set. ``n_test=None`` means
    "every remaining frame". A store with ``train`` and ``test`` labels is split by its labels.
    """
    explicit_max = max_train is not None
    n_val, n_test, max_train = _recipe_from_card(card, n_val, n_test, max_train)
    for label, value in (("n_val", n_val), ("n_test", n_test), ("max_train", max_train)):
        if value is not None and value < 0:
            raise ConfigError(f"{label} must be >= 0, got {value}")
    rng = np.random.default_rng(seed)
    fingerprints = store.fingerprints
    subsets = store.subsets
    recipe = {"n_val": n_val, "n_test": n_test, "max_train": max_train}
    extra_tests: dict[str, list[int]] = {}
    extra_labels = sorted({str(x) for x in subsets if str(x).startswith("test_")}) if subsets is not None else []
    if extra_labels and not _labelled(subsets):
        raise DatasetError(
            f"{store.path} labels extra test sets (test_NAME) but no 'train' and 'test' frames; "
            "re-import it labelling the training file train and one test file test (--label FILE=test)"
        )
    if _labelled(subsets):
        train_lab = np.flatnonzero(subsets == "train")
        val_lab = np.flatnonzero(subsets == "val")
        test_lab = np.flatnonzero(subsets == "test")
        if len(val_lab):
            if n_val is not None and n_val > len(val_lab):
                raise ConfigError(f"n_val={n_val} but {store.path} labels only {len(val_lab)} validation frames")
            val = val_lab if n_val is None else rng.choice(val_lab, size=n_val, replace=False)
            pool = rng.permutation(train_lab)
        else:
            n_val = DEFAULT_N_VAL if n_val is None else n_val
            if n_val >= len(train_lab):
                raise ConfigError(f"n_val={n_val} leaves no training frames ({len(train_lab)} labelled train)")
            order = rng.permutation(train_lab)
            val, pool = order[:n_val], order[n_val:]
        if max_train is not None:
            pool = pool[:max_train]
        # fixed test set: exclude copies of any labelled train/val frame, whatever the pool size
        test, dropped = _exclude_duplicates(test_lab, np.concatenate([train_lab, val_lab]), fingerprints)
        if n_test is not None:
            if n_test > len(test):
                raise ConfigError(f"n_test={n_test} but only {len(test)} distinct labelled test frames")
            test = rng.choice(test, size=n_test, replace=False)
        used = np.concatenate([train_lab, val_lab])
        for label in extra_labels:
            extra, extra_dropped = _exclude_duplicates(np.flatnonzero(subsets == label), used, fingerprints)
            extra_tests[label] = sorted(int(i) for i in extra)
            dropped += extra_dropped
        kind = "labelled"
    else:
        n = store.n_frames
        n_val = DEFAULT_N_VAL if n_val is None else n_val
        if n_test is not None:
            room = n - n_val - n_test
        elif explicit_max:
            room = n - n_val - 1
        else:  # sizes from a card or the defaults: keep at least half of the rest for testing
            room = (n - n_val) // 2
        if explicit_max and max_train > room:
            raise ConfigError(
                f"max_train={max_train} does not fit {store.path} ({n} frames) with n_val={n_val}, n_test={n_test}"
            )
        n_pool = min(DEFAULT_MAX_TRAIN if max_train is None else max_train, room)
        if n_pool < 1:
            raise ConfigError(f"{store.path} has {n} frames: too few for n_val={n_val}, n_test={n_test}; lower them")
        order = rng.permutation(n)
        val, pool, rest = order[:n_val], order[n_val : n_val + n_pool], order[n_val + n_pool :]
        test, dropped = _exclude_duplicates(rest, np.concatenate([val, pool]), fingerprints)
        if n_test is not None:
            test = test[:n_test]
        kind = "random"
    if len(test) == 0:
        raise ConfigError(f"split of {store.path} has an empty test set; lower n_val/max_train")
    return _split_of(name, seed, pool, val, test, store, kind, dropped, recipe, extra_tests)


def official_split_names(store: Store) -> list[str]:
    """Names of the official index splits kept in the store attrs (e.g. rMD17 ``official_01``)."""
    return sorted((store.attrs.get("official_splits") or {}).keys())


def official_split(store: Store, name: str, seed: int = 0, n_val: int = DEFAULT_N_VAL) -> Split:
    """The official split ``name`` from the store attrs: ``n_val`` of its train frames (seeded)
    become validation, the rest the training pool in seeded order; test is its test list minus
    copies of train/val frames."""
    official = store.attrs.get("official_splits") or {}
    if name not in official:
        names = ", ".join(sorted(official)) or "none"
        raise DatasetError(f"{store.path} has no official split {name!r}; available: {names}")
    entry = official[name]
    try:
        train = np.asarray(entry["train"], dtype=np.int64)
        test = np.asarray(entry["test"], dtype=np.int64)
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"{store.path}: official split {name!r} needs 'train' and 'test' index lists") from None
    for label, array in (("train", train), ("test", test)):
        if len(array) and (array.min() < 0 or array.max() >= store.n_frames):
            raise DatasetError(f"{store.path}: official split {name!r} {label} indices outside 0..{store.n_frames - 1}")
    if n_val >= len(train):
        raise ConfigError(f"n_val={n_val} leaves no training frames in official split {name!r} ({len(train)})")
    order = np.random.default_rng(seed).permutation(train)
    val, pool = order[:n_val], order[n_val:]
    test, dropped = _exclude_duplicates(test, train, store.fingerprints)
    return _split_of(name, seed, pool, val, test, store, "official", dropped, {"n_val": n_val, "official": name})


def _split_of(
    name: str,
    seed: int,
    pool,
    val,
    test,
    store: Store,
    kind: str,
    dropped: int,
    recipe: dict,
    extra_tests: dict[str, list[int]] | None = None,
) -> Split:
    """A :class:`Split` from index arrays: the pool keeps its (seeded) order, val and test are sorted."""
    return Split(
        name=name,
        seed=int(seed),
        train_pool=[int(i) for i in pool],
        val=sorted(int(i) for i in val),
        test=sorted(int(i) for i in test),
        store_sha256=store.sha256,
        kind=kind,
        n_test_duplicates_dropped=dropped,
        recipe=recipe,
        extra_tests=extra_tests or {},
    )


def _split_directory(store: Store, directory: str | Path | None, root: str | Path | None) -> Path:
    if directory is not None:
        return Path(directory)
    embedded = EMBEDDED_DIR
    beside = store.path.resolve().parent
    if beside != embedded and os.access(beside, os.W_OK):
        return beside
    from mlip_bench.data.catalog import data_root

    return data_root(root) / "splits"


def split_path(
    store: Store,
    name: str = "default",
    seed: int = 0,
    recipe: dict | None = None,
    directory: str | Path | None = None,
    root: str | Path | None = None,
) -> Path:
    """Where a split of ``store`` is kept: beside the store (or under ``<root>/splits`` for the
    read-only embedded store); the file name carries the store hash, name, seed and recipe."""
    tag = _digest(recipe or {})[:8]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    folder = _split_directory(store, directory, root)
    return folder / f"{store.path.stem}.{store.sha256[:12]}.split-{safe}-seed{seed}-{tag}.json"


def load_or_create_split(
    store: Store,
    card: Any = None,
    seed: int = 0,
    n_val: int | None = None,
    n_test: int | None = None,
    name: str = "default",
    max_train: int | None = None,
    directory: str | Path | None = None,
    root: str | Path | None = None,
) -> Split:
    """The stored split for these arguments, created (and written atomically as JSON) if absent.

    ``name`` naming an official split of the store (``official_splits`` attr) gives
    :func:`official_split`; otherwise :func:`make_split`. The JSON lives beside the store unless
    ``directory`` is given (the embedded store's splits go to ``<data root>/splits``).
    """
    is_official = name in official_split_names(store)
    if is_official:
        recipe = {"official": name, "n_val": DEFAULT_N_VAL if n_val is None else n_val}
    else:
        merged = _recipe_from_card(card, n_val, n_test, max_train)
        recipe = {
            "n_val": merged[0],
            "n_test": merged[1],
            "max_train": merged[2],
            "explicit_max": max_train is not None,
        }
    path = split_path(store, name, seed, recipe, directory, root)
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: unreadable split file ({exc}); delete it to recreate the split") from None
        split = Split.from_dict(data, str(path))
        if split.store_sha256 != store.sha256:
            raise DatasetError(f"{path}: split belongs to another version of {store.path}; delete it to recreate")
        return split
    if is_official:
        split = official_split(store, name, seed=seed, n_val=recipe["n_val"])
    else:
        split = make_split(store, card, seed=seed, n_val=n_val, n_test=n_test, name=name, max_train=max_train)
    write_split(split, path)
    return split


def write_split(split: Split, path: str | Path) -> Path:
    """Write ``split`` as JSON atomically (temp file + rename)."""
    return write_text_atomic(json.dumps(split.to_dict(), indent=1), path)


def read_split(path: str | Path) -> Split:
    """Read a split JSON written by :func:`write_split` (checks its hash)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable split file ({exc})") from None
    return Split.from_dict(data, str(path))
