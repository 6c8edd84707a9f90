"""Object state without torch or pandas objects, for pickling and for skops.

Fitted Pipes and Messages hand their state through :func:`to_portable`: tensors
become numpy arrays on the CPU (so a model fitted on a GPU loads without one,
and equal data pickles to equal bytes), Series become arrays with their dtype.
skops, which executes no code when loading, reads such state with no untrusted
types. :func:`from_portable` rebuilds the objects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.compose import make_column_selector

__all__ = ["from_portable", "to_portable"]

# numpy has no bfloat16: such tensors travel as their int16 bit patterns.
_BIT_VIEWS = {torch.bfloat16: torch.int16}
_TENSOR, _DTYPE, _SERIES = "__tensor__", "__torch_dtype__", "__series__"
_SELECTOR, _SCALAR_TYPE = "__column_selector__", "__scalar_type__"
_SELECTOR_FIELDS = ("pattern", "dtype_include", "dtype_exclude")
# The types a column selector may name, besides numpy's scalar types.
_BUILTIN_TYPES = {t.__name__: t for t in (bool, int, float, complex, str, object)}
# What a file may name, built once from the objects themselves: a name read
# from a file is looked up in these tables, never as an attribute of torch or
# numpy, whose module ``__getattr__`` imports submodules and calls functions.
_NUMPY_TYPES = {
    t.__name__: t
    for t in vars(np).values()
    if isinstance(t, type) and issubclass(t, np.generic)
}
_TORCH_DTYPES = {
    str(d).removeprefix("torch."): d
    for d in vars(torch).values()
    if isinstance(d, torch.dtype)
}


def _tensor(tensor: torch.Tensor) -> dict[str, Any]:
    values = tensor.detach().cpu()
    if values.dtype in _BIT_VIEWS:
        values = values.view(_BIT_VIEWS[values.dtype])
    name = str(tensor.dtype).removeprefix("torch.")
    # contiguous in torch: numpy's ascontiguousarray would make a 0-d array 1-d
    return {_TENSOR: name, "values": values.contiguous().numpy()}


def _series(series: pd.Series) -> dict[str, Any]:
    state = {
        _SERIES: str(series.dtype),
        "values": series.to_numpy(dtype=object)
        if not isinstance(series.dtype, np.dtype)
        else series.to_numpy(),
        "index": series.index.to_numpy(dtype=object),
        "name": series.name,
    }
    if isinstance(series.dtype, pd.CategoricalDtype):
        state["categories"] = series.dtype.categories.to_numpy(dtype=object)
        state["ordered"] = bool(series.dtype.ordered)
    return state


def _selector(selector: make_column_selector) -> dict[str, Any]:
    """A column selector as plain data: skops then needs to trust no type."""
    fields = {}
    for field in _SELECTOR_FIELDS:
        value = getattr(selector, field)
        items = value if isinstance(value, (list, tuple)) else [value]
        items = [_scalar_type_name(item) for item in items]
        fields[field] = items if isinstance(value, (list, tuple)) else items[0]
    return {_SELECTOR: fields}


def _scalar_type_name(value: Any) -> Any:
    if isinstance(value, type) and (
        value in _BUILTIN_TYPES.values() or issubclass(value, np.generic)
    ):
        return {_SCALAR_TYPE: f"{value.__module__}.{value.__name__}"}
    return value


def _scalar_type(name: Any) -> type:
    """A builtin or numpy scalar type by name, only if it is one (see _torch_dtype)."""
    module, _, attribute = str(name).partition(".")
    tables = {"builtins": _BUILTIN_TYPES, "numpy": _NUMPY_TYPES}
    found = tables.get(module, {}).get(attribute)
    if found is None:
        raise ValueError(f"{name!r} is not a scalar type; the saved state is corrupt.")
    return found


def _rebuild_selector(fields: dict[str, Any]) -> make_column_selector:
    def rebuild(value: Any) -> Any:
        if isinstance(value, list):
            return [rebuild(item) for item in value]
        if isinstance(value, dict) and _SCALAR_TYPE in value:
            return _scalar_type(value[_SCALAR_TYPE])
        return value

    return make_column_selector(
        **{field: rebuild(fields.get(field)) for field in _SELECTOR_FIELDS}
    )


def to_portable(value: Any) -> Any:
    """Replace tensors, torch dtypes, Series and column selectors inside ``value``,
    recursively."""
    if isinstance(value, make_column_selector):
        return _selector(value)
    if isinstance(value, torch.Tensor):
        return _tensor(value)
    if isinstance(value, torch.dtype):
        return {_DTYPE: str(value).removeprefix("torch.")}
    if isinstance(value, pd.Series):
        return _series(value)
    if isinstance(value, dict):
        return {key: to_portable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(to_portable(item) for item in value)
    return value


def _rebuild_series(state: dict[str, Any]) -> pd.Series:
    dtype: Any = state[_SERIES]
    if "categories" in state:
        dtype = pd.CategoricalDtype(state["categories"], ordered=state["ordered"])
    index = pd.Index(state["index"]).infer_objects()
    if len(index) == 0:
        index = pd.RangeIndex(0)
    return pd.Series(state["values"], index=index, dtype=dtype, name=state["name"])


def _torch_dtype(name: Any) -> torch.dtype:
    """The torch dtype of that name, from the table of dtypes alone: a crafted
    file could name any attribute of torch (``torch.load``) to have it stored,
    and later called, as a Pipe's state, and merely looking up a name such as
    ``_inductor`` or ``has_cuda`` imports modules or calls a function."""
    dtype = _TORCH_DTYPES.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise ValueError(f"{name!r} is not a torch dtype; the saved state is corrupt.")
    return dtype


def _rebuild_tensor(state: dict[str, Any]) -> torch.Tensor:
    """The tensor of ``state``, in its dtype and shape (a 0-d one stays 0-d)."""
    tensor = torch.from_numpy(np.array(state["values"], copy=True))
    dtype = _torch_dtype(state[_TENSOR])
    if tensor.dtype == dtype:
        return tensor
    # A dtype numpy lacks travels as bits of another of the same size.
    if tensor.element_size() != torch.empty(0, dtype=dtype).element_size():
        raise ValueError(
            f"a {dtype} tensor is stored as {tensor.dtype} values; the saved "
            "state is corrupt."
        )
    return tensor.view(dtype).reshape(tensor.shape)


def from_portable(value: Any) -> Any:
    """Inverse of :func:`to_portable`."""
    if isinstance(value, dict):
        if _TENSOR in value:
            return _rebuild_tensor(value)
        if _DTYPE in value:
            return _torch_dtype(value[_DTYPE])
        if _SERIES in value:
            return _rebuild_series(value)
        if _SELECTOR in value:
            return _rebuild_selector(value[_SELECTOR])
        return {key: from_portable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(from_portable(item) for item in value)
    return value
