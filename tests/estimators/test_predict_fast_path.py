"""A named net's predict on a DataFrame of its fitted numeric columns takes a
fast path (one conversion of the whole frame); it must give exactly what the
general path (the Schema check and one conversion per column) gives, values
and errors alike."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireworks_sk import Message, TorchRegressor

_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -1.5, 3.4e38, 3.5e38, 1e300, np.nan]),
)


def _frame(f64, f32, i64, flags, nullable):
    return pd.DataFrame(
        {
            "f64": pd.Series(f64, dtype="float64"),
            "f32": pd.Series(np.asarray(f32, dtype=np.float64), dtype="float64").astype(
                "float32"
            ),
            "i64": pd.Series(i64, dtype="int64"),
            "flag": pd.Series(flags, dtype="bool"),
            "n": pd.Series(nullable, dtype="Int64"),
        }
    )


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(0)
    n = 40
    frame = _frame(
        rng.normal(size=n),
        rng.normal(size=n),
        rng.integers(-5, 5, size=n),
        rng.random(n) > 0.5,
        rng.integers(0, 3, size=n),
    )
    y = rng.normal(size=n).astype(np.float32)
    return TorchRegressor(max_epochs=1, random_state=0, verbose=0).fit(frame, y)


def _outcome(run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = ("value", run().tobytes())
        except (ValueError, TypeError) as exc:
            result = (type(exc).__name__, str(exc))
    return result, sorted(str(w.message) for w in caught)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            st.lists(_VALUES, min_size=n, max_size=n),
            st.lists(st.floats(allow_nan=True, width=32), min_size=n, max_size=n),
            st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n),
            st.lists(st.booleans(), min_size=n, max_size=n),
            st.lists(st.one_of(st.none(), st.integers(-9, 9)), min_size=n, max_size=n),
        )
    )
)
def test_frame_fast_path_equals_the_general_path(net, rows):
    frame = _frame(*rows)
    fast = _outcome(lambda: net.predict(frame))
    general = _outcome(lambda: net.predict(Message(frame)))
    assert fast == general


def test_the_fast_path_is_taken_for_finite_fitted_columns(net):
    from fireworks_sk.estimators._predict import _frame_matrix

    frame = _frame([1.0], [2.0], [3], [True], [4])
    assert _frame_matrix(net, frame) is not None
    assert _frame_matrix(net, frame.astype({"i64": "float64"})) is None  # dtype
    assert _frame_matrix(net, _frame([np.nan], [2.0], [3], [True], [4])) is None
