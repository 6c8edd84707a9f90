"""Columns as numbers: the one conversion, with one policy for what it refuses.

Every path from a column to numbers goes through :func:`column_numbers`:
``np.asarray(message)``, ``Message.to_tensors``, ToTensor, Stack,
BatchNormalizer, Impute, the encoders' ``inverse_transform``, a Pipe reading
back its own pandas output, and the Torch estimators' input. Whether a column
holds numbers at all is :func:`is_numeric_column`'s answer, and the float
dtype of a float result is :func:`float_dtype`'s. The policy:

- Numbers are tensors and pandas columns of bool or real numeric dtype:
  numpy's, the nullable extension dtypes (``Int64``, ``Float64``,
  ``boolean``) and pyarrow-backed ones (``int64[pyarrow]``). Text, object,
  categorical and date columns are refused with a ``TypeError`` naming the
  column, even when an object column holds numbers.
- Complex numbers are refused with a ``ValueError`` naming the column.
- A missing value (``pd.NA`` of an extension dtype, NaN, None) is NaN. Where
  the caller allows NaN it stays NaN in a float result; elsewhere it is
  refused, naming the column and the first row, as is infinity.
- A cast to a narrower dtype refuses finite values that do not fit (1e300 as
  float32, 2**63 as int64), and a cast to integers refuses fractions (2.7 as
  int64), naming the column and the first row.
- Nothing is copied that need not be: a numpy column already of the dtype
  asked for comes back as a read-only view, a tensor as itself; a tensor of
  a pandas column or a numpy array is a copy, which no write can reach back
  through.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

__all__ = [
    "check_finite",
    "column_numbers",
    "float_dtype",
    "is_numeric_column",
    "missing_value_error",
    "numpy_dtype",
]

_NUMPY_DTYPES = {
    torch.float16: np.float16,
    torch.float32: np.float32,
    torch.float64: np.float64,
    torch.int8: np.int8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.int64: np.int64,
    torch.uint8: np.uint8,
    torch.bool: np.bool_,
}
_TORCH_DTYPES = {np.dtype(v): k for k, v in _NUMPY_DTYPES.items()}


def numpy_dtype(dtype: torch.dtype) -> np.dtype | None:
    """The numpy dtype of the same values as ``dtype``; None if numpy has none
    (``bfloat16``)."""
    found = _NUMPY_DTYPES.get(dtype)
    return None if found is None else np.dtype(found)


def is_numeric_column(
    column: Any, *, booleans: bool = True, complex_numbers: bool = True
) -> bool:
    """Whether ``column`` holds numbers: the one answer to that question.

    Parameters
    ----------
    column : torch.Tensor, pandas.Series, numpy.ndarray or dtype
        Anything with a ``dtype``, or a numpy, pandas or torch dtype itself.
    booleans : bool, default=True
        Whether booleans count (a default selection of columns to scale or
        average leaves them out).
    complex_numbers : bool, default=True
        Whether complex numbers count; where they do, :func:`column_numbers`
        refuses them later, naming the column.

    Returns
    -------
    bool
    """
    dtype = getattr(column, "dtype", column)
    if isinstance(dtype, torch.dtype):
        boolean, complex_ = dtype == torch.bool, dtype.is_complex
        return (booleans or not boolean) and (complex_numbers or not complex_)
    # The defaults ask pandas once: this runs per column of a single-row predict.
    api = pd.api.types
    if not api.is_numeric_dtype(dtype):
        return booleans and api.is_bool_dtype(dtype)  # pyarrow's bool
    if not booleans and api.is_bool_dtype(dtype):
        return False
    return complex_numbers or not api.is_complex_dtype(dtype)


def float_dtype(column: Any) -> type:
    """The float dtype of ``column``'s numbers in a float result (an array of
    a Message, a scaled or filled column): float32 stays float32; anything
    else (integers, booleans, half floats, float64) is float64.

    ``column`` is a tensor, Series, array, or anything with a ``dtype``.
    """
    float32 = torch.float32 if isinstance(column, torch.Tensor) else np.float32
    return np.float32 if column.dtype == float32 else np.float64


def _first_bad_row(bad: np.ndarray | torch.Tensor) -> int:
    if isinstance(bad, torch.Tensor):
        return int(bad.reshape(bad.shape[0], -1).any(dim=1).nonzero()[0, 0])
    return int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])


def missing_value_error(name: str, row: int) -> ValueError:
    """The error for a missing value (NaN, None, ``pd.NA``) in column ``name``,
    first at ``row``, where a step needs values."""
    return ValueError(
        f"Input contains NaN in column {name!r} (first at row {row}); fill or drop "
        "missing values first (Impute fills them)."
    )


def check_finite(name: str, values: np.ndarray | torch.Tensor) -> None:
    """Raise ValueError naming ``name`` and a row if ``values`` has NaN or inf."""
    if isinstance(values, torch.Tensor):
        if not values.is_floating_point() or bool(torch.isfinite(values).all()):
            return
        nan = torch.isnan(values)
    else:
        if values.dtype.kind not in "fc" or np.isfinite(values).all():
            return
        nan = np.isnan(values)
    if bool(nan.any()):
        raise missing_value_error(name, _first_bad_row(nan))
    inf = (
        ~torch.isfinite(values)
        if isinstance(values, torch.Tensor)
        else ~np.isfinite(values)
    )
    raise ValueError(
        f"Input contains infinity in column {name!r} (first at row "
        f"{_first_bad_row(inf)}); replace infinite values first."
    )


def column_numbers(
    name: str,
    column: Any,
    dtype: np.dtype | type | torch.dtype | None = None,
    *,
    allow_nan: bool = False,
    owner: str = "this step",
) -> np.ndarray | torch.Tensor:
    """Column ``name`` as numbers of ``dtype``, under the module's policy.

    Parameters
    ----------
    name : str
        The column's name, for errors.
    column : torch.Tensor, pandas.Series or numpy.ndarray
    dtype : numpy dtype, torch.dtype or None, default=None
        A numpy dtype gives a numpy array (on the CPU), a torch dtype a tensor
        (a tensor column stays on its device). None gives a tensor of the
        column's own dtype (float64 where missing values became NaN).
    allow_nan : bool, default=False
        Keep NaN and infinity in a float result instead of refusing them.
    owner : str, default="this step"
        Who asks, named in the errors (``"ToTensor"``).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Of the column's shape ``(n, ...)``.
    """
    values = _source(name, column, owner)
    if not allow_nan:
        check_finite(name, values)
    if dtype is None:
        return values if isinstance(values, torch.Tensor) else _tensor(values)
    if not isinstance(dtype, torch.dtype):
        dtype = np.dtype(dtype)
    target = dtype
    if isinstance(values, np.ndarray) and isinstance(dtype, torch.dtype):
        target = numpy_dtype(dtype) or dtype  # cast and check in numpy, then wrap
    # numpy warns of what the range check below names as an error.
    with np.errstate(over="ignore", invalid="ignore"):
        if isinstance(target, torch.dtype):
            out = _to_torch(values, target)
        else:
            out = _to_numpy(values, target)
        _check_range(name, values, out, asked=dtype)
        _check_whole(name, values, out, asked=dtype)
    if isinstance(dtype, torch.dtype) and isinstance(out, np.ndarray):
        return _tensor(out)
    return out


def _source(name: str, column: Any, owner: str) -> np.ndarray | torch.Tensor:
    """The column's own numbers: a tensor, or a numpy array with NA as NaN."""
    if isinstance(column, torch.Tensor):
        if column.is_complex():
            raise _complex(name, owner)
        return column
    dtype = column.dtype
    if not is_numeric_column(column):
        raise TypeError(
            f"Column {name!r} has dtype {dtype}, which is not numeric, and {owner} "
            "needs numbers; encode it first (OneHot or IndexEncoder) or leave it out."
        )
    if pd.api.types.is_complex_dtype(dtype):
        raise _complex(name, owner)
    if isinstance(column, np.ndarray):
        # Seen read-only, as pandas' own buffers: a tensor of it is a copy.
        values = column.view()
        values.flags.writeable = False
        return values
    if isinstance(dtype, np.dtype):
        return column.to_numpy()
    own = getattr(dtype, "numpy_dtype", None)
    if own is None or own.kind not in "biuf" or column.hasnans:
        return column.to_numpy(dtype=np.float64, na_value=np.nan)
    # pandas may hand out its own buffer here (Int64 does): seen read-only, so
    # that a tensor of it is a copy and no write reaches the column.
    values = column.to_numpy(dtype=own).view()
    values.flags.writeable = False
    return values


def _complex(name: str, owner: str) -> ValueError:
    return ValueError(
        f"Complex data not supported (column {name!r}): {owner} needs real "
        "numbers; take the real part or the magnitude (abs) first."
    )


def _tensor(values: np.ndarray) -> torch.Tensor:
    # pandas hands out read-only views under copy-on-write; a tensor of one
    # would let torch write into the DataFrame.
    return torch.from_numpy(values if values.flags.writeable else values.copy())


def _to_torch(values: np.ndarray | torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(values, torch.Tensor):
        return values.to(dtype)
    same = numpy_dtype(dtype)
    if same is not None:
        return _tensor(values.astype(same, copy=False))
    return _tensor(values).to(dtype)


def _to_numpy(values: np.ndarray | torch.Tensor, dtype: np.dtype) -> np.ndarray:
    if isinstance(values, np.ndarray):
        return values.astype(dtype, copy=False)
    return values.detach().cpu().to(_TORCH_DTYPES[dtype]).numpy()


def _check_range(
    name: str,
    source: np.ndarray | torch.Tensor,
    out: np.ndarray | torch.Tensor,
    asked: Any,
) -> None:
    """Refuse finite values that the cast to ``out``'s dtype could not hold;
    the error names the dtype ``asked``."""
    if _dtype_of(out) == torch.bool or _widens(source, out):
        return
    if _is_float(out):
        finite = _finite(out)
        if bool(finite.all()):
            return
        bad = _like(_finite(source), out) & ~finite
        largest = float(_info(out).max)
    else:
        bad = _out_of_integers(name, source, _info(out))
        if bad is None:
            return
        bad = _like(bad, out)
        largest = _info(out).max
    if bool(bad.any()):
        raise ValueError(
            f"Column {name!r} holds values out of the range of {asked} (first "
            f"at row {_first_bad_row(bad)}, largest {largest:.3g}); use a wider "
            "dtype such as 'float64', or rescale the column."
        )


def _check_whole(
    name: str,
    source: np.ndarray | torch.Tensor,
    out: np.ndarray | torch.Tensor,
    asked: Any,
) -> None:
    """Refuse fractions that the cast of floats to integers would drop."""
    if not _is_float(source) or _is_float(out) or _dtype_of(out) == torch.bool:
        return
    trunc = torch.trunc if isinstance(source, torch.Tensor) else np.trunc
    fraction = source != trunc(source)
    if bool(fraction.any()):
        # Row-major: the first flat position lies in the first row at fault.
        first = source.reshape(-1)[fraction.reshape(-1).nonzero()[0][0]]
        raise ValueError(
            f"Column {name!r} holds values with a fractional part, which {asked} "
            f"cannot hold (first at row {_first_bad_row(fraction)}: {float(first):g}); "
            "round them first, or use a float dtype."
        )


def _info(values: np.ndarray | torch.Tensor) -> Any:
    """numpy's or torch's ``finfo`` or ``iinfo`` of ``values``' dtype."""
    if isinstance(values, np.ndarray):
        return (np.finfo if values.dtype.kind == "f" else np.iinfo)(values.dtype)
    return (torch.finfo if values.is_floating_point() else torch.iinfo)(values.dtype)


def _out_of_integers(
    name: str, source: np.ndarray | torch.Tensor, info: Any
) -> np.ndarray | torch.Tensor | None:
    """Where ``source`` falls outside the integers of ``info``; None if it cannot."""
    if _is_float(source):
        check_finite(name, source)  # NaN and infinity have no integer
        # Both bounds are powers of two, exact as floats.
        return (source < float(info.min)) | (source >= float(info.max + 1))
    if _dtype_of(source) == torch.bool:
        return None
    own = _info(source)
    if own.min >= info.min and own.max <= info.max:
        return None
    return (source < max(info.min, own.min)) | (source > min(info.max, own.max))


def _widens(source: np.ndarray | torch.Tensor, out: np.ndarray | torch.Tensor) -> bool:
    """Whether every value of ``source``'s dtype fits ``out``'s (numpy's safe casts)."""
    dtypes = [
        v.dtype if isinstance(v, np.ndarray) else numpy_dtype(v.dtype)
        for v in (source, out)
    ]
    # Not "None in dtypes": numpy compares None equal to float64, its default.
    return all(d is not None for d in dtypes) and np.can_cast(*dtypes, "safe")


def _dtype_of(values: np.ndarray | torch.Tensor) -> torch.dtype | None:
    if isinstance(values, torch.Tensor):
        return values.dtype
    return _TORCH_DTYPES.get(values.dtype)


def _is_float(values: np.ndarray | torch.Tensor) -> bool:
    if isinstance(values, torch.Tensor):
        return values.is_floating_point()
    return values.dtype.kind == "f"


def _finite(values: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    if isinstance(values, torch.Tensor):
        return torch.isfinite(values)
    if values.dtype.kind == "f":
        return np.isfinite(values)
    return np.ones(values.shape, dtype=bool)


def _like(
    mask: np.ndarray | torch.Tensor, like: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """``mask`` in ``like``'s library (both on the CPU when they differ)."""
    if isinstance(like, torch.Tensor) and isinstance(mask, np.ndarray):
        return torch.from_numpy(mask).to(like.device)
    if isinstance(like, np.ndarray) and isinstance(mask, torch.Tensor):
        return mask.cpu().numpy()
    return mask
