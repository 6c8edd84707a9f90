"""Missing values on a Dask cluster: fits equal the in-memory fits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import make_column_selector
from sklearn.pipeline import make_pipeline

from fireworks_sk import Impute, IndexEncoder, OneHot
from tests.dask.conftest import cut, from_pieces

dd = pytest.importorskip("dask.dataframe", reason="the 'dask' extra is not installed")
pytest.importorskip("distributed", reason="the 'dask' extra is not installed")

SIZES = [0, 1, 150, 0, 37, 112, 0, 100]


def gappy(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """A float, an int-valued float and a string column, a fifth of them missing."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(3.0, 2.0, rows),
            "i": rng.integers(0, 6, rows).astype(float),
            "s": rng.choice(["north", "south", "east"], rows).astype(object),
        }
    )
    return frame.mask(rng.random((rows, 3)) < 0.2)


@pytest.mark.parametrize("strategy", ["mean", "most_frequent", "constant"])
def test_impute_on_dask_partitions_equals_pandas(client, strategy):
    df = gappy()
    ddf = from_pieces(cut(df, SIZES))
    expected = Impute(strategy=strategy, add_indicator=True).fit(df)
    fitted = Impute(strategy=strategy, add_indicator=True).fit(ddf)
    assert fitted.columns_ == expected.columns_
    assert fitted.n_samples_seen_ == expected.n_samples_seen_
    for name, value in expected.statistics_.items():
        if isinstance(value, float):
            assert fitted.statistics_[name] == pytest.approx(value, rel=1e-12)
        else:
            assert fitted.statistics_[name] == value
    out = fitted.transform(ddf).compute()
    want = expected.transform(df).to_dataframe()
    assert list(out.columns) == list(want.columns)
    for name in want.columns:
        if pd.api.types.is_float_dtype(want[name]):
            np.testing.assert_allclose(out[name], want[name], rtol=1e-12)
        else:
            assert out[name].tolist() == want[name].tolist()


def test_pipeline_chosen_by_dtype_fitted_on_dask_serves_pandas(client):
    # Dask reads strings as string[pyarrow]; pandas gives str or object, and
    # neither draws a dtype warning.
    df = gappy()
    ddf = dd.from_pandas(df, npartitions=3)
    assert ddf["s"].dtype == "string[pyarrow]"
    pipeline = make_pipeline(
        Impute(make_column_selector(dtype_include="number")),
        Impute(make_column_selector(dtype_exclude="number"), strategy="most_frequent"),
        OneHot(make_column_selector(dtype_exclude="number")),
    )
    expected = clone(pipeline).fit(df)
    pipeline.fit(ddf)
    assert pipeline[0].columns_ == ["a", "i"]
    assert pipeline[2].columns_ == ["s"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for frame in (df, df.astype({"s": "str"})):
            got = np.asarray(pipeline.transform(frame))
            np.testing.assert_allclose(got, np.asarray(expected.transform(df)))


@pytest.mark.parametrize("encoder_class", [OneHot, IndexEncoder])
@pytest.mark.parametrize("strings", ["object", "string[pyarrow]"])
def test_missing_category_on_dask_partitions_equals_pandas(
    client, encoder_class, strings
):
    # Dask reads strings as string[pyarrow], whose missing value is pd.NA.
    df = gappy()
    ddf = from_pieces(cut(df.astype({"s": strings}), SIZES))
    expected = encoder_class(["s", "i"], missing="category").fit(df)
    fitted = encoder_class(["s", "i"], missing="category").fit(ddf)
    assert fitted.n_samples_seen_ == expected.n_samples_seen_
    for name, categories in expected.categories_.items():
        got = pd.Series(fitted.categories_[name], dtype=object)
        assert got.equals(pd.Series(categories, dtype=object)), name
    assert pd.isna(fitted.categories_["s"][-1])
    out = fitted.transform(ddf).compute()
    assert list(out.columns) == expected.get_feature_names_out().tolist()
    np.testing.assert_array_equal(out.to_numpy(), np.asarray(expected.transform(df)))
