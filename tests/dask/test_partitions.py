"""Property: a Pipe fitted on a Dask DataFrame does not depend on the partitions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireworks_sk import BatchNormalizer, IndexEncoder, OneHot
from tests.dask.conftest import cut, frame, from_pieces

dask = pytest.importorskip("dask", reason="the 'dask' extra is not installed")
pytest.importorskip("dask.dataframe", reason="the 'dask' extra is not installed")


@st.composite
def splits(draw) -> tuple[int, list[int]]:
    """A number of rows and partition sizes summing to it, zeros included."""
    rows = draw(st.integers(1, 80))
    cuts = draw(st.lists(st.integers(0, rows), max_size=10))
    bounds = [0, *sorted(cuts), rows]
    return rows, [b - a for a, b in zip(bounds[:-1], bounds[1:])]


@settings(max_examples=40, deadline=None)
@given(split=splits(), seed=st.integers(0, 2**16))
def test_fit_does_not_depend_on_how_rows_are_split(split, seed):
    rows, sizes = split
    df = frame(rows, seed)
    ddf = from_pieces(cut(df, sizes))
    # The property is about partitions, not schedulers: run in this thread.
    with dask.config.set(scheduler="synchronous"):
        scaler = BatchNormalizer().fit(ddf)
        onehot = OneHot().fit(ddf)
        codes = IndexEncoder().fit(ddf)
    expected = BatchNormalizer().fit(df)
    assert scaler.n_samples_seen_ == rows
    for name, mean in expected.mean_.items():
        np.testing.assert_allclose(scaler.mean_[name], mean, rtol=1e-12)
        np.testing.assert_allclose(
            scaler.var_[name], expected.var_[name], rtol=1e-9, atol=1e-9
        )
    for fitted in (onehot, codes):
        expected = type(fitted)().fit(df)
        for name, categories in expected.categories_.items():
            assert fitted.categories_[name].tolist() == categories.tolist()
