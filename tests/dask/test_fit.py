"""Pipes fitted on a Dask DataFrame equal Pipes fitted in memory or on a stream."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from fireworks_sk import (
    BatchNormalizer,
    DropColumns,
    FunctionPipe,
    IndexEncoder,
    OneHot,
    SelectColumns,
    Stack,
    ToTensor,
    fit_stream,
)
from fireworks_sk.exceptions import SchemaError
from fireworks_sk.sources import DaskSource, DataFrameSource
from tests.dask.conftest import cut, frame, from_pieces

dd = pytest.importorskip("dask.dataframe", reason="the 'dask' extra is not installed")
pytest.importorskip("distributed", reason="the 'dask' extra is not installed")

RTOL = 1e-9
# Uneven partitions, three of them empty, one of a single row: 400 rows.
SIZES = [0, 1, 150, 0, 37, 112, 0, 100]
PIPES = [BatchNormalizer, OneHot, IndexEncoder]


def assert_same_fit(fitted, expected) -> None:
    """Equal fitted statistics: to RTOL for moments, exactly for vocabularies."""
    assert fitted.n_samples_seen_ == expected.n_samples_seen_
    assert fitted.columns_ == expected.columns_
    if isinstance(expected, BatchNormalizer):
        for attribute in ("mean_", "var_", "scale_"):
            for name, value in getattr(expected, attribute).items():
                got = getattr(fitted, attribute)[name]
                np.testing.assert_allclose(got, value, rtol=RTOL, err_msg=name)
        return
    for name, categories in expected.categories_.items():
        assert fitted.categories_[name].tolist() == categories.tolist()


@pytest.mark.parametrize("pipe_class", PIPES)
def test_fit_on_pandas_stream_and_dask_agree(client, pipe_class):
    df = frame()
    ddf = from_pieces(cut(df, SIZES))
    in_memory = pipe_class().fit(df)
    assert_same_fit(pipe_class().fit(ddf), in_memory)
    streamed = fit_stream(pipe_class(), DataFrameSource(df, 37), verbose=0)
    assert_same_fit(streamed, in_memory)
    from_dask_stream = fit_stream(pipe_class(), DaskSource(ddf), verbose=0)
    assert_same_fit(from_dask_stream, in_memory)


def test_large_offset_variance_is_exact(client):
    df = frame()
    fitted = BatchNormalizer(["big"]).fit(from_pieces(cut(df, SIZES)))
    expected = np.var(df["big"].to_numpy() - 1e8)
    np.testing.assert_allclose(float(fitted.var_["big"]), expected, rtol=RTOL)


def test_partial_fit_merges_a_dask_frame_into_earlier_batches(client):
    df = frame()
    pipe = BatchNormalizer().partial_fit(df.iloc[:100])
    pipe.partial_fit(from_pieces(cut(df.iloc[100:], [0, 200, 100])))
    assert_same_fit(pipe, BatchNormalizer().fit(df))


def test_more_partitions_than_files(client, tmp_path):
    df = frame(seed=1)
    for i, piece in enumerate(cut(df, [250, 30, 120])):
        piece.to_csv(tmp_path / f"part-{i}.csv", index=False)
    ddf = dd.read_csv(str(tmp_path / "*.csv"), blocksize=2_000)
    assert ddf.npartitions > 3
    on_disk = pd.concat([pd.read_csv(p) for p in sorted(tmp_path.glob("*.csv"))])
    for pipe_class in PIPES:
        assert_same_fit(pipe_class().fit(ddf), pipe_class().fit(on_disk))


def test_parquet_partitions_need_not_match_files(client, tmp_path):
    pytest.importorskip("pyarrow")
    df = frame(seed=2)
    for i, piece in enumerate(cut(df, [10, 90, 5, 200, 95])):
        piece.to_parquet(tmp_path / f"part-{i}.parquet", index=False)
    columns = ["big", "s"]
    ddf = dd.read_parquet(str(tmp_path), columns=columns).repartition(npartitions=3)
    for pipe_class in PIPES:
        assert_same_fit(pipe_class().fit(ddf), pipe_class().fit(df[columns]))


def test_a_dask_frame_of_only_empty_partitions_is_refused(client):
    ddf = from_pieces([frame().iloc[:0]] * 3)
    pipe = BatchNormalizer()
    with pytest.raises(ValueError, match="0 rows.*3 partitions are empty"):
        pipe.fit(ddf)
    assert not hasattr(pipe, "n_samples_seen_")


@pytest.mark.parametrize(
    "pipe",
    [OneHot(columns=["a"]), OneHot(columns=["a"], handle_unknown="ignore")],
    ids=["error", "ignore"],
)
def test_dask_fit_refuses_output_names_that_repeat_as_pandas_fit_does(client, pipe):
    # OneHot names the features of column a "a_x", "a_y": a_x is also a column.
    df = pd.DataFrame({"a": ["x", "y", "x"], "a_x": [1.0, 2.0, 3.0]})
    match = r"OneHot would output the feature name 'a_x' twice"
    with pytest.raises(SchemaError, match=match):
        clone(pipe).fit(df)
    fitted = clone(pipe)
    with pytest.raises(SchemaError, match=match):
        fitted.fit(dd.from_pandas(df, npartitions=2))
    assert not hasattr(fitted, "n_features_in_")  # left unfitted


@pytest.mark.parametrize("pipe", [BatchNormalizer(), SelectColumns()], ids=repr)
def test_dask_fit_refuses_a_frame_without_columns_as_pandas_fit_does(client, pipe):
    empty = frame()[[]]
    with pytest.raises(ValueError, match="got no columns"):
        clone(pipe).fit(empty)
    with pytest.raises(ValueError, match="got no columns"):
        clone(pipe).fit(dd.from_pandas(empty, npartitions=2))


def _pair(message):
    """Column t as a tensor of two features, named t_0 and t_1."""
    return message.assign(t=torch.stack([torch.as_tensor(message["t"])] * 2, 1))


def test_stateless_dask_fit_refuses_output_names_that_repeat(client):
    df = pd.DataFrame({"t": [1.0, 2.0], "t_0": [3.0, 4.0]})
    pipe = FunctionPipe(_pair)
    with pytest.raises(SchemaError, match="'t_0' twice"):
        clone(pipe).fit(df)
    with pytest.raises(SchemaError, match="'t_0' twice"):
        clone(pipe).fit(dd.from_pandas(df, npartitions=1))


def test_nan_in_a_partition_names_the_column(client):
    df = frame()
    df.loc[300, "a"] = np.nan
    with pytest.raises(ValueError, match="NaN in column 'a'"):
        BatchNormalizer().fit(from_pieces(cut(df, SIZES)))


def test_a_dask_series_is_refused_as_1d(client):
    ddf = dd.from_pandas(frame(), npartitions=2)
    with pytest.raises(ValueError, match=r"2-D input.*ddf\[\[name\]\]"):
        BatchNormalizer().fit(ddf["a"])


@pytest.mark.parametrize("pipe_class", PIPES)
def test_transform_is_lazy_with_correct_meta(client, pipe_class):
    df = frame()
    ddf = dd.from_pandas(df, npartitions=4)
    pipe = pipe_class().fit(ddf)
    out = pipe.transform(ddf)
    assert isinstance(out, dd.DataFrame)
    assert list(out.columns) == pipe.get_feature_names_out().tolist()
    assert out.divisions == ddf.divisions
    computed = out.compute()
    pd.testing.assert_series_equal(computed.dtypes, out.dtypes)
    pd.testing.assert_index_equal(computed.index, df.index)
    expected = pipe_class().fit(df).transform(df).to_dataframe()
    # Message.to_dataframe numbers flattened columns; get_feature_names_out
    # names OneHot's after the categories.
    if pipe_class is not OneHot:
        assert list(computed.columns) == list(expected.columns)
    for got, want in zip(computed.columns, expected.columns):
        if pd.api.types.is_numeric_dtype(expected[want]):
            np.testing.assert_allclose(computed[got], expected[want], rtol=1e-6)
        else:
            assert computed[got].tolist() == expected[want].tolist()


def _double_a(message):
    return message.assign(a2=message["a"] * 2)


@pytest.mark.parametrize(
    "pipe",
    [
        ToTensor(["a", "i"]),
        Stack(["a", "big"], into="ab"),
        SelectColumns(["a", "s"]),
        DropColumns(["s"]),
        FunctionPipe(_double_a),
    ],
    ids=lambda p: type(p).__name__,
)
def test_stateless_pipes_fit_on_the_meta_and_transform_lazily(client, pipe):
    df = frame()
    ddf = from_pieces(cut(df, SIZES))
    out = pipe.fit(ddf).transform(ddf).compute()
    expected = clone(pipe).fit(df)
    names = expected.get_feature_names_out().tolist()
    assert list(out.columns) == names
    want = expected.transform(df).to_dataframe().set_axis(names, axis=1)
    for name in names:
        if pd.api.types.is_numeric_dtype(want[name]):
            np.testing.assert_allclose(out[name], want[name], rtol=1e-6)
        else:
            assert out[name].tolist() == want[name].tolist()


def test_pipeline_of_pipes_fits_and_transforms_a_dask_frame(client):
    df = frame()
    ddf = from_pieces(cut(df, SIZES))

    def pipeline():
        return make_pipeline(OneHot(["s"]), BatchNormalizer(), Stack())

    fitted = pipeline().fit(ddf)
    expected = pipeline().fit(df)
    # On Dask the OneHot output arrives as one column per category, in memory
    # as one (n, 4) tensor column: the same statistics, laid out differently.
    for attribute in ("mean_", "var_"):
        flat = [
            np.concatenate(
                [np.atleast_1d(v) for v in getattr(p[1], attribute).values()]
            )
            for p in (fitted, expected)
        ]
        np.testing.assert_allclose(*flat, rtol=RTOL)
    out = fitted.transform(ddf).compute()
    np.testing.assert_allclose(
        out.to_numpy(), np.asarray(expected.transform(df)), rtol=1e-6, atol=1e-6
    )


def test_set_output_pandas_refuses_to_compute_a_dask_frame_into_memory(client):
    ddf = dd.from_pandas(frame(), npartitions=2)
    pipeline = make_pipeline(BatchNormalizer(), OneHot()).set_output(transform="pandas")
    with pytest.raises(TypeError, match="set_output.*'pandas'.*into memory"):
        pipeline.fit(ddf)
    with pytest.raises(TypeError, match="set_output"):
        pipeline.set_output(transform="default").fit(ddf)[0].set_output(
            transform="pandas"
        ).transform(ddf)


@pytest.mark.parametrize("pipe_class", PIPES)
def test_pipes_fitted_on_the_cluster_pickle_and_load(client, pipe_class, tmp_path):
    df = frame()
    ddf = from_pieces(cut(df, SIZES))
    pipe = pipe_class().fit(ddf)
    expected = pipe.transform(ddf).compute()
    unpickled = pickle.loads(pickle.dumps(pipe))
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    for loaded in (unpickled, joblib.load(tmp_path / "pipe.joblib")):
        assert_same_fit(loaded, pipe)
        pd.testing.assert_frame_equal(loaded.transform(ddf).compute(), expected)
