"""Splits: disjoint, nested, deterministic, stored with a hash; duplicates never reach the test set."""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlip_bench.data.splits import (
    Split,
    load_or_create_split,
    make_split,
    official_split,
    read_split,
)
from mlip_bench.data.store import Store, write_store
from mlip_bench.errors import ConfigError, DatasetError
from tests.data.synthetic_frames import random_frames

ATTRS = {"name": "test", "provenance": "imported"}


def _store_with_duplicates(
    folder: Path, n_frames: int, n_copies: int, seed: int, subsets=None, attrs=None, copy_from: int | None = None
) -> Store:
    """A store whose last ``n_copies`` frames repeat earlier ones (among the first ``copy_from``)."""
    frames = random_frames(n_frames - n_copies, seed=seed, n_atoms=(2, 4))
    rng = np.random.default_rng(seed + 1)
    for source in rng.choice(copy_from or len(frames), size=n_copies, replace=True):
        original = frames[int(source)]
        copy = random_frames(1, seed=int(source) + 1000, n_atoms=original.n_atoms)[0]
        copy.positions = original.positions + 1e-9  # same configuration after 1e-6 Å rounding
        copy.numbers = original.numbers.copy()
        copy.energy = original.energy - 1.1e-3  # relabelled copy: still a duplicate
        frames.append(copy)
    return Store(write_store(folder / f"s{seed}.h5", frames, dict(ATTRS, **(attrs or {})), subsets=subsets))


def _check_invariants(split: Split, store: Store) -> None:
    pool, val, test = set(split.train_pool), set(split.val), set(split.test)
    assert len(pool) == len(split.train_pool)  # no repeats
    assert not pool & val and not pool & test and not val & test
    assert max(pool | val | test) < store.n_frames
    prints = store.fingerprints
    used = {prints[i] for i in pool | val}
    assert all(prints[i] not in used for i in test), "a copy of a train/val frame is in test"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_frames=st.integers(30, 80),
    n_copies=st.integers(0, 8),
    seed=st.integers(0, 2**31 - 1),
    n_val=st.integers(1, 10),
    max_train=st.one_of(st.none(), st.integers(1, 10)),
)
def test_random_split_properties(n_frames, n_copies, seed, n_val, max_train):
    with tempfile.TemporaryDirectory() as tmp:
        store = _store_with_duplicates(Path(tmp), n_frames, n_copies, seed % 1000)
        split = make_split(store, seed=seed, n_val=n_val, max_train=max_train)
        _check_invariants(split, store)
        again = make_split(store, seed=seed, n_val=n_val, max_train=max_train)
        assert again == split and again.sha256 == split.sha256  # deterministic
        # nested training sets, all with the same fixed val and test sets
        sizes = [1, len(split.train_pool) // 2 or 1, len(split.train_pool)]
        sets = [set(split.train(n)) for n in sizes]
        assert sets[0] <= sets[1] <= sets[2]
        assert len({split.subset_sha256(n) for n in set(sizes)}) == len(set(sizes))
        assert len(split.val) == n_val


@settings(max_examples=15, deadline=None)
@given(n_train=st.integers(20, 60), n_val=st.integers(0, 8), n_test=st.integers(10, 40), seed=st.integers(0, 10**6))
def test_labelled_split_properties(n_train, n_val, n_test, seed):
    labels = ["train"] * n_train + ["val"] * n_val + ["test"] * n_test
    with tempfile.TemporaryDirectory() as tmp:
        # the last frames (test) copy earlier training frames
        store = _store_with_duplicates(Path(tmp), len(labels), 4, seed % 1000, subsets=labels, copy_from=n_train)
        split = make_split(store, seed=seed, n_val=None if n_val else 5)
        _check_invariants(split, store)
        assert split.kind == "labelled"
        assert all(labels[i] == "test" for i in split.test)
        assert all(labels[i] == "train" for i in split.train_pool)
        if n_val:
            assert sorted(split.val) == [i for i, s in enumerate(labels) if s == "val"]
        # the 4 copies of training frames are dropped when their original is used for training or
        # validation (the pool may leave some training-labelled frames unused)
        prints = store.fingerprints
        used = {prints[i] for i in list(split.train_pool) + list(split.val)}
        expected = sum(1 for i in range(len(labels) - 4, len(labels)) if prints[i] in used)
        assert split.n_test_duplicates_dropped == expected
        assert len(split.test) == n_test - expected


def test_different_seeds_give_different_splits_same_test_for_labels(tmp_path):
    store = _store_with_duplicates(tmp_path, 200, 0, 3)
    a, b = make_split(store, seed=0), make_split(store, seed=1)
    assert a.train_pool != b.train_pool and a.sha256 != b.sha256
    labelled = _store_with_duplicates(tmp_path, 100, 0, 4, subsets=["train"] * 60 + ["test"] * 40)
    c, d = make_split(labelled, seed=0), make_split(labelled, seed=1)
    assert c.test == d.test == list(range(60, 100))  # the labelled test set is fixed
    assert len(c.val) == 50 and len(c.train_pool) == 10


def test_card_recipe_sets_sizes(tmp_path):
    class Recipe:
        n_val, n_test, ladder = 7, 20, [5, 10, 15]

    class Card:
        splits = Recipe()

    store = _store_with_duplicates(tmp_path, 100, 0, 5)
    split = make_split(store, Card())
    assert len(split.val) == 7 and len(split.test) == 20 and len(split.train_pool) == 15


def test_default_sizes_keep_a_test_set(tmp_path):
    store = _store_with_duplicates(tmp_path, 120, 0, 6)
    split = make_split(store)
    assert len(split.val) == 50 and len(split.train_pool) == 35 and len(split.test) == 35
    with pytest.raises(ConfigError, match="max_train=100 does not fit"):
        make_split(store, max_train=100)
    with pytest.raises(ConfigError, match="n_train=36 is outside 1..35"):
        split.train(36)


def test_load_or_create_split_stores_and_reloads(tmp_path):
    store = _store_with_duplicates(tmp_path, 80, 3, 7)
    first = load_or_create_split(store, seed=2, n_val=5)
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1 and store.sha256[:12] in files[0].name
    assert read_split(files[0]) == first
    assert load_or_create_split(store, seed=2, n_val=5) == first
    other = load_or_create_split(store, seed=3, n_val=5)
    assert other != first and len(list(tmp_path.glob("*.json"))) == 2
    data = json.loads(files[0].read_text())
    data["test"] = data["test"][:-1]
    files[0].write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="hash does not match"):
        load_or_create_split(store, seed=2, n_val=5)


def test_official_split_from_store_attrs(tmp_path):
    train = list(range(0, 40))
    test = list(range(40, 80)) + [85]
    official = {"official_01": {"train": train, "test": test}}
    store = _store_with_duplicates(tmp_path, 90, 0, 8, attrs={"official_splits": official})
    split = official_split(store, "official_01", n_val=5)
    assert sorted(split.train_pool + split.val) == train and len(split.val) == 5
    assert split.test == test and split.kind == "official"
    assert load_or_create_split(store, name="official_01", n_val=5) == split
    with pytest.raises(DatasetError, match="available: official_01"):
        official_split(store, "official_09")


def _old_digest(payload: dict) -> str:
    """The split hash as computed before extra test sets existed."""
    import hashlib

    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _store_with_extra_tests(folder: Path) -> Store:
    """0-19 train, 20-22 val, 23-29 test, 30-35 test_X, 36-38 test_Y; 31 copies train frame 3,
    34 copies val frame 21, 37 copies test frame 25 (a test frame is no training data: kept)."""
    frames = random_frames(39, seed=20, n_atoms=(2, 4))
    for copy, original in ((31, 3), (34, 21), (37, 25)):
        frames[copy].positions = frames[original].positions + 1e-9
        frames[copy].numbers = frames[original].numbers.copy()
        frames[copy].forces = np.zeros_like(frames[copy].positions)
    labels = ["train"] * 20 + ["val"] * 3 + ["test"] * 7 + ["test_X"] * 6 + ["test_Y"] * 3
    return Store(write_store(folder / "extra.h5", frames, ATTRS, subsets=labels))


def test_labelled_extra_test_sets(tmp_path):
    store = _store_with_extra_tests(tmp_path)
    split = make_split(store, seed=3)
    assert split.kind == "labelled"
    assert split.extra_tests == {"test_X": [30, 32, 33, 35], "test_Y": [36, 37, 38]}
    assert sorted(split.train_pool) == list(range(20)) and split.val == [20, 21, 22]
    assert split.test == list(range(23, 30))  # the main test set is the plain "test" frames only
    assert split.n_test_duplicates_dropped == 2  # counts the copies dropped from extra test sets too
    _check_invariants(split, store)
    assert make_split(store, seed=3) == split  # deterministic
    # the extra sets are part of both hashes
    bare = dataclasses.replace(split, extra_tests={})
    assert bare.sha256 != split.sha256 and bare.subset_sha256(5) != split.subset_sha256(5)
    moved = dataclasses.replace(split, extra_tests={"test_X": [30, 32, 33], "test_Y": [35, 36, 37, 38]})
    assert moved.sha256 != split.sha256


def test_split_without_extra_tests_keeps_its_old_hash(tmp_path):
    store = _store_with_duplicates(tmp_path, 60, 2, 21, subsets=["train"] * 40 + ["test"] * 20)
    split = make_split(store, seed=4, n_val=5)
    assert split.kind == "labelled" and split.extra_tests == {}
    assert split.sha256 == _old_digest(
        {
            "name": split.name,
            "seed": split.seed,
            "store_sha256": split.store_sha256,
            "train_pool": split.train_pool,
            "val": split.val,
            "test": split.test,
        }
    )
    assert split.subset_sha256(10) == _old_digest(
        {
            "store_sha256": split.store_sha256,
            "train": split.train_pool[:10],
            "val": split.val,
            "test": split.test,
        }
    )
    random_split = make_split(_store_with_duplicates(tmp_path, 80, 0, 22), seed=1, n_val=5)
    assert random_split.extra_tests == {}
    assert random_split.sha256 == _old_digest(
        {
            "name": "default",
            "seed": 1,
            "store_sha256": random_split.store_sha256,
            "train_pool": random_split.train_pool,
            "val": random_split.val,
            "test": random_split.test,
        }
    )
    # a split file written before extra test sets existed (no "extra_tests" key) still loads
    data = split.to_dict()
    assert data["extra_tests"] == {}
    del data["extra_tests"]
    assert Split.from_dict(data) == split


def test_extra_tests_round_trip_through_dict_and_file(tmp_path):
    store = _store_with_extra_tests(tmp_path)
    split = make_split(store, seed=5)
    data = json.loads(json.dumps(split.to_dict()))
    assert data["extra_tests"] == {"test_X": [30, 32, 33, 35], "test_Y": [36, 37, 38]}
    again = Split.from_dict(data)
    assert again == split and again.extra_tests == split.extra_tests and again.sha256 == split.sha256
    stored = load_or_create_split(store, seed=5)
    assert stored == split
    (path,) = tmp_path.glob("*.json")
    assert read_split(path).extra_tests == split.extra_tests
    tampered = json.loads(path.read_text())
    tampered["extra_tests"]["test_X"] = tampered["extra_tests"]["test_X"][:-1]
    path.write_text(json.dumps(tampered))
    with pytest.raises(DatasetError, match="hash does not match"):
        read_split(path)


def test_extra_test_labels_without_a_plain_test_set_are_refused(tmp_path):
    # train + test_600K only: splitting at random would put the 600 K frames into training
    store = _store_with_duplicates(tmp_path, 60, 0, 23, subsets=["train"] * 40 + ["test_600K"] * 20)
    with pytest.raises(DatasetError, match="--label FILE=test"):
        make_split(store, seed=0, n_val=5)
