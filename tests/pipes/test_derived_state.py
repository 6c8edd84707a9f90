"""What Pipes derive from their fitted state and keep for transform.

The encoders keep each column's categories indexed, and look few rows up in a
dict; BatchNormalizer keeps its means and scales as vectors. Rules: a refit,
a ``partial_fit`` or a ``set_params`` never leaves stale values; nothing
derived is saved, and a loaded Pipe gives the same output; and a small input
gives, bit for bit, what the same rows give inside a large one (the general
path).
"""

from __future__ import annotations

import math
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

import fireworks_sk
from fireworks_sk import BatchNormalizer, IndexEncoder, Message, OneHot, Stack
from fireworks_sk.message import read_array, read_column
from fireworks_sk.pipes._encode import _SMALL, _Lookup, _values

ENCODERS = [OneHot, IndexEncoder]
LARGE = _SMALL + 1
PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def assert_identical(a: Message, b: Message) -> None:
    """Same columns, kinds, dtypes and bytes (0.0 and -0.0 differ, NaN is NaN)."""
    assert a.columns == b.columns
    for name in a.columns:
        x, y = a[name], b[name]
        assert type(x) is type(y), name
        if isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype and x.shape == y.shape, name
            assert x.numpy().tobytes() == y.numpy().tobytes(), name
        else:
            pd.testing.assert_series_equal(x, y, check_exact=True)


def inside_large(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame``'s rows first, then copies of them up to more than _SMALL rows."""
    repeats = LARGE // len(frame) + 1
    return pd.concat([frame] * repeats, ignore_index=True)


# ------------------------------------------------ encoders: never stale
@pytest.mark.parametrize("rows", [1, LARGE])
@pytest.mark.parametrize("encoder", ENCODERS)
def test_refit_on_other_categories_encodes_with_the_new_ones(encoder, rows):
    pipe = encoder().fit(pd.DataFrame({"c": ["a", "b"]}))
    pipe.transform(pd.DataFrame({"c": ["b"] * rows}))
    pipe.fit(pd.DataFrame({"c": ["b", "c"]}))
    got = pipe.transform(pd.DataFrame({"c": ["c"] * rows}))["c"]
    expected = [0.0, 1.0] if encoder is OneHot else 1
    assert got.tolist() == [expected] * rows


@pytest.mark.parametrize("rows", [1, LARGE])
@pytest.mark.parametrize("encoder", ENCODERS)
def test_partial_fit_makes_a_new_category_known(encoder, rows):
    pipe = encoder().partial_fit(pd.DataFrame({"c": ["m", "z"]}))
    with pytest.raises(ValueError, match=r"unknown categories \['a'\]"):
        pipe.transform(pd.DataFrame({"c": ["a"] * rows}))
    pipe.partial_fit(pd.DataFrame({"c": ["a"]}))
    got = pipe.transform(pd.DataFrame({"c": ["a", "z"] * rows}))["c"]
    expected = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]] if encoder is OneHot else [0, 2]
    assert got.tolist() == expected * rows


@pytest.mark.parametrize("rows", [1, LARGE])
def test_set_params_after_fit_takes_effect_at_transform(rows):
    pipe = OneHot().fit(pd.DataFrame({"c": ["a", "b"]}))
    unknown = pd.DataFrame({"c": ["x"] * rows})
    with pytest.raises(ValueError, match=r"unknown categories \['x'\] in column 'c'"):
        pipe.transform(unknown)
    pipe.set_params(handle_unknown="ignore")
    assert pipe.transform(unknown)["c"].tolist() == [[0.0, 0.0]] * rows


@pytest.mark.parametrize("rows", [1, LARGE])
@pytest.mark.parametrize("encoder", ENCODERS)
def test_a_loaded_encoder_gives_the_same_codes_and_was_saved_without_lookups(
    encoder, rows
):
    frame = pd.DataFrame({"c": ["b", "a", None, "c"], "k": [3, 1, 2, 1]})
    pipe = encoder(missing="category").fit(frame)
    expected = pipe.transform(inside_large(frame).iloc[:rows])
    assert "_lookups" not in pipe.__getstate__()
    loaded = pickle.loads(pickle.dumps(pipe))
    assert "_lookups" not in vars(loaded)
    assert_identical(loaded.transform(inside_large(frame).iloc[:rows]), expected)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_skops_round_trip_of_an_encoder_gives_the_same_output(encoder, tmp_path):
    frame = pd.DataFrame({"c": ["b", "a", "c", "a"]})
    pipe = encoder().fit(frame)
    pipe.transform(frame)  # the lookups are built
    fireworks_sk.save(pipe, tmp_path / "pipe.skops", format="skops")
    loaded = fireworks_sk.load(tmp_path / "pipe.skops", format="skops")
    assert_identical(loaded.transform(frame), pipe.transform(frame))


# ---------------------------------------- BatchNormalizer: never stale
def test_batchnormalizer_refit_scales_with_the_new_statistics():
    pipe = BatchNormalizer().fit(pd.DataFrame({"a": [0.0, 2.0]}))
    pipe.fit(pd.DataFrame({"a": [10.0, 14.0]}))
    assert pipe.transform(pd.DataFrame({"a": [12.0, 14.0]}))["a"].tolist() == [
        0.0,
        1.0,
    ]


def test_batchnormalizer_with_mean_set_after_fit_takes_effect():
    frame = pd.DataFrame({"a": [10.0, 14.0], "b": np.float32([1.0, 3.0])})
    pipe = BatchNormalizer().fit(frame)
    pipe.set_params(with_mean=False)
    out = pipe.transform(frame)
    assert out["a"].tolist() == [5.0, 7.0]
    assert out["b"].dtype == np.float32 and out["b"].tolist() == [1.0, 3.0]


def test_a_loaded_batchnormalizer_gives_the_same_output_and_was_saved_without_vectors(
    tmp_path,
):
    frame = pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": np.float32([0.5, 0.25, 2.0])})
    pipe = BatchNormalizer().fit(frame)
    assert "_vectors" not in pipe.__getstate__()
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    assert "_vectors" not in vars(loaded)
    assert_identical(loaded.transform(frame), pipe.transform(frame))
    fireworks_sk.save(pipe, tmp_path / "pipe.skops", format="skops")
    loaded = fireworks_sk.load(tmp_path / "pipe.skops", format="skops")
    assert_identical(loaded.transform(frame), pipe.transform(frame))


# ------------------------------- small inputs equal the general path
STRINGS = ["a", "b", "", "é", "nan", "None", "NaN", "a b", "0", "1"]
# Values of an object column: strings, missing markers, and other types.
OBJECTS = [*STRINGS, None, float("nan"), 0, 1, 1.0, True, b"a", ("a",)]


@st.composite
def category_cases(draw):
    """Fitted categories (strings, NaN last) and values of any dtype to look up."""
    fitted = draw(st.lists(st.sampled_from(STRINGS), min_size=1, max_size=6))
    missing = draw(st.booleans())
    dtype = draw(st.sampled_from(["object", "str", "string", "category"]))
    pool = OBJECTS if dtype == "object" else [*STRINGS, None, "zz"]
    values = draw(st.lists(st.sampled_from(pool), min_size=0, max_size=_SMALL))
    return fitted, missing, pd.Series(values, dtype=dtype)


@PROPERTY
@given(category_cases())
def test_dict_lookup_gives_the_codes_of_get_indexer(case):
    fitted, missing, values = case
    mode = "category" if missing else "error"
    column = pd.Series(fitted + ([None] if missing else []), dtype=object)
    encoder = IndexEncoder(missing=mode).fit(Message({"c": column}))
    lookup = _Lookup(encoder.categories_["c"])
    table = lookup.table()
    assert table is not None
    looked_up = _values("c", values, mode)
    indexed = lookup.index_codes(looked_up)
    found = _Lookup.table_codes(looked_up, table)
    assert found.dtype == indexed.dtype
    np.testing.assert_array_equal(found, indexed)


@pytest.mark.parametrize(
    "categories",
    [np.array([1, 2]), np.array(["a", 1], dtype=object), np.array([True, False])],
)
def test_categories_other_than_strings_are_looked_up_by_pandas(categories):
    assert _Lookup(categories).table() is None


@st.composite
def small_frames(draw):
    """A random frame, its fitting rows and a random Pipeline of Pipes."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_numeric = draw(st.integers(0, 6))
    columns = {}
    for i in range(n_numeric):
        dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
        scale = draw(st.sampled_from([1.0, 1e-3, 1e6]))
        columns[f"n{i}"] = (rng.normal(size=LARGE) * scale).astype(dtype)
    missing = draw(st.booleans())
    for i in range(draw(st.integers(1, 3))):
        dtype = draw(st.sampled_from(["object", "str", "category"]))
        # Not "nan": OneHot would name its category as the missing one's.
        names = [v for v in STRINGS if v != "nan"]
        values = rng.choice(names[: draw(st.integers(1, len(names)))], LARGE)
        values = values.astype(object)
        if missing:
            values[rng.random(LARGE) < 0.2] = None
        columns[f"s{i}"] = pd.Series(values, dtype=dtype)
    order = draw(st.permutations(list(columns)))
    frame = pd.DataFrame({name: columns[name] for name in order})
    steps = []
    if n_numeric and draw(st.booleans()):
        steps.append(("scale", BatchNormalizer(with_mean=draw(st.booleans()))))
    strings = [c for c in order if c.startswith("s")]
    encoder = draw(st.sampled_from(ENCODERS))
    mode = "category" if missing else "error"
    steps.append(("encode", encoder(strings, handle_unknown="ignore", missing=mode)))
    if encoder is OneHot and draw(st.booleans()):
        steps.append(("stack", Stack()))
    rows = draw(st.integers(1, 8))
    return frame, Pipeline(steps), rows, draw(st.booleans())


@PROPERTY
@given(small_frames())
def test_a_few_rows_transform_as_they_do_inside_a_large_input(case):
    frame, pipeline, rows, unseen = case
    fit_on = frame.iloc[rows:] if unseen else frame
    pipeline.fit(fit_on.reset_index(drop=True))
    small = frame.iloc[:rows].reset_index(drop=True)
    large = inside_large(small)
    got = pipeline.transform(small)
    general = pipeline.transform(large)[:rows]
    assert_identical(got, general)


def test_nan_category_matches_only_float_nan():
    lookup = _Lookup(np.array(["a", math.nan], dtype=object))
    values = pd.Series(["a", math.nan, "b", "nan"], dtype=object)
    table = lookup.table()
    assert _Lookup.table_codes(values, table).tolist() == [0, 1, -1, -1]
    assert lookup.index_codes(values).tolist() == [0, 1, -1, -1]


@PROPERTY
@given(category_cases(), st.booleans())
def test_codes_read_from_the_array_are_those_of_the_series(case, from_frame):
    fitted, missing, values = case
    mode = "category" if missing else "error"
    column = pd.Series(fitted + ([None] if missing else []), dtype=object)
    encoder = IndexEncoder(missing=mode).fit(Message({"c": column}))
    m = Message(pd.DataFrame({"c": values}) if from_frame else {"c": values})
    found = encoder._lookup("c").found_codes(read_array(m, "c"))
    if set(values.dropna()) <= set(fitted) and not values.hasnans:
        assert found is not None  # the case the array lookup is for
    if found is None:
        return
    general = encoder._column_codes("c", read_column(m, "c"))
    assert found.dtype == general.dtype
    np.testing.assert_array_equal(found, general)


@pytest.mark.parametrize(
    "values",
    [
        pd.Series(["a", None], dtype=object),
        pd.Series(["a", ["b"]], dtype=object),
        pd.Series(["a", "z"], dtype="str"),
        pd.Series([1.0, np.inf]),
        pd.Series(["a"] * LARGE, dtype="str"),
    ],
)
def test_codes_of_missing_unknown_or_many_values_are_left_to_the_series(values):
    encoder = OneHot().fit(pd.DataFrame({"c": ["a", "b"]}))
    assert (
        encoder._lookup("c").found_codes(read_array(Message({"c": values}), "c"))
        is None
    )
    assert encoder._lookup("c").found_codes(torch.tensor([0])) is None
