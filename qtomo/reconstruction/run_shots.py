"""The shots a run was trained and validated on, as outcome-table indices, and the tables the
blend (:mod:`qtomo.reconstruction.blend`) and the bootstrap members
(:mod:`qtomo.reconstruction.members`) mix into the model's table.

What lives here: :class:`RunShots` (the dataset's shots with the run's train/validation
split, rebuilt from its seed, and their frequencies averaged over the run's symmetry group),
:func:`run_shots` (the split of a run on disk), :func:`run_symmetry` and :func:`blend_table`
(the model's table mixed with the frequencies of all the shots).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qtomo.povm.born import outcome_index
from qtomo.reconstruction.config import TUNING
from qtomo.training.data import ShotSplit
from qtomo.training.symmetry import symmetrize_table

#: At least this many validation shots to choose the blend's weight on.
MIN_VALIDATION_SHOTS = TUNING.min_validation_shots


@dataclass
class RunShots:
    """The run's training shots as outcome-table indices.

    Attributes
    ----------
    index : ndarray (shots,)
        Flat outcome index of every shot of the dataset.
    train_rows : ndarray
        Rows the model was trained on (sorted).
    val_rows : ndarray
        The run's validation rows.
    size : int
        K^N.
    K, n : int
        Outcomes per qubit and qubits.
    symmetry : str
        The group the run was trained under (``symmetry_used``, :mod:`qtomo.training.symmetry`):
        the frequencies are averaged over it as the model's augmented training shots are.
    """

    index: np.ndarray
    train_rows: np.ndarray
    val_rows: np.ndarray
    size: int
    K: int = 0
    n: int = 0
    symmetry: str = "none"

    def symmetrize(self, table: np.ndarray) -> np.ndarray:
        """``table`` averaged over the run's symmetry group."""
        if self.symmetry == "none":
            return table
        return symmetrize_table(table, self.K, self.n, self.symmetry)

    def counts(self, weights: np.ndarray | None = None, every: bool = False) -> np.ndarray:
        """The training shots' counts per outcome (``weights``: counts per dataset row;
        ``every``: of all the shots, the validation shots too)."""
        rows = np.arange(self.index.size) if every else self.train_rows
        w = None if weights is None else np.asarray(weights, dtype=np.float64)[rows]
        return np.bincount(self.index[rows], weights=w, minlength=self.size)

    def frequencies(self, weights: np.ndarray | None = None, every: bool = False
                    ) -> np.ndarray:
        """The training shots' frequency table (``weights``, ``every``: as :meth:`counts`),
        averaged over the run's symmetry group (:meth:`symmetrize`)."""
        counts = self.counts(weights, every)
        return self.symmetrize(counts / max(float(counts.sum()), 1.0))


def run_symmetry(run_info: dict[str, Any] | None) -> str:
    """The group a run was trained under (``symmetry_used``), for the frequencies of the
    dataset it was trained on; "none" for a run of other shots or without a record."""
    if (run_info or {}).get("dataset_hash_matches") is False:
        return "none"
    return str(((run_info or {}).get("train_config") or {}).get("symmetry_used") or "none")


def run_shots(ds: Any, run_info: dict[str, Any] | None, K: int,
              index: np.ndarray | None = None) -> RunShots | None:
    """The run's split of ``ds`` (None without a run config or validation shots, or for a run
    trained on another dataset); ``index`` is the flat outcome index of every shot when the
    caller has read them already (:attr:`ShotTallies.index`), else they are read here."""
    if (run_info or {}).get("dataset_hash_matches") is False:
        return None  # trained on other shots: its split is not this dataset's
    tc = (run_info or {}).get("train_config") or {}
    vf, seed = tc.get("val_fraction"), tc.get("seed")
    if not vf or seed is None:
        return None
    split = ShotSplit(ds, val_fraction=float(vf), seed=int(seed),
                      block_rows=int(tc.get("block_rows") or 1 << 18), cache_bytes=0)
    train = split.train_indices()
    val = np.setdiff1d(np.arange(ds.shots, dtype=np.int64), train, assume_unique=True)
    if val.size < MIN_VALIDATION_SHOTS:
        return None
    if index is None:
        index = outcome_index(ds.outcomes(0, ds.shots), K)
    return RunShots(index=index, train_rows=train, val_rows=val, size=K**ds.n_qubits, K=K,
                    n=ds.n_qubits, symmetry=run_symmetry(run_info))


def blend_table(table: np.ndarray, weight: float, shots: RunShots,
                row_weights: np.ndarray | None = None) -> np.ndarray:
    """(1 - w) table + w f, f the frequencies of all the shots, the validation shots folded
    back in once the weight is chosen (of a member's resample with ``row_weights``)."""
    if weight == 0:
        return table
    return (1.0 - weight) * table + weight * shots.frequencies(row_weights, every=True)


__all__ = ["MIN_VALIDATION_SHOTS", "RunShots", "blend_table", "run_shots", "run_symmetry"]
