"""Exceptions and warnings raised by fireworks_sk.

Each exception subclasses :class:`FireworksError` and, where scikit-learn or
skorch has an equivalent, their class too, so ``except
sklearn.exceptions.NotFittedError`` keeps working.
"""

from __future__ import annotations

import sklearn.exceptions
from skorch.exceptions import NotInitializedError

__all__ = [
    "ConfigError",
    "CorruptFileError",
    "CorruptStateError",
    "FireworksError",
    "NetNotFittedError",
    "NotFittedError",
    "RequestError",
    "RunError",
    "SchemaError",
    "SourceError",
    "UntrustedTypesError",
    "VersionMismatchWarning",
]


class FireworksError(Exception):
    """Base class of every error raised by fireworks_sk."""


class NotFittedError(FireworksError, sklearn.exceptions.NotFittedError):
    """An estimator was used before it was fitted."""


class NetNotFittedError(NotFittedError, NotInitializedError):
    """An unfitted net was used.

    Caught as ``fireworks_sk.NotFittedError``, scikit-learn's
    ``NotFittedError`` and skorch's ``NotInitializedError`` alike.
    """


class SchemaError(FireworksError, ValueError):
    """Input columns or dtypes differ from what an estimator was fitted on."""


class SourceError(FireworksError, RuntimeError):
    """A data source failed to read; the message names the source and position."""


class CorruptFileError(FireworksError, ValueError):
    """A saved file is truncated, altered or not a fireworks_sk file."""


class CorruptStateError(CorruptFileError):
    """An unpickled or loaded object's fitted state disagrees with itself.

    Raised while the object is rebuilt, so plain ``joblib.load`` and
    ``pickle.load`` refuse it too; :func:`fireworks_sk.load` names the file.
    """


class UntrustedTypesError(FireworksError, TypeError):
    """A skops file holds types that the caller did not trust, or a file that
    had to be skops is not."""


class VersionMismatchWarning(UserWarning):
    """A file was saved with other versions of the libraries than these."""


class ConfigError(FireworksError, ValueError):
    """A run config has an unknown key, a missing key or a bad value."""


class RunError(FireworksError, ValueError):
    """A fit of a run failed; the message names the step and the cause."""


class RequestError(FireworksError, ValueError):
    """An HTTP request the model server refuses before reading its rows (a
    body too large, not JSON, or without a list of rows); ``status`` is the
    HTTP status it is answered with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
