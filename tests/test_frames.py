"""polars DataFrames and pyarrow Tables in Message, every Pipe and the estimators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from fireworks_sk import (
    BatchNormalizer,
    DropColumns,
    Impute,
    IndexEncoder,
    Junction,
    Message,
    OneHot,
    SelectColumns,
    Stack,
    TorchClassifier,
    ToTensor,
)
from tests._data import every_pipe

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

PIPES = every_pipe(
    {
        BatchNormalizer: BatchNormalizer(["a"]),
        OneHot: OneHot(["s"]),
        IndexEncoder: IndexEncoder(["s"]),
        ToTensor: ToTensor(["a", "n"]),
        Stack: Stack(["a", "n"]),
        SelectColumns: SelectColumns(["a", "s"]),
        DropColumns: DropColumns(["n"]),
        Impute: Impute(["a", "s"], strategy="most_frequent"),
        Junction: Junction(
            [("scale", BatchNormalizer(["a"])), ("codes", IndexEncoder(["s"]))]
        ),
    }
)


def pandas_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": [1.0, 2.0, 4.0, 8.0, 3.0, 5.0],
            "n": [1, 2, 3, 4, 5, 6],
            "s": ["x", "y", "x", "z", "y", "x"],
        }
    )


def as_polars(frame: pd.DataFrame):
    return pl.from_pandas(frame)


def as_arrow(frame: pd.DataFrame):
    return pa.Table.from_pandas(frame, preserve_index=False)


CONVERTERS = [as_polars, as_arrow]


@pytest.mark.parametrize("convert", CONVERTERS, ids=["polars", "pyarrow"])
def test_message_reads_the_frame_with_its_names_and_values(convert):
    frame = pandas_frame()
    message = Message(convert(frame))
    assert message.columns == ["a", "n", "s"]
    assert message.equals(Message(frame))


def test_polars_nulls_become_missing_values():
    frame = pl.DataFrame({"a": [1.0, None], "s": ["x", None], "i": [1, None]})
    message = Message(frame)
    assert np.isnan(message["a"][1]) and pd.isna(message["s"][1])
    assert pd.isna(message["i"][1])


@pytest.mark.parametrize("convert", CONVERTERS, ids=["polars", "pyarrow"])
@pytest.mark.parametrize("pipe", PIPES, ids=lambda p: type(p).__name__)
def test_every_pipe_keeps_the_column_names(pipe, convert):
    frame = pandas_frame()
    fitted = clone(pipe).fit(convert(frame))
    assert fitted.feature_names_in_.tolist() == ["a", "n", "s"]
    expected = clone(pipe).fit(frame)
    assert fitted.transform(convert(frame)).equals(expected.transform(frame))
    assert fitted.get_feature_names_out().tolist() == (
        expected.get_feature_names_out().tolist()
    )


@pytest.mark.parametrize("pipe", PIPES, ids=lambda p: type(p).__name__)
def test_set_output_polars_gives_a_polars_frame(pipe):
    frame = pandas_frame()
    fitted = clone(pipe).set_output(transform="polars").fit(as_polars(frame))
    out = fitted.transform(as_polars(frame))
    assert isinstance(out, pl.DataFrame)
    assert out.columns == fitted.get_feature_names_out().tolist()


def test_pipeline_with_a_scikit_learn_model_fits_and_predicts_on_polars():
    frame = pandas_frame()
    y = np.array([0, 1, 0, 1, 1, 0])
    pipeline = make_pipeline(
        OneHot(["s"]), BatchNormalizer(), Stack(), LogisticRegression()
    ).set_output(transform="polars")
    pipeline.fit(as_polars(frame), y)
    expected = clone(pipeline).set_output(transform="pandas").fit(frame, y)
    np.testing.assert_array_equal(
        pipeline.predict(as_polars(frame)), expected.predict(frame)
    )


@pytest.mark.parametrize("convert", CONVERTERS, ids=["polars", "pyarrow"])
def test_torch_estimator_reads_the_frame_by_name(convert):
    frame = pandas_frame().drop(columns="s")
    y = np.array([0, 1, 0, 1, 1, 0])

    def net():
        return TorchClassifier(
            inputs=["a", "n"], max_epochs=3, random_state=0, verbose=0
        )

    fitted = net().fit(convert(frame), y)
    assert fitted.feature_names_in_.tolist() == ["a", "n"]
    expected = net().fit(frame, y)
    np.testing.assert_array_equal(
        fitted.predict_proba(convert(frame)), expected.predict_proba(frame)
    )


def test_message_of_something_else_lists_what_it_takes():
    with pytest.raises(TypeError, match=r"pandas or polars\), a pyarrow Table"):
        Message([1, 2, 3])


def test_a_lazy_frame_is_refused_with_the_fix():
    lazy = as_polars(pandas_frame()).lazy()
    with pytest.raises(TypeError, match=r"lazy polars LazyFrame.*\.collect\(\)"):
        Message(lazy)
    with pytest.raises(TypeError, match=r"lazy polars LazyFrame"):
        BatchNormalizer().fit(lazy)
