"""Checkpoints and run directories.

A run directory (written by :class:`qtomo.training.Trainer`) holds::

    config.json       the full training config, model name and hparams, dataset path and hash
    last.pt           checkpoint after the latest epoch (resume from here)
    best.pt           checkpoint of the epoch with the lowest validation NLL (the model to use)
    metrics.csv       one row per epoch
    model_card.json   model, dataset hash, qtomo and torch versions, final scores

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, written atomically
and readable with ``torch.load(path, weights_only=True)``::

    format="qtomo-checkpoint", format_version, qtomo_version, dataset_hash, config (dict),
    model (DensityEstimator.state()), optimizer, scheduler, ema (state or None),
    rng {"torch": ByteTensor, "cuda": [ByteTensor] }, trainer (epoch, step, best_val_nll, ...,
    history: list of metric rows)

:func:`load_run` returns the trained model (from ``best.pt``) ready for ``log_prob`` and
``sample``.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from qtomo._version import __version__
from qtomo.data.atomic import atomic_path
from qtomo.errors import DataFileError
from qtomo.models.base import DensityEstimator
from qtomo.models.registry import model_from_state

CHECKPOINT_FORMAT = "qtomo-checkpoint"
CHECKPOINT_VERSION = 1
RUN_FILES = ("config.json", "last.pt", "best.pt", "metrics.csv", "model_card.json")


def save_checkpoint(path: str | os.PathLike[str], ckpt: dict[str, Any]) -> None:
    """Write ``ckpt`` atomically (temporary file, then rename)."""
    body = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION,
            "qtomo_version": __version__, **ckpt}
    with atomic_path(path) as tmp:
        torch.save(body, tmp)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a checkpoint; :class:`DataFileError` names what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{p}: no such checkpoint")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError,
            zipfile.BadZipFile, AttributeError, TypeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataFileError(
            f"{p}: corrupt or unreadable checkpoint ({msg[:120]}); train again or resume "
            "from another copy"
        ) from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise DataFileError(f"{p}: not a qtomo checkpoint")
    if ck.get("format_version") != CHECKPOINT_VERSION:
        raise DataFileError(
            f"{p}: checkpoint format version {ck.get('format_version')} is not supported "
            f"(this qtomo reads {CHECKPOINT_VERSION})"
        )
    for key in ("model", "config", "dataset_hash", "trainer"):
        if key not in ck:
            raise DataFileError(f"{p}: checkpoint is missing {key!r}")
    return ck


def model_from_checkpoint(ck: dict[str, Any], path: str | os.PathLike[str] = "checkpoint"
                          ) -> DensityEstimator:
    """Rebuild the model stored in a checkpoint dict."""
    try:
        return model_from_state(ck["model"])
    except DataFileError as e:
        raise DataFileError(f"{path}: {e}") from None


def load_run(
    run_dir: str | os.PathLike[str], *, which: str = "best", device: str | torch.device = "cpu"
) -> tuple[DensityEstimator, dict[str, Any]]:
    """Load a trained model from a run directory.

    Parameters
    ----------
    run_dir : path
        Directory written by ``qtomo train``.
    which : {"best", "last"}
        ``best.pt`` (lowest validation NLL; the default) or ``last.pt``.
    device : str or torch.device
        Where to put the model.

    Returns
    -------
    model : DensityEstimator
        In eval mode. ``model.log_prob(a)`` takes integer outcome strings (batch, N) and
        returns float64 log Q(a); ``model.sample(n, generator)`` returns (n, N) uint8.
    config : dict
        The run's config: training settings, ``model``, ``hparams``, ``dataset_hash``,
        ``dataset_path``, ``n_qubits``, ``K``, ``povm`` and the checkpoint's epoch.
    """
    d = Path(run_dir)
    if which not in ("best", "last"):
        raise DataFileError(f"which must be 'best' or 'last', got {which!r}")
    if not d.is_dir():
        raise DataFileError(f"{d}: no such run directory")
    path = d / f"{which}.pt"
    ck = read_checkpoint(path)
    model = model_from_checkpoint(ck, path).to(device).eval()
    config = dict(ck["config"])
    config["checkpoint"] = str(path)
    config["epoch"] = ck["trainer"].get("epoch")
    return model, config


def write_json(path: str | os.PathLike[str], obj: dict[str, Any]) -> None:
    """Write a JSON file atomically (NaN and infinities become null)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(jsonable(obj), indent=2, sort_keys=False) + "\n")


def jsonable(o: Any) -> Any:
    """Plain JSON value: numpy/torch scalars as Python numbers, numpy arrays as lists, paths as
    strings, NaN and infinities as None (the one converter: checkpoints, run files, reports)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if hasattr(o, "tolist") and hasattr(o, "ndim") and o.ndim > 0:  # numpy arrays
        return jsonable(o.tolist())
    if hasattr(o, "item") and callable(o.item):
        try:
            return jsonable(o.item())
        except (ValueError, TypeError, RuntimeError):
            pass
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    return o


__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "RUN_FILES",
    "load_run",
    "model_from_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
    "jsonable",
    "write_json",
]
