"""Dataframes of other libraries (polars, pyarrow, ...) as pandas DataFrames.

The one place where such input is recognised and converted: ``Message``,
every Pipe and the Torch estimators go through :func:`native_to_pandas`.
narwhals, which scikit-learn depends on, recognises the libraries, so none of
them is imported here.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw
import pandas as pd

__all__ = ["copies_on_write", "is_native_frame", "native_to_pandas"]

# The option that switches copy-on-write warns from pandas 3 on, where it is
# always on.
_PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3


def is_native_frame(data: Any) -> bool:
    """Whether ``data`` is an eager dataframe of a library other than pandas.

    Such frames (polars, pyarrow) always have string column names.
    """
    if isinstance(data, pd.DataFrame):
        return False
    frame = nw.from_native(data, eager_only=True, pass_through=True)
    return isinstance(frame, nw.DataFrame)


def native_to_pandas(data: Any) -> Any:
    """``data`` as a pandas DataFrame if it is another library's eager dataframe.

    Anything else (pandas objects, dicts, arrays, Messages) is returned
    unchanged. Column names and column order are kept.

    Parameters
    ----------
    data : object

    Returns
    -------
    pandas.DataFrame or ``data``

    Raises
    ------
    TypeError
        For a lazy frame (a polars LazyFrame, a DuckDB relation): a Message
        holds its data in memory, so collecting is left to the caller.
    """
    if isinstance(data, pd.DataFrame):
        return data
    frame = nw.from_native(data, pass_through=True)
    if isinstance(frame, nw.DataFrame):
        return frame.to_pandas()
    if isinstance(frame, nw.LazyFrame):
        raise TypeError(
            f"Got a lazy {type(data).__module__.split('.')[0]} {type(data).__name__}; "
            "a Message holds its data in memory. Collect it first (polars: "
            "'.collect()'), or stream it in chunks with a source."
        )
    return data


def copies_on_write() -> bool:
    """Whether pandas copies shared buffers before writing to them.

    Always from pandas 3 on; in pandas 2 only under
    ``pd.set_option("mode.copy_on_write", True)``.
    """
    return _PANDAS_3 or pd.get_option("mode.copy_on_write") is True
