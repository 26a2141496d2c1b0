"""Errors shown to users as one line, and the CLI exit codes they map to.

Exit codes (documented in the README):

* 0 success
* 1 unexpected internal error (a bug: please report it)
* 2 bad command-line usage (click's own code: unknown option, bad choice, ...)
* 3 invalid input value (a number out of range, an unsupported combination)
* 4 bad or unreadable input file (missing, not HDF5, wrong schema, incomplete, corrupt)
* 5 output already exists (pass --overwrite) or cannot be written
* 6 a computation did not converge or does not fit in memory
"""

from __future__ import annotations


class QtomoError(Exception):
    """Base class of errors that the CLI prints as one line."""

    exit_code = 1


class InputValueError(QtomoError, ValueError):
    """A parameter value is out of range or a combination is unsupported."""

    exit_code = 3


class DataFileError(QtomoError):
    """A dataset, checkpoint or lab file is missing, malformed or incomplete."""

    exit_code = 4


class OutputExistsError(QtomoError):
    """The output path exists and --overwrite was not given, or it cannot be written."""

    exit_code = 5


class ComputationError(QtomoError):
    """A numerical method did not converge or the problem does not fit in memory."""

    exit_code = 6
