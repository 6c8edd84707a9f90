"""A model's outputs as named table columns: the one rule for every writer.

``predict --out``, ``POST /predict``, ``write_parquet`` and ``write_sql`` name
the columns of an array result here, so the same model gives the same column
names wherever its predictions are written.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["as_numpy", "output_columns"]


def as_numpy(values: Any) -> np.ndarray:
    """``values`` (a tensor on any device, a Series, a list, ...) as a numpy array.

    A tensor is detached and copied to the host; anything else goes through
    ``np.asarray`` (a pandas Series gives its values).
    """
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().numpy()
    return np.asarray(values)


def output_columns(name: str, values: Any) -> dict[str, np.ndarray]:
    """One array result as named 1-D columns, by the number of outputs per row.

    One output per row, whether the array has shape (n,) or (n, 1), is the
    column ``name``; several (a multi-output regressor, an (n, k) transform)
    are ``name_0``, ``name_1``, ... in order, with trailing dimensions
    flattened, so every output is written.

    Parameters
    ----------
    name : str
        The column name, e.g. ``"prediction"``.
    values : array-like or torch.Tensor of shape (n,), (n, 1), (n, k, ...)

    Returns
    -------
    dict of str to numpy.ndarray

    Examples
    --------
    >>> import numpy as np
    >>> list(output_columns("prediction", np.zeros((3, 1))))
    ['prediction']
    >>> list(output_columns("prediction", np.zeros((3, 2))))
    ['prediction_0', 'prediction_1']
    """
    values = as_numpy(values)
    if values.ndim == 1:
        return {name: values}
    flat = values.reshape(len(values), -1)
    if flat.shape[1] == 1:
        return {name: flat[:, 0]}
    return {f"{name}_{i}": flat[:, i] for i in range(flat.shape[1])}
