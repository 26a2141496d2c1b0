"""Options and behaviour shared by every qtomo command.

:func:`run_command` turns the errors of :mod:`qtomo.errors` into one line on stderr and the
documented exit code; no user ever sees a traceback for bad input.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from qtomo.errors import ComputationError, InputValueError, QtomoError

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> None:
    """Print ``qtomo: error: message`` on stderr and exit with ``code``."""
    click.echo(f"qtomo: error: {message}", err=True)
    sys.exit(code)


def run_command(func: F) -> F:
    """Decorator for command bodies: map errors to one line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except QtomoError as e:
            fail(str(e), e.exit_code)
        except MemoryError:
            fail("out of memory; use fewer qubits, shots or a smaller batch", 6)
        except KeyboardInterrupt:
            fail("interrupted; no partial output was kept", 130)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.exceptions.Abort):
            raise
        except Exception as e:  # last resort: one line, not a traceback
            if os.environ.get("QTOMO_DEBUG"):
                raise
            fail(f"internal error: {type(e).__name__}: {e} (set QTOMO_DEBUG=1 for a traceback)", 1)

    return wrapper  # type: ignore[return-value]


def finite_float(name: str, value: float) -> float:
    """Reject NaN and infinities with a one-line error."""
    if not math.isfinite(value):
        raise InputValueError(f"--{name} must be a finite number, got {value}")
    return value


def parse_readout_error(text: str | None, option: str = "--readout-error"
                        ) -> tuple[float, float] | None:
    """``"P10,P01"`` as two floats (one-line error otherwise); None for None."""
    if text is None:
        return None
    parts = text.replace(" ", "").split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise InputValueError(f"{option} {text!r}: expected two probabilities "
                              "P10,P01, e.g. 0.02,0.05") from None


def emit_json(obj: dict[str, Any]) -> None:
    """Print one JSON object on stdout (NaN becomes null)."""
    click.echo(json.dumps(_clean(obj), sort_keys=False))


def _clean(o: Any) -> Any:
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if hasattr(o, "item") and callable(o.item):
        try:
            return _clean(o.item())
        except (ValueError, TypeError):
            pass
    return o


seed_option = click.option(
    "--seed", type=int, default=1234, show_default=True, help="Random seed (runs repeat exactly)."
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object with the results on stdout."
)
overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace an existing output instead of refusing."
)

__all__ = [
    "ComputationError",
    "emit_json",
    "fail",
    "finite_float",
    "json_option",
    "overwrite_option",
    "parse_readout_error",
    "run_command",
    "seed_option",
]
