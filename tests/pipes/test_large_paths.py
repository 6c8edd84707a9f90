"""Fit and transform of large batches take shorter roads than the general ones.

BatchNormalizer centres a float32 column in float64 as it reads it, with no
float64 copy, and the encoders look a column of pyarrow strings up with
pyarrow's ``index_in`` instead of pandas' ``get_indexer``. Rule: each road
gives, bit for bit, what the general one gives.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fireworks_sk import BatchNormalizer, IndexEncoder, Message, OneHot
from fireworks_sk.pipes._encode import _SMALL, _Lookup
from fireworks_sk.pipes._normalize import _moments

try:
    import pyarrow as pa
except ImportError:  # an optional dependency
    pa = None
needs_arrow = pytest.mark.skipif(pa is None, reason="pyarrow is not installed")

PROPERTY = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def same_moments(a, b) -> bool:
    return a.n == b.n and all(
        torch.equal(x, y) or (x.isnan().all() and y.isnan().all())
        for x, y in ((a.shift, b.shift), (a.offset, b.offset), (a.m2, b.m2))
    )


# ------------------------------------------- BatchNormalizer: float32 input
float32_columns = hnp.arrays(
    np.float32,
    st.integers(1, 300),
    elements=st.floats(width=32, allow_nan=True, allow_infinity=True),
)


@PROPERTY
@given(float32_columns, st.booleans())
def test_moments_of_float32_equal_those_of_its_float64_copy(values, scratch):
    buffer = np.full(len(values), 7.0) if scratch else None
    before = values.copy()
    got = _moments(values, buffer)
    assert same_moments(got, _moments(values.astype(np.float64)))
    assert got.shift.dtype == got.offset.dtype == got.m2.dtype == torch.float64
    np.testing.assert_array_equal(values, before)  # read, never written


@PROPERTY
@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 300),
        elements=st.floats(-1e200, 1e200) | st.floats(1e8 - 8, 1e8 + 8),
    )
)
def test_moments_in_a_scratch_buffer_equal_those_in_a_new_array(values):
    assert same_moments(_moments(values, np.empty(len(values))), _moments(values))


@PROPERTY
@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(1, 400))
def test_float32_columns_fit_the_statistics_of_their_float64_copies(seed, k, rows):
    # Among float64 and int64 columns, which share the batch's buffer.
    rng = np.random.default_rng(seed)
    scale = rng.choice([1e-3, 1.0, 1e4, 1e30])
    dtypes = [np.float32, np.float32, np.float64] + [np.int64] * bool(scale < 1e18)
    narrow = pd.DataFrame(
        {
            f"c{i}": (rng.normal(1e3, 1.0, rows) * scale).astype(dtype)
            for i, dtype in enumerate(rng.choice(dtypes, k))
        }
    )
    wide = narrow.astype(np.float64)
    together, apart = BatchNormalizer().fit(narrow), BatchNormalizer().fit(wide)
    chunks = BatchNormalizer()
    for start in range(0, rows, 97):
        chunks.partial_fit(narrow.iloc[start : start + 97])
    wide_chunks = BatchNormalizer()
    for start in range(0, rows, 97):
        wide_chunks.partial_fit(wide.iloc[start : start + 97])
    for name in narrow.columns:
        for attribute in ("mean_", "var_", "scale_"):
            got = getattr(together, attribute)[name]
            assert torch.equal(got, getattr(apart, attribute)[name])
            got = getattr(chunks, attribute)[name]
            assert torch.equal(got, getattr(wide_chunks, attribute)[name])


def test_a_nan_in_a_float32_column_is_named_with_its_row():
    frame = pd.DataFrame({"a": np.float32([1, 2, 3]), "b": np.float32([1, np.nan, 2])})
    with pytest.raises(ValueError, match=r"NaN in column 'b' \(first at row 1"):
        BatchNormalizer().fit(frame)


# ------------------------------------------------ encoders: pyarrow strings
STRINGS = ["a", "b", "", "é", "nan", "None", "NaN", "a b", "0", "1", "\x00", "😀"]
# pandas' "str" holds pyarrow strings from pandas 3 on (Python objects before).
_STR_IS_ARROW = getattr(pd.Series([], dtype="str").dtype, "storage", "") == "pyarrow"
ARROW_DTYPES = ["str"] * _STR_IS_ARROW + ["string[pyarrow]", "string", "large_string"]


def arrow_series(values: list, dtype: str) -> pd.Series:
    if dtype in ("string", "large_string"):
        return pd.Series(values, dtype=pd.ArrowDtype(getattr(pa, dtype)()))
    return pd.Series(values, dtype=dtype)


@st.composite
def arrow_cases(draw):
    """Fitted categories (strings, maybe NaN last) and a column of pyarrow
    strings to look up: sliced, in one or more chunks, maybe with nulls."""
    fitted = draw(
        st.lists(st.sampled_from(STRINGS), min_size=1, max_size=8, unique=True)
    )
    categories = sorted(fitted) + ([math.nan] if draw(st.booleans()) else [])
    pool = [*STRINGS, "zz"] + ([None] if draw(st.booleans()) else [])
    dtype = draw(st.sampled_from(ARROW_DTYPES))
    parts = draw(
        st.lists(st.lists(st.sampled_from(pool), max_size=60), min_size=1, max_size=3)
    )
    series = [arrow_series(p, dtype) for p in parts]
    values = pd.concat(series, ignore_index=True) if len(series) > 1 else series[0]
    start = draw(st.integers(0, len(values)))
    values = values.iloc[start:].reset_index(drop=True)
    return np.array(categories, dtype=object), values


@needs_arrow
@PROPERTY
@given(arrow_cases())
def test_index_in_gives_the_codes_of_get_indexer(case):
    categories, values = case
    lookup = _Lookup(categories)
    found = lookup.arrow_codes(values)
    if values.hasnans:
        assert found is None  # missing values are pandas' to look up
        return
    indexed = lookup.index_codes(values)
    assert found.dtype == indexed.dtype
    np.testing.assert_array_equal(found, indexed)


@needs_arrow
@pytest.mark.parametrize(
    "categories",
    [np.array(["a", "\ud800"], dtype=object), np.array([1, 2]), np.array([True])],
)
def test_categories_arrow_cannot_hold_are_looked_up_by_pandas(categories):
    values = pd.Series(["a", "b"] * 100, dtype="str")
    assert _Lookup(categories).arrow_codes(values) is None


@pytest.mark.parametrize("dtype", ["object", "string[python]", "category"])
def test_columns_not_of_pyarrow_strings_are_looked_up_by_pandas(dtype):
    values = pd.Series(["a", "b"] * 100, dtype=dtype)
    assert _Lookup(np.array(["a", "b"], dtype=object)).arrow_codes(values) is None


@needs_arrow
@pytest.mark.parametrize("encoder", [OneHot, IndexEncoder])
@pytest.mark.parametrize("dtype", ARROW_DTYPES)
def test_encoding_pyarrow_strings_equals_encoding_the_same_objects(encoder, dtype):
    rng = np.random.default_rng(0)
    values = rng.choice(["x", "y", "é", ""], 3 * _SMALL).tolist()
    fitted = encoder(handle_unknown="ignore").fit(
        Message({"c": pd.Series(values[_SMALL:], dtype=object)})
    )
    values[:3] = ["unseen", "x", "y"]
    got = fitted.transform(Message({"c": arrow_series(values, dtype)}))["c"]
    expected = fitted.transform(Message({"c": pd.Series(values, dtype=object)}))["c"]
    assert got.dtype == expected.dtype and torch.equal(got, expected)


def test_an_unknown_pyarrow_string_is_named():
    fitted = OneHot().fit(Message({"c": pd.Series(["a", "b"], dtype="str")}))
    values = pd.Series(["a"] * _SMALL + ["c"], dtype="str")
    with pytest.raises(ValueError, match=r"unknown categories \['c'\] in column 'c'"):
        fitted.transform(Message({"c": values}))


@st.composite
def onehot_cases(draw):
    """A fitted OneHot (maybe with infrequent categories) and values to encode,
    maybe with categories unseen in fit."""
    fitted = draw(st.lists(st.sampled_from(STRINGS), min_size=1, max_size=40))
    handle = draw(st.sampled_from(["ignore", "infrequent_if_exist"]))
    encoder = OneHot(
        handle_unknown=handle,
        min_frequency=draw(st.none() | st.integers(1, 4)),
        max_categories=draw(st.none() | st.integers(1, 5)),
    ).fit(Message({"c": pd.Series(fitted, dtype=object)}))
    pool = [*STRINGS, "zz", "yy"]
    values = draw(st.lists(st.sampled_from(pool), min_size=0, max_size=300))
    dtype = draw(st.sampled_from(["object", *ARROW_DTYPES]))
    column = (
        pd.Series(values, dtype=object)
        if dtype == "object"
        else arrow_series(values, dtype)
    )
    return encoder, values, column


@needs_arrow
@PROPERTY
@given(onehot_cases())
def test_onehot_rows_hold_one_indicator_at_the_category_s_output(case):
    encoder, values, column = case
    got = encoder.transform(Message({"c": column}))["c"]
    categories = encoder.categories_["c"].tolist()
    positions = encoder._positions["c"]
    width = int(positions.max()) + 1
    infrequent = encoder.infrequent_categories_["c"] is not None
    expected = torch.zeros((len(values), width), dtype=torch.float32)
    for row, value in enumerate(values):
        if value in categories:
            expected[row, positions[categories.index(value)]] = 1.0
        elif infrequent and encoder.handle_unknown == "infrequent_if_exist":
            expected[row, width - 1] = 1.0
    assert got.dtype == torch.float32 and torch.equal(got, expected)


# ---------------------------------------------- encoders: pandas Categorical
CATEGORY_VALUES = [*STRINGS, 0, 1, 2.5, True, None, math.nan]


@st.composite
def categorical_cases(draw):
    """Fitted categories of any kind and a Categorical column to look up,
    with categories declared and unused, missing values, maybe ordered."""
    kind = draw(st.sampled_from(["strings", "ints", "mixed"]))
    if kind == "strings":
        pool = STRINGS
    elif kind == "ints":
        pool = [0, 1, 2, 3]
    else:
        pool = CATEGORY_VALUES[:-2]
    fitted = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8, unique=True))
    categories = fitted + ([math.nan] if draw(st.booleans()) else [])
    categories = np.array(categories, dtype=None if kind == "ints" else object)
    pool = [*pool, "zz", 7, None]
    declared = draw(st.lists(st.sampled_from(pool[:-1]), max_size=10, unique=True))
    rows = draw(st.lists(st.sampled_from([*declared, None]), max_size=60))
    try:
        column = pd.Categorical(rows, categories=declared, ordered=draw(st.booleans()))
    except (TypeError, ValueError):  # categories pandas cannot hold together
        column = pd.Categorical(rows)
    return categories, pd.Series(column)


@PROPERTY
@given(categorical_cases())
def test_a_categorical_s_codes_are_its_categories_codes_taken(case):
    categories, values = case
    lookup = _Lookup(categories)
    found = lookup.category_codes(values)
    indexed = _Lookup(categories).index_codes(values)
    assert found.dtype == indexed.dtype
    np.testing.assert_array_equal(found, indexed)


@pytest.mark.filterwarnings("ignore:Column 'c' has dtype category but")
@pytest.mark.parametrize("encoder", [OneHot, IndexEncoder])
def test_encoding_a_categorical_equals_encoding_the_same_objects(encoder):
    rng = np.random.default_rng(1)
    values = rng.choice(["x", "y", "é"], 3 * _SMALL).astype(object)
    values[:4] = ["unseen", None, "x", "y"]
    fitted = encoder(handle_unknown="ignore", missing="category").fit(
        Message({"c": pd.Series(values[2:], dtype=object)})
    )
    column = pd.Series(
        pd.Categorical(values, categories=["y", "x", "é", "unseen", "w"])
    )
    got = fitted.transform(Message({"c": column}))["c"]
    expected = fitted.transform(Message({"c": pd.Series(values, dtype=object)}))["c"]
    assert got.dtype == expected.dtype and torch.equal(got, expected)
