"""Exceptions raised by fireworks_sk.

Each exception subclasses :class:`FireworksError` and, where scikit-learn has an
equivalent, scikit-learn's class too, so ``except sklearn.exceptions.NotFittedError``
keeps working.
"""

from __future__ import annotations

import sklearn.exceptions

__all__ = ["FireworksError", "NotFittedError", "SchemaError", "SourceError"]


class FireworksError(Exception):
    """Base class of every error raised by fireworks_sk."""


class NotFittedError(FireworksError, sklearn.exceptions.NotFittedError):
    """An estimator was used before it was fitted."""


class SchemaError(FireworksError, ValueError):
    """Input columns or dtypes differ from what an estimator was fitted on."""


class SourceError(FireworksError, RuntimeError):
    """A data source failed to read; the message names the source and position."""
