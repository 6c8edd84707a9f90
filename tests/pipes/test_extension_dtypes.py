"""pandas extension dtypes behave as their plain counterparts in every Pipe."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fireworks_sk import (
    BatchNormalizer,
    DropColumns,
    Impute,
    IndexEncoder,
    OneHot,
    SelectColumns,
    Stack,
    ToTensor,
)
from tests._data import every_pipe

PIPES = every_pipe(
    {
        OneHot: OneHot(["i", "b", "s", "c"]),
        IndexEncoder: IndexEncoder(["i", "b", "s", "c"]),
        Stack: Stack(["i", "f", "b"]),
        Impute: Impute(strategy="most_frequent"),
        SelectColumns: SelectColumns(["i", "f", "b"]),
        DropColumns: DropColumns(["s", "c"]),
    }
)


def plain() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.array([1, 2, 3, 2], dtype=np.int64),
            "f": [0.5, 1.5, 2.0, 1.0],
            "b": [True, False, True, True],
            "s": pd.Series(["a", "b", "a", "c"], dtype=object),
            "c": pd.Categorical(["u", "v", "u", "u"]),
        }
    )


def extension(string_dtype: str = "string[pyarrow]") -> pd.DataFrame:
    return plain().astype(
        {"i": "Int64", "f": "Float64", "b": "boolean", "s": string_dtype}
    )


def numbers(message) -> np.ndarray:
    """The numeric part of a Pipe's output (string columns left out)."""
    names = [c for c in message.columns if c not in ("s", "c") or message.is_tensor(c)]
    return np.asarray(message[names], dtype=np.float64)


@pytest.mark.parametrize("pipe", PIPES, ids=lambda p: type(p).__name__)
@pytest.mark.parametrize("string_dtype", ["string[pyarrow]", "string[python]", "str"])
def test_extension_dtypes_give_the_plain_output(pipe, string_dtype):
    expected = clone(pipe).fit(plain())
    fitted = clone(pipe).fit(extension(string_dtype))
    assert getattr(fitted, "columns_", None) == getattr(expected, "columns_", None)
    np.testing.assert_array_equal(
        numbers(fitted.transform(extension(string_dtype))),
        numbers(expected.transform(plain())),
    )


@pytest.mark.parametrize("pipe", PIPES, ids=lambda p: type(p).__name__)
def test_fitted_on_extension_dtypes_serves_plain_ones_without_a_warning(pipe):
    # Dask reads strings as string[pyarrow]; a server's pandas frame has
    # object or str columns, and int64 where the training data had Int64.
    fitted = clone(pipe).fit(extension())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for frame in (plain(), plain().astype({"s": "str"})):
            got = numbers(fitted.transform(frame))
            np.testing.assert_array_equal(got, numbers(fitted.transform(extension())))
        clone(pipe).fit(plain()).transform(extension())


def test_a_real_dtype_change_still_warns():
    fitted = BatchNormalizer().fit(plain()[["i", "f"]])
    with pytest.warns(UserWarning, match="Column 'i' has dtype float64 .* int64"):
        fitted.transform(plain()[["i", "f"]].astype({"i": float}))


@pytest.mark.parametrize(
    "pipe",
    [BatchNormalizer(), ToTensor(), Stack(["i", "f"]), OneHot(["i"])],
    ids=lambda p: type(p).__name__,
)
@pytest.mark.parametrize("column", ["i", "f"])
def test_pd_na_is_a_missing_value_named_like_nan(pipe, column):
    frame = extension()[["i", "f"]]
    frame.loc[2, column] = pd.NA
    if isinstance(pipe, OneHot) and column == "f":
        pipe = OneHot(["f"])
    with pytest.raises(ValueError, match=f"NaN.* in column '{column}' .*row 2"):
        clone(pipe).fit(frame)


def test_boolean_with_pd_na_is_one_category_under_missing_category():
    frame = pd.DataFrame({"b": pd.array([True, None, False, True], dtype="boolean")})
    encoder = OneHot(missing="category").fit(frame)
    assert encoder.get_feature_names_out().tolist() == ["b_False", "b_True", "b_nan"]
    assert encoder.transform(frame)["b"].argmax(dim=1).tolist() == [1, 2, 0, 1]
