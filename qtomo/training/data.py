"""Shots for training: a seeded train/validation split read block by block from HDF5.

The training shots of a dataset are cut into blocks of ``block_rows`` consecutive rows. Within
each block a permutation seeded by ``(seed, block)`` puts ``round(val_fraction * rows)`` rows
into the validation set and the rest into the training set, so the split is fixed by the seed
and never needs the whole file in memory. An epoch visits the blocks in a seeded random order
and the training rows of each block in a seeded random order; minibatches run across block
boundaries. Datasets up to ``cache_bytes`` are read once and kept in memory; larger ones are
read from disk again every epoch (one block at a time), with identical batches either way.

Under data parallelism every rank walks the same global batches and keeps rows
``rank::world`` of each, so the gradient averaged over ranks is that of the global batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from qtomo.data.hdf5 import Dataset, iter_blocks
from qtomo.errors import InputValueError
from qtomo.typing import Outcomes

#: Seed-stream tags, so split and epoch orders never share random numbers.
_SPLIT, _EPOCH = 0x5B1, 0xE90


class ShotSplit:
    """Deterministic train/validation split of a dataset's training shots.

    Parameters
    ----------
    dataset : Dataset
        An open dataset (only its ``/outcomes`` are used).
    val_fraction : float
        Fraction of the shots held out for validation, in [0, 0.9].
    seed : int
        Seed of the split and of the epoch orders.
    block_rows : int
        Rows per block (the unit of disk reads and of the split).
    cache_bytes : int
        Keep all shots in memory when the outcome array is at most this large.
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        val_fraction: float,
        seed: int,
        block_rows: int = 1 << 18,
        cache_bytes: int = 1 << 30,
    ) -> None:
        if not 0.0 <= val_fraction <= 0.9:
            raise InputValueError(f"--val-fraction must lie in [0, 0.9], got {val_fraction}")
        if block_rows < 1:
            raise InputValueError(f"block_rows must be >= 1, got {block_rows}")
        self.dataset = dataset
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.blocks = list(iter_blocks(dataset.shots, int(block_rows)))
        self._n_val = [self._val_count(stop - start) for start, stop in self.blocks]
        self.n_val = int(sum(self._n_val))
        self.n_train = dataset.shots - self.n_val
        if self.n_train < 1:
            raise InputValueError(
                f"no training shots left: {dataset.shots} shots with --val-fraction "
                f"{val_fraction}; lower the validation fraction"
            )
        self._cache: list[Outcomes] | None = None
        if dataset.shots * dataset.n_qubits <= cache_bytes:
            self._cache = [dataset.outcomes(s, e) for s, e in self.blocks]

    @property
    def in_memory(self) -> bool:
        """Whether all shots are held in memory."""
        return self._cache is not None

    def _val_count(self, rows: int) -> int:
        if self.val_fraction == 0.0:
            return 0
        return min(rows - 1, max(1, round(self.val_fraction * rows))) if rows > 1 else 0

    def _block(self, b: int) -> Outcomes:
        if self._cache is not None:
            return self._cache[b]
        s, e = self.blocks[b]
        return self.dataset.outcomes(s, e)

    def _split(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(train rows, validation rows) of block ``b`` as sorted local indices."""
        s, e = self.blocks[b]
        perm = np.random.default_rng([self.seed, _SPLIT, b]).permutation(e - s)
        nv = self._n_val[b]
        return np.sort(perm[nv:]), np.sort(perm[:nv])

    def val_rows(self, max_rows: int | None = None) -> Outcomes:
        """Validation shots (the first ``max_rows`` in block order), uint8 (rows, N)."""
        out: list[Outcomes] = []
        have = 0
        for b in range(len(self.blocks)):
            if max_rows is not None and have >= max_rows:
                break
            if self._n_val[b] == 0:
                continue
            rows = self._block(b)[self._split(b)[1]]
            out.append(rows)
            have += len(rows)
        if not out:
            return np.zeros((0, self.dataset.n_qubits), dtype=np.uint8)
        v = np.concatenate(out)
        return v if max_rows is None else v[:max_rows]

    def steps_per_epoch(self, batch_size: int, world: int = 1) -> int:
        """Number of minibatches :meth:`train_batches` yields per epoch."""
        full, rest = divmod(self.n_train, batch_size)
        return full + (1 if rest >= world else 0)

    def train_batches(
        self, epoch: int, batch_size: int, rank: int = 0, world: int = 1,
        transform: Callable[[Outcomes], Outcomes] | None = None,
        with_index: bool = False,
    ) -> Iterator[Any]:
        """Minibatches of epoch ``epoch``: uint8 arrays, this rank's share of each batch.

        Every rank gets the same number of batches; a last batch smaller than ``world`` rows
        is dropped. ``transform`` (e.g. symmetry augmentation) is applied to each whole
        global batch before it is shared out, so every rank must call it identically.
        With ``with_index`` each item is ``(rows, index)``: ``index`` (int64) holds the
        global row numbers of the shots in ``/outcomes`` (per-shot weights of bootstrap
        members are a fixed function of it, see :mod:`qtomo.training.members`).
        """
        if transform is None:
            def transform(x: Outcomes) -> Outcomes:
                return x

        if batch_size < world:
            raise InputValueError(f"--batch-size {batch_size} is smaller than {world} processes")
        rng = np.random.default_rng([self.seed, _EPOCH, epoch])
        pending: list[Outcomes] = []
        pending_idx: list[np.ndarray] = []
        n_pending = 0
        for b in rng.permutation(len(self.blocks)):
            train_idx = self._split(int(b))[0]
            local = train_idx[rng.permutation(len(train_idx))]
            rows = self._block(int(b))[local]
            pending.append(rows)
            if with_index:
                pending_idx.append(local.astype(np.int64) + self.blocks[int(b)][0])
            n_pending += len(rows)
            while n_pending >= batch_size:
                buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
                batch, rest = buf[:batch_size], buf[batch_size:]
                pending, n_pending = [rest], len(rest)
                if with_index:
                    ib = np.concatenate(pending_idx) if len(pending_idx) > 1 else pending_idx[0]
                    pending_idx = [ib[batch_size:]]
                    yield transform(batch)[rank::world], ib[:batch_size][rank::world]
                else:
                    yield transform(batch)[rank::world]
        if n_pending >= world:
            buf = np.concatenate(pending) if len(pending) > 1 else pending[0]
            if with_index:
                ib = np.concatenate(pending_idx) if len(pending_idx) > 1 else pending_idx[0]
                yield transform(buf)[rank::world], ib[rank::world]
            else:
                yield transform(buf)[rank::world]

    def train_indices(self) -> np.ndarray:
        """Global row numbers (int64, sorted) of all training shots."""
        parts = [self._split(b)[0].astype(np.int64) + s for b, (s, _) in enumerate(self.blocks)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


__all__ = ["ShotSplit"]
