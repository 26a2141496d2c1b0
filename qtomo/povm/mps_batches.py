"""Shared plumbing of the MPS samplers and log-probabilities: the site tensors they start
from, the choice of backend, and the batched (optionally threaded) run of a per-batch kernel.

The kernels themselves are in :mod:`qtomo.povm.mps_sampler` (drawing outcome strings) and
:mod:`qtomo.povm.mps_logprob` (exact log P); :mod:`qtomo.povm.sampling` re-exports the public
names.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from qtomo.errors import InputValueError
from qtomo.states.mps import MPS

ProgressFn = Callable[[int], object]


def prepare_tensors(mps: MPS) -> list[np.ndarray]:
    """Site tensors of the normalised right-canonical form of ``mps`` (legs ``vL p vR``).

    Parameters
    ----------
    mps : MPS

    Returns
    -------
    list of ndarray
        The right environment of every bond is then the identity, so a shot needs only a
        left object.

    Raises
    ------
    InputValueError
        ``mps`` is not an :class:`~qtomo.states.mps.MPS`.
    """
    if not isinstance(mps, MPS):
        raise InputValueError(f"expected an MPS, got {type(mps).__name__}")
    return list(mps.as_right_canonical().tensors)


def check_batch(batch_size: int) -> None:
    """Check a batch size.

    Parameters
    ----------
    batch_size : int

    Raises
    ------
    InputValueError
        ``batch_size`` is not a positive integer.
    """
    if int(batch_size) != batch_size or batch_size < 1:
        raise InputValueError(f"batch_size must be a positive integer, got {batch_size}")


def all_real(ts: list[np.ndarray]) -> bool:
    """Whether every site tensor is real, so that the torch float64 kernels apply.

    Parameters
    ----------
    ts : list of ndarray

    Returns
    -------
    bool
    """
    return not any(np.iscomplexobj(t) for t in ts)


def torch_sites(ts: list[np.ndarray]) -> list[torch.Tensor]:
    """Real site tensors as torch tensors.

    Parameters
    ----------
    ts : list of ndarray
        Real site tensors.

    Returns
    -------
    list of torch.Tensor
        float64, sharing memory with contiguous float64 inputs.
    """
    return [torch.from_numpy(np.ascontiguousarray(t, dtype=np.float64)) for t in ts]


def run_batches(kernel: Callable[[np.ndarray], np.ndarray],
                batches: Iterable[tuple[int, int, np.ndarray]], out: np.ndarray,
                progress: ProgressFn | None, threaded: bool) -> None:
    """``out[start:stop] = kernel(x)`` for every batch ``(start, stop, x)``, in order.

    With ``threaded`` (torch kernels), one worker thread per torch thread runs whole batches
    while torch computes single-threaded inside each: the kernels are many small operations,
    which torch does not split across cores, so batches side by side use the cores better.
    The inputs are made in order in this thread, so results do not depend on the threads.

    Parameters
    ----------
    kernel : callable
        Maps one batch's input to its rows of ``out``.
    batches : iterable of (int, int, ndarray)
        Row range and input of each batch.
    out : ndarray
        Filled in place.
    progress : callable, optional
        Called as ``progress(stop - start)`` after every batch.
    threaded : bool
        Run batches in worker threads (one per torch thread).
    """
    workers = torch.get_num_threads() if threaded else 1
    if workers <= 1:
        for start, stop, x in batches:
            out[start:stop] = kernel(x)
            if progress is not None:
                progress(stop - start)
        return
    pending: deque = deque()

    def collect() -> None:
        start, stop, fut = pending.popleft()
        out[start:stop] = fut.result()
        if progress is not None:
            progress(stop - start)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            for start, stop, x in batches:
                pending.append((start, stop, pool.submit(kernel, x)))
                if len(pending) > workers:
                    collect()
            while pending:
                collect()
    finally:
        torch.set_num_threads(workers)
