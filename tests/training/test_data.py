"""Train/validation split and block-wise batches."""

from __future__ import annotations

import numpy as np
import pytest

from qtomo.data.hdf5 import open_dataset
from qtomo.errors import InputValueError
from qtomo.povm.born import outcome_index
from qtomo.training.data import ShotSplit


def rows_as_keys(a):
    return np.sort(outcome_index(a, 4))  # the multiset of strings


def test_split_is_disjoint_complete_and_seeded(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        sp = ShotSplit(ds, val_fraction=0.2, seed=1, block_rows=700)
        assert sp.n_val + sp.n_train == ds.shots
        assert abs(sp.n_val - 600) <= len(sp.blocks)
        idx_train, idx_val = [], []
        for b, (s, _) in enumerate(sp.blocks):
            t, v = sp._split(b)
            idx_train += list(s + t)
            idx_val += list(s + v)
        assert sorted(idx_train + idx_val) == list(range(ds.shots))
        assert not set(idx_train) & set(idx_val)
        np.testing.assert_array_equal(sp.val_rows(), ds.outcomes()[sorted(idx_val)])
        sp2 = ShotSplit(ds, val_fraction=0.2, seed=1, block_rows=700)
        np.testing.assert_array_equal(sp.val_rows(), sp2.val_rows())
        sp3 = ShotSplit(ds, val_fraction=0.2, seed=2, block_rows=700)
        assert not np.array_equal(sp.val_rows(), sp3.val_rows())


def test_epoch_covers_training_rows_once(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        sp = ShotSplit(ds, val_fraction=0.1, seed=3, block_rows=512)
        batches = list(sp.train_batches(0, 128))
        assert len(batches) == sp.steps_per_epoch(128)
        assert all(len(b) == 128 for b in batches[:-1])
        got = np.concatenate(batches)
        assert len(got) == sp.n_train
        train = np.concatenate([ds.outcomes(s, e)[sp._split(b)[0]]
                                for b, (s, e) in enumerate(sp.blocks)])
        np.testing.assert_array_equal(rows_as_keys(got), rows_as_keys(train))
        # another epoch: same rows, another order
        other = np.concatenate(list(sp.train_batches(1, 128)))
        assert not np.array_equal(got, other)
        np.testing.assert_array_equal(rows_as_keys(other), rows_as_keys(got))


def test_streaming_equals_in_memory(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        mem = ShotSplit(ds, val_fraction=0.1, seed=3, block_rows=512)
        disk = ShotSplit(ds, val_fraction=0.1, seed=3, block_rows=512, cache_bytes=0)
        assert mem.in_memory and not disk.in_memory
        for x, y in zip(mem.train_batches(2, 100), disk.train_batches(2, 100), strict=True):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(mem.val_rows(), disk.val_rows())


def test_ranks_partition_each_global_batch(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        sp = ShotSplit(ds, val_fraction=0.1, seed=3)
        full = list(sp.train_batches(0, 100))
        r0 = list(sp.train_batches(0, 100, rank=0, world=2))
        r1 = list(sp.train_batches(0, 100, rank=1, world=2))
        assert len(r0) == len(r1) == sp.steps_per_epoch(100, 2)
        for f, a, b in zip(full, r0, r1, strict=True):
            np.testing.assert_array_equal(f[0::2], a)
            np.testing.assert_array_equal(f[1::2], b)


def test_bad_fractions(tiny_h5):
    with open_dataset(tiny_h5) as ds:
        with pytest.raises(InputValueError):
            ShotSplit(ds, val_fraction=0.95, seed=0)
        sp = ShotSplit(ds, val_fraction=0.0, seed=0)
        assert sp.n_val == 0 and len(sp.val_rows()) == 0
