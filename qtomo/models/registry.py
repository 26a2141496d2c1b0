"""Registry of named models: build by name, rebuild from a saved state.

A backend registers its class with the :func:`register` decorator in its own module
``qtomo/models/<name>.py``. Every module of the :mod:`qtomo.models` package is imported the
first time the registry is asked, so a new model file joins the registry (and the contract
tests, which run over :func:`model_names`) without editing this file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

import qtomo.models as pkg
from qtomo.errors import DataFileError, InputValueError
from qtomo.models.base import DensityEstimator

_REGISTRY: dict[str, type[DensityEstimator]] = {}
_LOADED = False
_SKIP = {"base", "registry"}

T = TypeVar("T", bound=type[DensityEstimator])


def register(name: str) -> Callable[[T], T]:
    """Class decorator: make a :class:`DensityEstimator` subclass buildable as ``name``."""

    def deco(cls: T) -> T:
        if not (isinstance(cls, type) and issubclass(cls, DensityEstimator)):
            raise TypeError(f"{cls!r} is not a DensityEstimator subclass")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_REGISTRY[name]}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in _SKIP and not info.name.startswith("_"):
            importlib.import_module(f"qtomo.models.{info.name}")
    _LOADED = True


def model_names() -> list[str]:
    """Names of all registered models, sorted."""
    _load_all()
    return sorted(_REGISTRY)


def model_class(name: str) -> type[DensityEstimator]:
    """The class registered as ``name``; :class:`InputValueError` for an unknown name."""
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputValueError(
            f"unknown model {name!r}; expected one of {', '.join(model_names())}"
        ) from None


def model_hparam_names(name: str) -> list[str]:
    """Keyword arguments the model ``name`` accepts besides ``n_qubits`` and ``K``."""
    sig = inspect.signature(model_class(name).__init__)
    return [
        p.name
        for p in sig.parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def build_model(name: str, n_qubits: int, K: int, **hparams: Any) -> DensityEstimator:
    """Build the model ``name`` for N qubits and K outcomes.

    ``hparams`` are the model's explicit keyword arguments (see :func:`model_hparam_names`);
    an unknown key raises :class:`InputValueError` naming the accepted ones. Parameters are
    initialised from torch's global RNG: seed it (``torch.manual_seed``) for reproducibility.
    """
    allowed = model_hparam_names(name)
    unknown = sorted(set(hparams) - set(allowed))
    if unknown:
        raise InputValueError(
            f"model {name!r} has no option {', '.join(unknown)}; it accepts "
            f"{', '.join(allowed) or 'none'}"
        )
    return model_class(name)(n_qubits, K, **hparams)


def model_from_state(state: dict[str, Any]) -> DensityEstimator:
    """Rebuild a model from :meth:`DensityEstimator.state` (e.g. read from a checkpoint)."""
    try:
        name, n, k, hp, sd = (
            state["name"], state["n_qubits"], state["K"], state["hparams"], state["state_dict"]
        )
    except (KeyError, TypeError) as e:
        raise DataFileError(f"model state is incomplete (missing {e})") from None
    model = build_model(name, n, k, **hp)
    try:
        model.load_state_dict(sd)
    except (RuntimeError, KeyError, TypeError) as e:
        msg = str(e).splitlines()[0]
        raise DataFileError(f"model state does not fit model {name!r}: {msg}") from None
    return model


__all__ = [
    "build_model",
    "model_class",
    "model_from_state",
    "model_hparam_names",
    "model_names",
    "register",
]
