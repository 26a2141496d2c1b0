"""Shared fixtures: seeded generators, torch thread count, small datasets."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:  # pragma: no cover
        pass
    yield


def random_density_matrix(n: int, rng: np.random.Generator, rank: int | None = None) -> np.ndarray:
    """Random mixed state of ``n`` qubits (Ginibre ensemble)."""
    d = 2**n
    r = rank or d
    a = rng.normal(size=(d, r)) + 1j * rng.normal(size=(d, r))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


def chi_square_pvalue(counts: np.ndarray, probs: np.ndarray, min_expected: float = 5.0) -> float:
    """Pearson chi-square p-value of ``counts`` against ``probs``, pooling rare cells."""
    from scipy.stats import chi2

    n = counts.sum()
    exp = probs * n
    order = np.argsort(exp)
    exp_s, cnt_s = exp[order], counts[order]
    # pool the rarest cells until the pooled expectation reaches min_expected
    cut = np.searchsorted(np.cumsum(exp_s), min_expected)
    pooled_e = np.concatenate([[exp_s[: cut + 1].sum()], exp_s[cut + 1 :]])
    pooled_c = np.concatenate([[cnt_s[: cut + 1].sum()], cnt_s[cut + 1 :]])
    stat = ((pooled_c - pooled_e) ** 2 / pooled_e).sum()
    dof = len(pooled_e) - 1
    return float(chi2.sf(stat, dof))
